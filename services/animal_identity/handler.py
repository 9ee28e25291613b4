"""Transport-free identity logic: tenants' collections, enrolment, 1:N identify, 1:1 verify.

Every operation names its tenant; the gallery looks collections up by (tenant, name) only, so
one tenant can neither see nor touch another's collections, even by guessing names.
"""
from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from services.animal_identity.embedding import ANIMAL, Embedder, Embeddings, Payload
from services.animal_identity.gallery import Collection, Gallery
from services.animal_identity.rerank import ImageHit, rank_subjects
from services.animal_identity.settings import AnimalIdentitySettings
from services.runtime.errors import InvalidInput, ModelNotInstalled

COLLECTION_NAME = re.compile(r"[A-Za-z0-9._-]{1,128}")
MAX_SUBJECT_LENGTH = 256
MAX_TENANT_LENGTH = 128
DEFAULT_TOP_K = 5
DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 100, 1000


@dataclass(frozen=True)
class CollectionInfo:
    name: str
    kind: str
    model: str
    version: str
    dimension: int
    threshold: float
    revision: int
    target_far: float  # the FAR ``threshold`` is calibrated for; 0: not calibrated by FAR


@dataclass(frozen=True)
class Match:
    subject: str
    distance: float
    score: float
    same_subject: bool
    inliers: int = 0  # ANIMAL: local-feature inliers with the subject's best-matching image


@dataclass(frozen=True)
class EnrollResult:
    enrolled: int
    subject_embeddings: int
    model: str
    version: str


@dataclass(frozen=True)
class IdentifyResult:
    matches: list[Match]
    threshold: float
    model: str
    version: str


@dataclass(frozen=True)
class VerifyResult:
    match: Match  # exact distance to the subject's nearest embedding
    threshold: float
    model: str
    version: str


@dataclass(frozen=True)
class SubjectPage:
    subjects: list[tuple[str, int]]  # (subject, embeddings), in subject order
    next_page_token: str
    collection: CollectionInfo


