-- Deploy skeldir:function_health_worker to pg
BEGIN;

/**
 * Starts a data-plane round trip for GET /health/worker: sends one probe message on the
 * `probe` queue and returns its msg_id, which a worker answers by archiving it
 * (api.worker_probe_answer). Probes nobody took within a minute are dropped and answers
 * older than an hour are purged, so an outage leaves no backlog and the queue stays small.
 * Called by the shell (app_user). Runs as its owner: app_user has no privilege on pgmq.
 */
CREATE FUNCTION api.worker_probe_send() RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    _msg_id bigint;
BEGIN
    DELETE FROM pgmq.q_probe AS q WHERE q.enqueued_at < pg_catalog.now() - interval '1 minute';
    DELETE FROM pgmq.a_probe AS a WHERE a.archived_at < pg_catalog.now() - interval '1 hour';
    SELECT s INTO _msg_id
      FROM pgmq.send('probe', pg_catalog.jsonb_build_object('sent_at', pg_catalog.clock_timestamp())) AS s;
    RETURN _msg_id;
END;
$$;
COMMENT ON FUNCTION api.worker_probe_send() IS
    'Send a worker probe on the probe queue; returns its msg_id. Raises nothing of its own.';
REVOKE ALL ON FUNCTION api.worker_probe_send() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.worker_probe_send() TO app_rw;

/**
 * The worker's side of the probe: takes every visible probe (pgmq.read locks them FOR
 * UPDATE SKIP LOCKED, so two workers never answer the same one) and archives it, which is
 * the answer the shell waits for. Returns how many were answered.
 * Called by the worker (app_user). Runs as its owner: app_user has no privilege on pgmq.
 */
CREATE FUNCTION api.worker_probe_answer() RETURNS integer
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = '' AS $$
    SELECT pg_catalog.count(*) FILTER (WHERE pgmq.archive('probe', m.msg_id))::integer
      FROM pgmq.read('probe', 30, 100) AS m
$$;
COMMENT ON FUNCTION api.worker_probe_answer() IS
    'Answer (archive) every visible worker probe; returns the count. Raises nothing of its own.';
REVOKE ALL ON FUNCTION api.worker_probe_answer() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.worker_probe_answer() TO app_rw;

/**
 * What GET /health/worker reports, polled by the shell while it waits for its probe:
 * workers - workers whose heartbeat is at most `fresh_within` old;
 * heartbeat_age_seconds - age of the freshest heartbeat (NULL: no worker has one);
 * probe_answered - a worker archived probe `probe_id`.
 * Runs as its owner: app_user can read neither the heartbeats nor pgmq.
 * Raises 22023 when fresh_within is NULL or not positive.
 */
CREATE FUNCTION api.health_worker(probe_id bigint, fresh_within interval DEFAULT interval '15 seconds',
    OUT workers integer, OUT heartbeat_age_seconds double precision, OUT probe_answered boolean)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    IF health_worker.fresh_within IS NULL OR health_worker.fresh_within <= interval '0' THEN
        RAISE EXCEPTION 'fresh_within must be a positive interval' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = pg_catalog.format('fresh_within = %s', coalesce(health_worker.fresh_within::text, 'NULL')),
            HINT = 'Pass e.g. interval ''15 seconds''.';
    END IF;
    SELECT pg_catalog.count(*) FILTER (WHERE h.last_seen_at >= pg_catalog.now() - health_worker.fresh_within)::integer,
           extract(epoch FROM pg_catalog.now() - pg_catalog.max(h.last_seen_at))::double precision
      INTO workers, heartbeat_age_seconds
      FROM skeldir.worker_heartbeats AS h;
    probe_answered := EXISTS (SELECT FROM pgmq.a_probe AS a WHERE a.msg_id = health_worker.probe_id);
END;
$$;
COMMENT ON FUNCTION api.health_worker(bigint, interval) IS
    'Worker health: fresh heartbeats, freshest heartbeat age, whether a probe was answered. Raises 22023.';
REVOKE ALL ON FUNCTION api.health_worker(bigint, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.health_worker(bigint, interval) TO app_rw;

COMMIT;
