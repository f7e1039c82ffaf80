-- Per-call cost of a vendor mapping: psql -v case=shopify -v vendor=shopify -f per_call.sql
-- (run from this folder; case names <case>.json: {"headers": ..., "doc": ...}). As in
-- bench/projection/per_call.sql the document is built in memory per call (jsonb_set of its
-- id, a string), as the ingest path has it; the last statement is the baseline to subtract.
\set ON_ERROR_STOP 1
\set input `cat :case.json`
\timing on
SELECT (:'input'::jsonb -> 'headers') AS h, (:'input'::jsonb -> 'doc') AS d \gset
SELECT count(skeldir._map_:vendor(:'h'::jsonb, pg_catalog.jsonb_set(:'d'::jsonb, '{id}', pg_catalog.to_jsonb('x' || g)))) FROM pg_catalog.generate_series(1, 2000) AS g;
SELECT count(skeldir._map_:vendor(:'h'::jsonb, pg_catalog.jsonb_set(:'d'::jsonb, '{id}', pg_catalog.to_jsonb('x' || g)))) FROM pg_catalog.generate_series(1, 2000) AS g;
SELECT count(pg_catalog.jsonb_set(:'d'::jsonb, '{id}', pg_catalog.to_jsonb('x' || g))) FROM pg_catalog.generate_series(1, 2000) AS g;
