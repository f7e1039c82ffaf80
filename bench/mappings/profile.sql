-- Where a mapping's time goes: every function's calls and self time over 2,000 calls
-- (track_functions = all adds its own overhead per call; read the shares).
\set ON_ERROR_STOP 1
\set input `cat :case.json`
SELECT (:'input'::jsonb -> 'headers') AS h, (:'input'::jsonb -> 'doc') AS d \gset
SET track_functions = 'all';
SELECT pg_catalog.pg_stat_reset();
SELECT count(skeldir._map_:vendor(:'h'::jsonb, pg_catalog.jsonb_set(:'d'::jsonb, '{id}', pg_catalog.to_jsonb('x' || g)))) FROM pg_catalog.generate_series(1, 2000) AS g;
SELECT pg_catalog.pg_stat_force_next_flush();
\c
SELECT funcname, calls / 2000.0 AS per_delivery, round((total_time * 1000 / 2000)::numeric, 1) AS total_us,
       round((self_time * 1000 / 2000)::numeric, 1) AS self_us
  FROM pg_catalog.pg_stat_user_functions ORDER BY self_time DESC;
