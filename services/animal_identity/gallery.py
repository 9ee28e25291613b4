"""The enrolment gallery: tenants' collections of subjects' embeddings in PostgreSQL + pgvector.

It knows vectors, subjects and distances, nothing of images or models, so it is tested and
benchmarked on its own. The same SQL runs on the embedded server (``embedded.py``) and on any
production PostgreSQL with pgvector; every statement runs on a pooled connection in autocommit
or in one explicit transaction, so an acknowledged write is committed (WAL, fsync) before the
caller hears about it.

Layout: one catalogue table, and one vectors table per collection with its own HNSW index.
pgvector 0.6 filters HNSW results after the graph search, so a shared table filtered by
collection would return fewer than k rows for a small collection; a table per collection keeps
each index exact to its collection and lets collections differ in dimension.
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import grpc
import numpy as np
import psycopg
from pgvector.psycopg import register_vector_async
from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from services.animal_identity import local_store
from services.animal_identity.keypoints import LocalFeatures
from services.animal_identity.schema import (
    BUMP_REVISION,
    COLLECTION_COLUMNS,
    MAX_DIMENSION,
    SCHEMA,
    SCHEMA_LOCK,
)
from services.runtime.errors import DeadlineExpired, NotReady, XCloudError
from services.runtime.interceptors import current_deadline

RECONNECT_TIMEOUT_S = 2.0


class NotFound(XCloudError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(XCloudError):
    code = grpc.StatusCode.ALREADY_EXISTS


class DatabaseUnavailable(NotReady):
    """The database cannot be reached (restarting, network): UNAVAILABLE, so callers retry.

    A write whose connection broke mid-statement may or may not have committed; a retried
    Enroll then adds the same embedding twice, which identifies the same subject.
    """


@dataclass(frozen=True)
class Collection:
    id: int
    tenant: str
    name: str
    kind: str
    model: str
    model_version: str
    dimension: int
    revision: int
    target_far: float | None  # the operating point asked for at creation; None: default

    @property
    def table(self) -> sql.Identifier:
        return sql.Identifier(f"gallery_vectors_{self.id}")

    @property
    def index(self) -> sql.Identifier:
        return sql.Identifier(f"gallery_vectors_{self.id}_hnsw")


@dataclass(frozen=True)
class IndexParams:
    """HNSW parameters (pgvector): graph degree, build beam, query beam."""

    m: int = 16
    ef_construction: int = 128
    ef_search: int = 384
    build_memory: str = "1GB"  # maintenance_work_mem for bulk builds: the graph must fit


@dataclass(frozen=True)
class Neighbour:
    subject: str
    distance: float  # Euclidean (L2) distance to the subject's nearest enrolled embedding


@dataclass(frozen=True)
class ImageNeighbour:
    subject: str
    distance: float  # to this enrolled image's embedding
    local: LocalFeatures | None  # its keypoints (collections with local features)


class Gallery:
    def __init__(self, index: IndexParams = IndexParams(), pool_size: int = 8,
                 wait_s: float = 10.0):
        self._index = index
        self._pool_size = pool_size
        self._wait_s = wait_s  # longest wait for a pooled connection, caller's deadline aside
        self._pool: AsyncConnectionPool | None = None

    async def _configure(self, conn: psycopg.AsyncConnection) -> None:
        await register_vector_async(conn)
        await conn.execute(sql.SQL("SET hnsw.ef_search = {}").format(self._index.ef_search))

    async def open(self, url: str) -> None:
        """Create the schema if missing (idempotent), then open a connection pool to ``url``."""
        async with await psycopg.AsyncConnection.connect(url) as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            await conn.execute(SCHEMA)
        self._pool = AsyncConnectionPool(
            url, min_size=1, max_size=self._pool_size, open=False,
            kwargs={"autocommit": True}, configure=self._configure,
            # Each connection is tested as it is lent: after a database restart the dead ones
            # are replaced, so the first call after recovery succeeds instead of failing.
            check=AsyncConnectionPool.check_connection,
            # The pool retries a lost connection with exponential backoff (1, 2, 4 s, ...) for
            # reconnect_timeout, then gives up until the next call asks for one and retries at
            # once. Short: after a long outage, the first call once the database is back
            # connects then, instead of waiting out a long backoff.
            reconnect_timeout=RECONNECT_TIMEOUT_S,
        )
        await self._pool.open(wait=True)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[psycopg.AsyncConnection]:
        if self._pool is None:
            raise NotReady("the gallery database is not open yet")
        try:
            async with self._pool.connection(timeout=self._wait_time()) as conn:
                yield conn
        except psycopg.OperationalError as exc:  # PoolTimeout included: no connection in time
            raise DatabaseUnavailable(f"the gallery database is unavailable "
                                      f"({type(exc).__name__}); retry shortly") from exc

    def _wait_time(self) -> float:
        """How long to wait for a connection: ``wait_s``, less if the caller's deadline is
        nearer."""
        deadline = current_deadline()
        if deadline is None:
            return self._wait_s
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            raise DeadlineExpired("the call's deadline passed before the database was reached")
        return min(self._wait_s, remaining * 0.9)

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[psycopg.AsyncConnection]:
        async with self._connection() as conn, conn.transaction():
            yield conn

    async def create_collection(self, tenant: str, name: str, kind: str, model: str,
                                model_version: str, dimension: int,
                                local_features: bool = False,
                                target_far: float | None = None) -> Collection:
        """Catalogue row, vectors table, its indexes (+ keypoints table), in one transaction."""
        if not 1 <= dimension <= MAX_DIMENSION:
            raise ValueError(f"dimension {dimension} outside 1..{MAX_DIMENSION}")
        try:
            async with self._transaction() as conn:
                row = await _fetchone(
                    conn, f"INSERT INTO gallery_collections (tenant, name, kind, model, "
                    f"model_version, dimension, target_far) VALUES (%s, %s, %s, %s, %s, %s, %s) "
                    f"RETURNING {COLLECTION_COLUMNS}",
                    (tenant, name, kind, model, model_version, dimension, target_far))
                collection = Collection(*row)
                await conn.execute(sql.SQL(
                    "CREATE TABLE {t} (id bigserial PRIMARY KEY, subject text NOT NULL, "
                    "embedding vector({d}) NOT NULL)").format(t=collection.table, d=dimension))
                await conn.execute(sql.SQL("CREATE INDEX ON {t} (subject)").format(
                    t=collection.table))
                await conn.execute(self._hnsw_index(collection))
                if local_features:
                    await conn.execute(local_store.create(collection.table, collection.id))
        except psycopg.errors.UniqueViolation as exc:
            raise AlreadyExists(f"collection {name!r} already exists") from exc
        return collection

    def _hnsw_index(self, collection: Collection) -> sql.Composed:
        return sql.SQL(
            "CREATE INDEX {i} ON {t} USING hnsw (embedding vector_l2_ops) "
            "WITH (m = {m}, ef_construction = {ef})"
        ).format(i=collection.index, t=collection.table, m=self._index.m,
                 ef=self._index.ef_construction)

    async def collection(self, tenant: str, name: str) -> Collection:
        async with self._connection() as conn:
            row = await _fetchone(conn, f"SELECT {COLLECTION_COLUMNS} FROM gallery_collections "
                                  "WHERE tenant = %s AND name = %s", (tenant, name))
        if row is None:
            raise NotFound(f"collection {name!r} does not exist; create it with CreateCollection")
        return Collection(*row)

    async def collections(self, tenant: str) -> list[Collection]:
        async with self._connection() as conn:
            cursor = await conn.execute(f"SELECT {COLLECTION_COLUMNS} FROM gallery_collections "
                                        "WHERE tenant = %s ORDER BY name", (tenant,))
            return [Collection(*row) for row in await cursor.fetchall()]

    async def delete_collection(self, tenant: str, name: str) -> Collection:
        """Remove the collection and every embedding in it; returns what it was."""
        async with self._transaction() as conn:
            row = await _fetchone(conn, f"DELETE FROM gallery_collections WHERE tenant = %s "
                                  f"AND name = %s RETURNING {COLLECTION_COLUMNS}", (tenant, name))
            if row is None:
                raise NotFound(f"collection {name!r} does not exist")
            await conn.execute(local_store.drop(row[0]))  # it references the vectors table
            await conn.execute(sql.SQL("DROP TABLE {t}").format(t=Collection(*row).table))
        return Collection(*row)

    async def enroll(self, collection: Collection, subject: str, vectors: np.ndarray,
                     local: Sequence[LocalFeatures] = ()) -> int:
        """Add the vectors (and their images' keypoints) in one transaction; returns the count."""
        _check_vectors(collection, vectors)
        rows = [(subject, v) for v in vectors.astype(np.float32)]
        async with _existing(collection), self._transaction() as conn:
            if local:
                await local_store.insert_with_vectors(conn, collection.table, collection.id,
                                                      subject, vectors.astype(np.float32), local)
            else:
                async with conn.cursor() as cursor:
                    await cursor.executemany(sql.SQL(
                        "INSERT INTO {t} (subject, embedding) VALUES (%s, %s)").format(
                            t=collection.table), rows)
            row = await _fetchone(conn, sql.SQL("SELECT count(*) FROM {t} WHERE subject = %s")
                                  .format(t=collection.table), (subject,))
            await conn.execute(BUMP_REVISION, (collection.id,))
        return int(row[0])

    async def nearest(self, collection: Collection, vector: np.ndarray,
                      top_k: int) -> list[Neighbour]:
        """The top_k nearest subjects (approximate, HNSW), each by its nearest embedding."""
        _check_vectors(collection, vector[None])
        # HNSW yields at most ef_search rows; fetch several per wanted subject so that
        # subjects with many embeddings do not crowd the others out.
        candidates = min(self._index.ef_search, max(4 * top_k, 40))
        query = sql.SQL(
            "SELECT subject, min(distance) AS distance FROM ("
            " SELECT subject, embedding <-> %(q)s AS distance FROM {t}"
            " ORDER BY distance LIMIT %(n)s"
            ") AS candidates GROUP BY subject ORDER BY distance LIMIT %(k)s"
        ).format(t=collection.table)
        params = {"q": vector.astype(np.float32), "n": candidates, "k": top_k}
        async with _existing(collection), self._connection() as conn:
            cursor = await conn.execute(query, params)
            return [Neighbour(s, float(d)) for s, d in await cursor.fetchall()]

    async def nearest_images(self, collection: Collection, vector: np.ndarray,
                             count: int) -> list[ImageNeighbour]:
        """The ``count`` nearest enrolled images (HNSW), nearest first, with their keypoints."""
        _check_vectors(collection, vector[None])
        query = local_store.nearest_images(collection.table, collection.id)
        params = {"q": vector.astype(np.float32), "n": min(count, self._index.ef_search)}
        async with _existing(collection), self._connection() as conn:
            cursor = await conn.execute(query, params)
            return [ImageNeighbour(s, float(d), local_store.features_of(p, k))
                    for s, d, p, k in await cursor.fetchall()]

    async def distance_to(self, collection: Collection, subject: str, vector: np.ndarray) -> float:
        """Exact distance from the vector to the subject's nearest embedding."""
        _check_vectors(collection, vector[None])
        query = sql.SQL("SELECT min(embedding <-> %s) FROM {t} WHERE subject = %s").format(
            t=collection.table)
        async with _existing(collection), self._connection() as conn:
            row = await _fetchone(conn, query, (vector.astype(np.float32), subject))
        if row[0] is None:
            raise NotFound(f"subject {subject!r} is not enrolled in collection {collection.name!r}")
        return float(row[0])

    async def delete_subject(self, collection: Collection, subject: str) -> int:
        query = sql.SQL("DELETE FROM {t} WHERE subject = %s").format(t=collection.table)
        async with _existing(collection), self._transaction() as conn:
            cursor = await conn.execute(query, (subject,))
            if cursor.rowcount == 0:
                raise NotFound(f"subject {subject!r} is not enrolled in collection "
                               f"{collection.name!r}")
            await conn.execute(BUMP_REVISION, (collection.id,))
        return cursor.rowcount

    async def subjects(self, collection: Collection, limit: int,
                       after: str = "") -> list[tuple[str, int]]:
        """Subjects in name order after ``after`` (keyset paging), with their embedding counts."""
        query = sql.SQL("SELECT subject, count(*) FROM {t} WHERE subject > %s GROUP BY subject "
                        "ORDER BY subject LIMIT %s").format(t=collection.table)
        async with _existing(collection), self._connection() as conn:
            cursor = await conn.execute(query, (after, limit))
            return [(s, int(n)) for s, n in await cursor.fetchall()]

    async def bulk_load(self, collection: Collection, subjects: Sequence[str],
                        vectors: np.ndarray) -> None:
        """Load many vectors at once (migrations, benchmarks): COPY, then one HNSW build.

        Building the graph once over all rows is far cheaper than inserting into it row by row;
        the whole load is one transaction, so readers see all of it or none of it.
        """
        _check_vectors(collection, vectors)
        copy = sql.SQL("COPY {t} (subject, embedding) FROM STDIN WITH (FORMAT BINARY)").format(
            t=collection.table)
        async with _existing(collection), self._transaction() as conn:
            await conn.execute(sql.SQL("DROP INDEX {i}").format(i=collection.index))
            async with conn.cursor().copy(copy) as stream:
                stream.set_types(["text", "vector"])
                for subject, vector in zip(subjects, vectors.astype(np.float32)):
                    await stream.write_row((subject, vector))
            await conn.execute(sql.SQL("SET LOCAL maintenance_work_mem = {}").format(
                sql.Literal(self._index.build_memory)))
            # pgvector 0.6.0-0.8.1 (pgserver ships 0.6.2) has a buffer overflow in parallel
            # HNSW builds (CVE-2026-3172): build in this process only
            await conn.execute("SET LOCAL max_parallel_maintenance_workers = 0")
            await conn.execute(self._hnsw_index(collection))
            await conn.execute(BUMP_REVISION, (collection.id,))


def _check_vectors(collection: Collection, vectors: np.ndarray) -> None:
    if vectors.ndim != 2 or vectors.shape[1] != collection.dimension:
        raise ValueError(f"expected (n, {collection.dimension}) vectors, got {vectors.shape}")
    if not np.isfinite(vectors).all():
        raise ValueError("vectors must be finite")


@asynccontextmanager
async def _existing(collection: Collection) -> AsyncIterator[None]:
    """A collection deleted between its lookup and its use reads as not found."""
    try:
        yield
    except psycopg.errors.UndefinedTable as exc:
        raise NotFound(f"collection {collection.name!r} was deleted") from exc


async def _fetchone(conn: psycopg.AsyncConnection, query, params=()) -> tuple | None:
    cursor = await conn.execute(query, params)
    return await cursor.fetchone()
