"""SQL of the per-image local features table of ANIMAL collections (used by gallery.py).

``gallery_keypoints_<id>`` sits beside the collection's vectors table: one row per enrolled
image, keyed by the vector row's id with ON DELETE CASCADE, so deleting a subject's vectors
deletes its keypoints in the same statement, and dropping the collection drops both tables.
Rows are written in the enrolment's transaction: an image is enrolled with its keypoints or
not at all. Points are float32 (x, y) pairs, descriptors uint8 SIFT rows (keypoints.py).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import psycopg
from psycopg import sql

from services.animal_identity.keypoints import LocalFeatures


def table(collection_id: int) -> sql.Identifier:
    return sql.Identifier(f"gallery_keypoints_{collection_id}")


def create(vectors: sql.Identifier, collection_id: int) -> sql.Composed:
    return sql.SQL(
        "CREATE TABLE {k} (id bigint PRIMARY KEY REFERENCES {t} (id) ON DELETE CASCADE, "
        "points bytea NOT NULL, descriptors bytea NOT NULL)"
    ).format(k=table(collection_id), t=vectors)


def drop(collection_id: int) -> sql.Composed:
    return sql.SQL("DROP TABLE IF EXISTS {k}").format(k=table(collection_id))


async def insert_with_vectors(conn: psycopg.AsyncConnection, vectors: sql.Identifier,
                              collection_id: int, subject: str, embeddings: np.ndarray,
                              local: Sequence[LocalFeatures]) -> None:
    """Each embedding and its image's keypoints, inside the caller's transaction."""
    insert_vector = sql.SQL(
        "INSERT INTO {t} (subject, embedding) VALUES (%s, %s) RETURNING id").format(t=vectors)
    insert_local = sql.SQL("INSERT INTO {k} (id, points, descriptors) VALUES (%s, %s, %s)").format(
        k=table(collection_id))
    for vector, features in zip(embeddings, local):
        cursor = await conn.execute(insert_vector, (subject, vector))
        (row_id,) = await cursor.fetchone()
        await conn.execute(insert_local, (row_id, *features.to_bytes()))


def nearest_images(vectors: sql.Identifier, collection_id: int) -> sql.Composed:
    """The ``n`` nearest enrolled images (HNSW) with their keypoints (NULL when none)."""
    return sql.SQL(
        "SELECT v.subject, v.distance, k.points, k.descriptors FROM ("
        " SELECT id, subject, embedding <-> %(q)s AS distance FROM {t}"
        " ORDER BY distance LIMIT %(n)s"
        ") AS v LEFT JOIN {k} AS k ON k.id = v.id ORDER BY v.distance"
    ).format(t=vectors, k=table(collection_id))


def features_of(points: bytes | None, descriptors: bytes | None) -> LocalFeatures | None:
    return None if points is None else LocalFeatures.from_bytes(bytes(points), bytes(descriptors))