class IdentityHandler:
    def __init__(self, settings: AnimalIdentitySettings, embedder: Embedder, gallery: Gallery):
        self._settings = settings
        self._embedder = embedder
        self._gallery = gallery

    async def create_collection(self, tenant: str, name: str, kind: str,
                                target_far: float = 0.0) -> CollectionInfo:
        """A new collection; ``target_far`` > 0 asks for that operating point (0: default)."""
        _check_name(name)
        if kind not in self._embedder.kinds:
            raise InvalidInput(f"collection kind must be one of {sorted(self._embedder.kinds)}")
        asked = _target_far(target_far)
        if asked is not None:
            self._embedder.operating_point(kind, asked)  # refused before anything is created
        model, version, dimension = self._embedder.model_of(kind)
        collection = await self._gallery.create_collection(
            _tenant(tenant), name, kind, model, version, dimension,
            local_features=kind == ANIMAL, target_far=asked)
        return self._info(collection)

    async def collection(self, tenant: str, name: str) -> CollectionInfo:
        return self._info(await self._lookup(tenant, name))

    async def _lookup(self, tenant: str, name: str) -> Collection:
        _check_name(name)  # a name no collection can have (NUL, spaces) is the caller's mistake
        return await self._gallery.collection(_tenant(tenant), name)

    async def delete_collection(self, tenant: str, name: str) -> CollectionInfo:
        _check_name(name)
        return self._info(await self._gallery.delete_collection(_tenant(tenant), name))

    async def list_collections(self, tenant: str) -> list[CollectionInfo]:
        return [self._info(c) for c in await self._gallery.collections(_tenant(tenant))]

    def check_enroll_count(self, images: int) -> None:
        """Refuse too many images in one Enroll; the servicer asks before converting any."""
        if images > self._settings.max_images_per_enroll:
            raise InvalidInput(f"{images} images in one call; the limit is "
                               f"{self._settings.max_images_per_enroll}: enrol in several calls")

    async def enroll(self, tenant: str, name: str, subject: str, payload: Payload,
                     deadline: float | None = None) -> EnrollResult:
        _check_subject(subject)
        self.check_enroll_count(len(payload))
        collection = await self._lookup(tenant, name)
        embeddings = await self._embed(collection, payload, deadline)
        total = await self._gallery.enroll(collection, subject, embeddings.vectors,
                                           embeddings.local)
        return EnrollResult(len(embeddings.vectors), total, embeddings.model, embeddings.version)

    async def identify(self, tenant: str, name: str, payload: Payload, top_k: int = 0,
                       deadline: float | None = None) -> IdentifyResult:
        top_k = top_k or DEFAULT_TOP_K
        if not 1 <= top_k <= self._settings.max_top_k:
            raise InvalidInput(f"top_k must be between 1 and {self._settings.max_top_k} "
                               f"(0 = {DEFAULT_TOP_K})")
        collection = await self._lookup(tenant, name)
        embeddings = await self._embed(collection, _single(payload), deadline)
        threshold = self._threshold(collection)
        if collection.kind == ANIMAL:
            matches = await self._identify_animal(collection, embeddings, top_k)
        else:
            found = await self._gallery.nearest(collection, embeddings.vectors[0], top_k)
            matches = [self._match(collection, n.subject, n.distance, threshold) for n in found]
        return IdentifyResult(matches, threshold, embeddings.model, embeddings.version)

    async def _identify_animal(self, collection: Collection, embeddings: Embeddings,
                               top_k: int) -> list[Match]:
        """ANN shortlist, re-ranked by local features, scored by the fused probability."""
        # several images per wanted subject, so subjects with many images crowd none out
        candidates = max(4 * top_k, 40)
        found = await self._gallery.nearest_images(collection, embeddings.vectors[0], candidates)
        hits = [ImageHit(n.subject, n.distance, n.local) for n in found]
        query = embeddings.local[0] if self._settings.animal_rerank else None
        fusion = self._embedder.fusion(ANIMAL)
        ranked = rank_subjects(query, hits, fusion, top_k)
        return [Match(r.subject, r.distance, r.probability, fusion.same(r.probability), r.inliers)
                for r in ranked]

    async def verify(self, tenant: str, name: str, subject: str, payload: Payload,
                     deadline: float | None = None) -> VerifyResult:
        _check_subject(subject)
        collection = await self._lookup(tenant, name)
        embeddings = await self._embed(collection, _single(payload), deadline)
        distance = await self._gallery.distance_to(collection, subject, embeddings.vectors[0])
        threshold = self._threshold(collection)
        match = self._match(collection, subject, distance, threshold)
        if collection.kind == ANIMAL:  # the fused probability without local features
            fusion = self._embedder.fusion(ANIMAL)
            p = fusion.probability(distance, 0)
            match = Match(subject, distance, p, fusion.same(p))
        return VerifyResult(match, threshold, embeddings.model, embeddings.version)

    async def delete_subject(self, tenant: str, name: str,
                             subject: str) -> tuple[int, CollectionInfo]:
        """Embeddings deleted, and the collection they were deleted from."""
        _check_subject(subject)
        collection = await self._lookup(tenant, name)
        return await self._gallery.delete_subject(collection, subject), self._info(collection)

    async def list_subjects(self, tenant: str, name: str, page_size: int = 0,
                            page_token: str = "") -> SubjectPage:
        page_size = page_size or DEFAULT_PAGE_SIZE
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise InvalidInput(f"page_size must be between 1 and {MAX_PAGE_SIZE} "
                               f"(0 = {DEFAULT_PAGE_SIZE})")
        collection = await self._lookup(tenant, name)
        # one row more than asked tells whether another page follows
        rows = await self._gallery.subjects(collection, page_size + 1, _decode_token(page_token))
        page = rows[:page_size]
        token = _encode_token(page[-1][0]) if len(rows) > page_size else ""
        return SubjectPage(page, token, self._info(collection))

    async def _embed(self, collection: Collection, payload: Payload,
                     deadline: float | None) -> Embeddings:
        embeddings = await self._embedder.embed(collection.kind, payload, deadline)
        if (embeddings.model, embeddings.version) != (collection.model, collection.model_version):
            raise ModelNotInstalled(
                f"collection {collection.name!r} holds embeddings of {collection.model} version "
                f"{collection.model_version}, but this server runs {embeddings.model} version "
                f"{embeddings.version}: serve that version, or enrol into a new collection"
            )
        return embeddings

    def _threshold(self, collection: Collection) -> float:
        return self._embedder.operating_point(collection.kind, collection.target_far)[0]

    def _match(self, collection: Collection, subject: str, distance: float,
               threshold: float) -> Match:
        score = self._embedder.score(collection.kind, distance, threshold)
        return Match(subject, distance, score, distance < threshold)

    def _info(self, c: Collection) -> CollectionInfo:
        threshold, far = self._embedder.operating_point(c.kind, c.target_far)
        return CollectionInfo(c.name, c.kind, c.model, c.model_version, c.dimension,
                              threshold, c.revision, far)


def _target_far(value: float) -> float | None:
    """The operating point a CreateCollection asked for; None for the default (0)."""
    if value == 0:
        return None
    if not 0 < value < 1:  # NaN fails this too
        raise InvalidInput(f"target_far must be a false-accept rate in (0, 1), or 0 for the "
                           f"model's default; got {value:g}")
    return value


def _single(payload: Payload) -> Payload:
    if len(payload) > 1:
        raise InvalidInput("send exactly one image (or one face crop) to compare")
    return payload


def _tenant(tenant: str) -> str:
    if not tenant or len(tenant) > MAX_TENANT_LENGTH or not tenant.isprintable():
        raise InvalidInput(f"x-tenant-id must be 1-{MAX_TENANT_LENGTH} printable characters")
    return tenant


def _check_name(name: str) -> None:
    if not COLLECTION_NAME.fullmatch(name):
        raise InvalidInput(f"collection name {name!r} must be 1-128 letters, digits, "
                           "'.', '_' or '-'")


def _check_subject(subject: str) -> None:
    # PostgreSQL text cannot hold NUL, and control characters in an id are always a mistake
    if not subject or len(subject) > MAX_SUBJECT_LENGTH or not subject.isprintable():
        raise InvalidInput(f"subject must be 1-{MAX_SUBJECT_LENGTH} printable characters "
                           f"(no NUL or other control characters), got {subject!r}")


def _encode_token(subject: str) -> str:
    return base64.urlsafe_b64encode(subject.encode()).decode()


def _decode_token(token: str) -> str:
    try:
        subject = base64.b64decode(token.encode(), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidInput("page_token is not one this service issued; "
                           "start from an empty token") from exc
    if not subject.isprintable():
        raise InvalidInput("page_token is not one this service issued; start from an empty token")
    return subject
