"""The gallery's catalogue schema and revision statements (applied by Gallery.open)."""
from __future__ import annotations

MAX_DIMENSION = 2000  # pgvector's HNSW limit for the vector type
SCHEMA = """
CREATE EXTENSION IF NOT EXISTS vector;
CREATE TABLE IF NOT EXISTS gallery_collections (
    id bigserial PRIMARY KEY,
    tenant text NOT NULL,
    name text NOT NULL,
    kind text NOT NULL,
    model text NOT NULL,
    model_version text NOT NULL,
    dimension integer NOT NULL CHECK (dimension BETWEEN 1 AND 2000),
    revision bigint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant, name)
);
-- galleries created before collections had revisions
ALTER TABLE gallery_collections ADD COLUMN IF NOT EXISTS revision bigint NOT NULL DEFAULT 0;
-- the operating point a collection asked for (NULL: the model's default)
ALTER TABLE gallery_collections ADD COLUMN IF NOT EXISTS target_far double precision;
-- One revision sequence for every collection, so a deleted and re-created collection never
-- reports a revision its predecessor had (answers cached under it would come back). Started
-- past every revision a gallery from before the sequence holds.
CREATE SEQUENCE IF NOT EXISTS gallery_revisions;
SELECT setval('gallery_revisions', GREATEST(
    (SELECT last_value FROM gallery_revisions),
    (SELECT COALESCE(max(revision), 0) + 1 FROM gallery_collections)));
ALTER TABLE gallery_collections ALTER COLUMN revision SET DEFAULT nextval('gallery_revisions')"""
COLLECTION_COLUMNS = ("id, tenant, name, kind, model, model_version, dimension, revision, "
                      "target_far")
# Every change of a collection's contents moves its revision (to the next value of the global
# sequence) in the same transaction, so a cached answer keyed on the revision is never served
# after the gallery changed. Concurrent writers to one collection queue on that row only for
# the end of their transactions.
BUMP_REVISION = ("UPDATE gallery_collections SET revision = nextval('gallery_revisions') "
                 "WHERE id = %s")
# Two services starting at once on a fresh database would race on CREATE EXTENSION.
SCHEMA_LOCK = 0x7C10D0
