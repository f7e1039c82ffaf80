-- Deploy skeldir:function_housekeeping to pg
BEGIN;

/**
 * Retention, in one call (pg_cron job skeldir-housekeeping and the `housekeeping` task):
 * deletes pgmq archive rows and matview refresh log entries older than
 * settings.archive_retention, dead letters older than settings.dead_letter_retention
 * (tenant by tenant: the table FORCEs RLS) and heartbeats of workers silent for longer
 * than settings.heartbeat_stale_after (a worker that was SIGKILLed never removes its own).
 * Returns what it deleted. Idempotent.
 */
CREATE FUNCTION skeldir.housekeeping_run(
    OUT archived_deleted bigint, OUT dead_letters_deleted bigint,
    OUT heartbeats_deleted bigint, OUT refresh_log_deleted bigint
) RETURNS record
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
DECLARE
    _s      skeldir.settings;
    _queue  text;
    _tenant uuid;
    _n      bigint;
BEGIN
    SELECT * INTO _s FROM skeldir.settings;
    archived_deleted := 0;
    dead_letters_deleted := 0;
    FOR _queue IN SELECT q.queue_name FROM pgmq.list_queues() AS q ORDER BY q.queue_name LOOP
        EXECUTE pg_catalog.format('DELETE FROM pgmq.%I WHERE archived_at < $1', pgmq.format_table_name(_queue, 'a'))
          USING pg_catalog.now() - _s.archive_retention;
        GET DIAGNOSTICS _n = ROW_COUNT;
        archived_deleted := archived_deleted + _n;
    END LOOP;
    FOR _tenant IN SELECT t.id FROM skeldir.tenants AS t ORDER BY t.id LOOP
        PERFORM pg_catalog.set_config('app.current_tenant_id', _tenant::text, true);
        DELETE FROM skeldir.dead_letters AS d
         WHERE d.tenant_id = _tenant AND d.received_at < pg_catalog.now() - _s.dead_letter_retention;
        GET DIAGNOSTICS _n = ROW_COUNT;
        dead_letters_deleted := dead_letters_deleted + _n;
    END LOOP;
    PERFORM pg_catalog.set_config('app.current_tenant_id', '', true);
    DELETE FROM skeldir.worker_heartbeats AS h WHERE h.last_seen_at < pg_catalog.now() - _s.heartbeat_stale_after;
    GET DIAGNOSTICS heartbeats_deleted = ROW_COUNT;
    DELETE FROM skeldir.matview_refresh_log AS l WHERE l.started_at < pg_catalog.now() - _s.archive_retention;
    GET DIAGNOSTICS refresh_log_deleted = ROW_COUNT;
END;
$$;
COMMENT ON FUNCTION skeldir.housekeeping_run() IS
    'Retention: pgmq archives, dead letters, stale worker heartbeats, matview refresh log.';

COMMIT;
