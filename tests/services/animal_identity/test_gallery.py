"""The gallery storage layer alone, on a real PostgreSQL + pgvector: no models involved."""
from __future__ import annotations

import asyncio
import itertools

import numpy as np
import pytest

from services.animal_identity.gallery import AlreadyExists, Gallery, IndexParams, NotFound

DIMENSION = 16
_names = itertools.count()


@pytest.fixture(scope="module")
async def gallery(gallery_database):
    store = Gallery(IndexParams(ef_search=64), pool_size=8)
    await store.open(gallery_database.url)
    yield store
    await store.close()


def unit(rng: np.random.Generator, n: int, dimension: int = DIMENSION) -> np.ndarray:
    vectors = rng.standard_normal((n, dimension)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


async def new_collection(gallery: Gallery, tenant: str = "t1", dimension: int = DIMENSION):
    name = f"c{next(_names)}"
    return await gallery.create_collection(tenant, name, "generic", "m", "1", dimension)


async def test_collections_are_created_listed_and_deleted_per_tenant(gallery):
    mine = await new_collection(gallery, tenant="alpha")
    same_name = await gallery.create_collection("beta", mine.name, "face", "m", "1", 8)
    assert same_name.id != mine.id  # another tenant's namespace
    with pytest.raises(AlreadyExists):
        await gallery.create_collection("alpha", mine.name, "generic", "m", "1", DIMENSION)
    assert [c.name for c in await gallery.collections("alpha")] == [mine.name]
    await gallery.delete_collection("alpha", mine.name)
    with pytest.raises(NotFound):
        await gallery.collection("alpha", mine.name)
    assert (await gallery.collection("beta", mine.name)).dimension == 8


async def test_enrol_then_identify_verify_page_and_delete(gallery):
    rng = np.random.default_rng(1)
    collection = await new_collection(gallery)
    vectors = unit(rng, 30)
    for i in range(10):
        assert await gallery.enroll(collection, f"subject{i:02d}", vectors[3 * i:3 * i + 3]) == 3
    found = await gallery.nearest(collection, vectors[7], top_k=3)
    assert found[0].subject == "subject02" and found[0].distance == pytest.approx(0.0, abs=1e-5)
    assert len({n.subject for n in found}) == 3  # one entry per subject, not per vector
    distance = await gallery.distance_to(collection, "subject05", vectors[15])
    assert distance == pytest.approx(0.0, abs=1e-5)
    first = await gallery.subjects(collection, 4)
    rest = await gallery.subjects(collection, 100, after=first[-1][0])
    assert [s for s, _ in first + rest] == [f"subject{i:02d}" for i in range(10)]
    assert {n for _, n in first + rest} == {3}
    assert await gallery.delete_subject(collection, "subject02") == 3
    with pytest.raises(NotFound):
        await gallery.distance_to(collection, "subject02", vectors[7])
    assert (await gallery.nearest(collection, vectors[7], top_k=1))[0].subject != "subject02"


async def test_concurrent_enrolments_lose_nothing(gallery):
    rng = np.random.default_rng(2)
    collection = await new_collection(gallery)
    vectors = unit(rng, 100)
    await asyncio.gather(*(gallery.enroll(collection, f"s{i % 50:02d}", vectors[i:i + 1])
                           for i in range(100)))
    subjects = await gallery.subjects(collection, 1000)
    assert len(subjects) == 50 and all(n == 2 for _, n in subjects)


async def test_bulk_load_builds_an_index_that_finds_the_exact_nearest(gallery):
    rng = np.random.default_rng(3)
    collection = await new_collection(gallery)
    stored = unit(rng, 3000)
    await gallery.bulk_load(collection, [f"s{i}" for i in range(len(stored))], stored)
    queries = stored[:50] + 0.05 * unit(rng, 50)
    for i, query in enumerate(queries):
        exact = int(np.argmin(np.linalg.norm(stored - query, axis=1)))
        assert exact == i
        assert (await gallery.nearest(collection, query, top_k=1))[0].subject == f"s{i}"


async def test_a_collection_deleted_while_in_use_reads_as_not_found(gallery):
    collection = await new_collection(gallery)
    await gallery.delete_collection(collection.tenant, collection.name)
    with pytest.raises(NotFound):
        await gallery.enroll(collection, "late", np.ones((1, DIMENSION), np.float32))


async def test_vectors_of_the_wrong_dimension_are_refused(gallery):
    collection = await new_collection(gallery)
    with pytest.raises(ValueError):
        await gallery.enroll(collection, "x", np.ones((1, DIMENSION + 1), np.float32))
