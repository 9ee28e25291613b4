"""Identity galleries behind the gateway: every AnimalIdentity RPC, for the caller's tenant.

Collection and subject RPCs go through unchanged. Enroll, Identify and Verify take plain
encoded images for every kind: for FACE collections the gateway detects the faces (aligned
crops framed exactly as the Analyze task "identify" frames them, so the gallery holds what
that task searches with), takes each image's largest face, measures its quality
(gateway/face_quality.py) and sends the aligned crop; Enroll refuses a face out of bounds,
Identify and Verify answer and report the probe's quality. Other kinds get the image as is.

The identity service's errors reach the caller with its own code and message.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass

from google.protobuf.message import Message

from gateway import face_quality
from gateway.clients import BackendError, Backends, Deadline, Metadata
from gateway.tasks import FACE_CROP_SIDE
from services.runtime.alignment import SHARED_CROP_MARGIN
from services.runtime.errors import InvalidInput, TooLarge, XCloudError
from xcloud.v1 import animal_identity_pb2 as pb
from xcloud.v1 import common_pb2, face_detection_pb2, gateway_pb2

IDENTITY, DETECTION = "animal_identity", "face_detection"
DETECT = "/xcloud.v1.FaceDetection/Detect"
# RPCs that need nothing of the gateway but the tenant: request type -> response type.
FORWARDED = {
    "CreateCollection": pb.CreateCollectionResponse,
    "GetCollection": pb.GetCollectionResponse,
    "ListCollections": pb.ListCollectionsResponse,
    "DeleteCollection": pb.DeleteCollectionResponse,
    "ListSubjects": pb.ListSubjectsResponse,
    "DeleteSubject": pb.DeleteSubjectResponse,
}
NO_CROPS = ("{field} is not taken by the gateway: send the encoded photo in `{image}`; the "
            "gateway finds and aligns the face itself (and checks its quality)")


@dataclass(frozen=True)
class Probe:
    """One face ready for the identity service: its aligned crop and its quality."""

    crop: common_pb2.RawImage
    quality: gateway_pb2.FaceQuality


class Gallery:
    def __init__(self, backends: Backends, max_image_bytes: int,
                 bounds: face_quality.Bounds = face_quality.BOUNDS):
        self._backends = backends
        self._max_image_bytes = max_image_bytes
        self._bounds = bounds

    async def forward(self, method: str, request: Message, deadline: Deadline,
                      metadata: Metadata) -> Message:
        return await self._identity(method, request, FORWARDED[method], deadline, metadata)

    async def enroll(self, request: pb.EnrollRequest, deadline: Deadline,
                     metadata: Metadata) -> gateway_pb2.GalleryEnrollResponse:
        if request.faces:
            raise InvalidInput(NO_CROPS.format(field="faces", image="images"))
        if not request.images:
            raise InvalidInput("images is empty: send at least one photo of the subject")
        for number, image in enumerate(request.images, 1):
            self._check_image(image, f"images[{number - 1}]")
        if await self._kind(request.collection, deadline, metadata) != pb.COLLECTION_KIND_FACE:
            enrolled = await self._identity("Enroll", request, pb.EnrollResponse, deadline,
                                            metadata)
            return gateway_pb2.GalleryEnrollResponse(enrollment=enrolled)
        probes = await asyncio.gather(*(self._probe(image, deadline, metadata, f"images[{i}]")
                                        for i, image in enumerate(request.images)))
        refused = [f"images[{i}]: {p.quality.reason}" for i, p in enumerate(probes)
                   if not p.quality.reliable]
        if refused:
            raise InvalidInput("; ".join(refused))
        forwarded = pb.EnrollRequest(collection=request.collection, subject=request.subject,
                                     faces=[p.crop for p in probes])
        enrolled = await self._identity("Enroll", forwarded, pb.EnrollResponse, deadline, metadata)
        return gateway_pb2.GalleryEnrollResponse(enrollment=enrolled,
                                                 qualities=[p.quality for p in probes])

    async def identify(self, request: pb.IdentifyRequest, deadline: Deadline,
                       metadata: Metadata) -> gateway_pb2.GalleryIdentifyResponse:
        forwarded, quality = await self._with_face(request, deadline, metadata)
        found = await self._identity("Identify", forwarded, pb.IdentifyResponse, deadline, metadata)
        return gateway_pb2.GalleryIdentifyResponse(identity=found, quality=quality)

    async def verify(self, request: pb.VerifyRequest, deadline: Deadline,
                     metadata: Metadata) -> gateway_pb2.GalleryVerifyResponse:
        forwarded, quality = await self._with_face(request, deadline, metadata)
        found = await self._identity("Verify", forwarded, pb.VerifyResponse, deadline, metadata)
        return gateway_pb2.GalleryVerifyResponse(verification=found, quality=quality)

    async def _with_face(self, request: pb.IdentifyRequest | pb.VerifyRequest, deadline: Deadline,
                         metadata: Metadata) -> tuple[Message, gateway_pb2.FaceQuality | None]:
        """The request as the identity service takes it: for FACE collections the image
        replaced by its largest face's crop, with that face's quality."""
        if request.HasField("face"):
            raise InvalidInput(NO_CROPS.format(field="face", image="image"))
        self._check_image(request.image, "image")
        if await self._kind(request.collection, deadline, metadata) != pb.COLLECTION_KIND_FACE:
            return request, None
        probe = await self._probe(request.image, deadline, metadata, "image")
        forwarded = type(request)()
        forwarded.CopyFrom(request)
        forwarded.ClearField("image")
        forwarded.face.CopyFrom(probe.crop)
        return forwarded, probe.quality

    async def _probe(self, image: common_pb2.Image, deadline: Deadline, metadata: Metadata,
                     where: str) -> Probe:
        options = face_detection_pb2.DetectOptions(aligned_size=FACE_CROP_SIDE,
                                                   aligned_margin=SHARED_CROP_MARGIN)
        request = face_detection_pb2.DetectRequest(image=image, options=options)
        found = await self._call(DETECTION, DETECT, request, face_detection_pb2.DetectResponse,
                                 deadline, metadata)
        if not found.faces:
            raise InvalidInput(f"{where}: no face found; use a photo in which the face is "
                               "clearly visible")
        face = max(found.faces, key=lambda f: _area(f.box))
        crop = face.aligned
        if len(crop.rgb) != crop.width * crop.height * 3 or crop.width == 0:
            raise XCloudError("face detection returned no usable aligned crop")
        measures = face_quality.measure(face_quality.landmark_array(face.landmarks),
                                        face_quality.crop_pixels(crop), SHARED_CROP_MARGIN)
        return Probe(crop, face_quality.to_proto(measures, self._bounds))

    async def _kind(self, collection: str, deadline: Deadline, metadata: Metadata) -> int:
        # Asked on every call: a collection may be deleted and re-created with another kind.
        request = pb.GetCollectionRequest(name=collection)
        found = await self._identity("GetCollection", request, pb.GetCollectionResponse,
                                     deadline, metadata)
        return found.collection.kind

    def _check_image(self, image: common_pb2.Image, where: str) -> None:
        size = len(image.content)
        if size == 0:
            raise InvalidInput(f"{where}.content is empty")
        if size > self._max_image_bytes:
            raise TooLarge(f"{where} is {size} bytes; at most {self._max_image_bytes}")

    async def _identity(self, method: str, request: Message, response_type: type[Message],
                        deadline: Deadline, metadata: Metadata) -> Message:
        return await self._call(IDENTITY, f"/xcloud.v1.AnimalIdentity/{method}", request,
                                response_type, deadline, metadata)

    async def _call(self, backend: str, method: str, request: Message,
                    response_type: type[Message], deadline: Deadline,
                    metadata: Metadata) -> Message:
        try:
            client = self._backends.require(backend)
            return await client.call(method, request, response_type, deadline, metadata)
        except BackendError as exc:
            # The backend's own code and message, as if the caller had asked it directly.
            raise XCloudError(exc.details, exc.code) from None


def _area(box: common_pb2.BoundingBox) -> float:
    return (box.x_max - box.x_min) * (box.y_max - box.y_min)
