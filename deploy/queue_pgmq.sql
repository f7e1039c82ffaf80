-- Deploy skeldir:queue_pgmq to pg
-- PGMQ as plain SQL, from the pgmq.sql that the pinned PyPI package `pgmq` ships
-- (pyproject.toml pins the package; `skeldir db deploy` passes its path as :pgmq_sql).
-- No compiled extension, so this runs as migration_owner, not a superuser.
BEGIN;

SET LOCAL client_min_messages = warning;
\i :pgmq_sql

-- Runtime roles reach queues only through api functions.
REVOKE ALL ON SCHEMA pgmq FROM PUBLIC;

COMMIT;
