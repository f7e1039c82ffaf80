-- Per-call cost of what is stored of a document: psql -v vendor=shopify -v fn=skeldir._project_shopify -f per_call.sql
-- (run from this folder; fn was skeldir._redact before the projections). The document is
-- built in memory for each call (jsonb_set of its id), as the ingest path has it, not read
-- from a table: a TOASTed column would be decompressed on every field access. The last
-- statement is the baseline (building the documents alone), to subtract.
\set ON_ERROR_STOP 1
\set doc `cat :vendor.json`
\timing on
SELECT count(:fn(pg_catalog.jsonb_set(:'doc'::jsonb, '{id}', pg_catalog.to_jsonb(g)))) FROM pg_catalog.generate_series(1, 2000) AS g;
SELECT count(:fn(pg_catalog.jsonb_set(:'doc'::jsonb, '{id}', pg_catalog.to_jsonb(g)))) FROM pg_catalog.generate_series(1, 2000) AS g;
SELECT count(pg_catalog.jsonb_set(:'doc'::jsonb, '{id}', pg_catalog.to_jsonb(g))) FROM pg_catalog.generate_series(1, 2000) AS g;
