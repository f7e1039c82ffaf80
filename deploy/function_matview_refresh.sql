-- Deploy skeldir:function_matview_refresh to pg
BEGIN;

/**
 * Marks views dirty: bumps their generation. Called by writers inside their transaction.
 * Inside api.task_run_batch (GUC skeldir.matview_touch_deferred = on) it only records the
 * views in a transaction-local GUC, which the batch flushes once before commit: the state
 * rows are then locked for the commit only, not for the whole batch, so concurrent
 * workers do not serialize on them. A failed task's subtransaction rolls its marks back.
 */
CREATE FUNCTION skeldir._matview_touch(views text[]) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
BEGIN
    IF pg_catalog.current_setting('skeldir.matview_touch_deferred', true) = 'on' THEN
        IF pg_catalog.string_to_array(pg_catalog.current_setting('skeldir.matview_dirty', true), ',') @> views THEN
            RETURN;  -- already recorded in this batch: the common case
        END IF;
        PERFORM pg_catalog.set_config('skeldir.matview_dirty', pg_catalog.array_to_string(ARRAY(
            SELECT DISTINCT v
              FROM pg_catalog.unnest(pg_catalog.string_to_array(
                       nullif(pg_catalog.current_setting('skeldir.matview_dirty', true), ''), ',') || views) AS v
             ORDER BY v), ','), true);
        RETURN;
    END IF;
    -- Lock the state rows in name order, the order matview_refresh_dirty takes them in.
    UPDATE skeldir.matview_state AS s
       SET dirty = true, generation = s.generation + 1,
           dirtied_at = CASE WHEN s.dirty THEN s.dirtied_at ELSE pg_catalog.now() END
     WHERE s.view_name IN (SELECT l.view_name FROM skeldir.matview_state AS l
                            WHERE l.view_name = ANY (views) ORDER BY l.view_name FOR UPDATE);
END;
$$;
COMMENT ON FUNCTION skeldir._matview_touch(text[]) IS 'Marks materialized views dirty (deferred inside task batches).';

/**
 * Brings one read model up to date and logs it. A table (four of the five, change
 * read_model_upkeep) gets skeldir.read_model_upkeep, which has nothing to do: the writers
 * applied their deltas when they committed. A materialized view (mv_realtime_revenue,
 * the last 24 hours over a BRIN range) is refreshed CONCURRENTLY (readers never block). An advisory
 * transaction lock per view means no two refreshes of one view run at once: a second
 * caller logs skipped_locked and returns at once instead of queueing behind the first.
 * Returns the outcome: refreshed | skipped_locked | error. Raises 22023 for an unknown view.
 * Inside matview_refresh_dirty (GUC skeldir.matview_refresh_deferred = on) the state row is
 * not updated here but recorded, and updated with the others at the end, so the state rows
 * that writers lock are not held through the refreshes of the remaining views.
 */
CREATE FUNCTION skeldir.matview_refresh(view_name text, trigger text) RETURNS text
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
DECLARE
    _started    timestamptz := pg_catalog.clock_timestamp();
    _generation bigint;
    _rows       bigint;
    _groups     bigint;
    _outcome    text := 'refreshed';
    _error      text;
BEGIN
    SELECT s.generation INTO _generation FROM skeldir.matview_state AS s WHERE s.view_name = matview_refresh.view_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown materialized view %', matview_refresh.view_name
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'See skeldir.matview_state for the refreshable views.';
    END IF;
    -- Per-view lock; try-lock so a pulse never waits behind a long refresh.
    IF NOT pg_catalog.pg_try_advisory_xact_lock(pg_catalog.hashtext('skeldir.matview:' || matview_refresh.view_name)) THEN
        _outcome := 'skipped_locked';
    ELSE
        BEGIN
            IF (SELECT c.relkind FROM pg_catalog.pg_class AS c
                 WHERE c.oid = pg_catalog.to_regclass(pg_catalog.format('skeldir.%I', matview_refresh.view_name))) = 'm' THEN
                EXECUTE pg_catalog.format('REFRESH MATERIALIZED VIEW CONCURRENTLY skeldir.%I', matview_refresh.view_name);
                EXECUTE pg_catalog.format('SELECT pg_catalog.count(*) FROM skeldir.%I', matview_refresh.view_name) INTO _rows;
            ELSE
                SELECT u.groups, u.rows INTO _groups, _rows FROM skeldir.read_model_upkeep(matview_refresh.view_name) AS u;
            END IF;
            IF pg_catalog.current_setting('skeldir.matview_refresh_deferred', true) = 'on' THEN
                PERFORM pg_catalog.set_config('skeldir.matview_refreshed', pg_catalog.concat_ws(',',
                    nullif(pg_catalog.current_setting('skeldir.matview_refreshed', true), ''),
                    matview_refresh.view_name || '=' || _generation || '=' || _started), true);
            ELSE
                UPDATE skeldir.matview_state AS s
                   SET dirty = (s.generation <> _generation), refreshed_at = _started
                 WHERE s.view_name = matview_refresh.view_name;
            END IF;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS _error = MESSAGE_TEXT;
            _outcome := 'error';
        END;
    END IF;
    INSERT INTO skeldir.matview_refresh_log (view_name, trigger, started_at, duration_ms, rows, groups, outcome, error)
    VALUES (matview_refresh.view_name, matview_refresh.trigger, _started,
            extract(epoch FROM pg_catalog.clock_timestamp() - _started) * 1000, _rows, _groups, _outcome, _error);
    RETURN _outcome;
END;
$$;
COMMENT ON FUNCTION skeldir.matview_refresh(text, text) IS
    'Bring one read model up to date (changed groups, or a concurrent matview refresh) under an advisory lock, logged. Raises 22023 for an unknown view.';

/**
 * Refreshes every dirty view (pg_cron pulse, maintenance task); returns one row per view
 * attempted. The state rows of the refreshed views are updated together at the end, locked
 * in name order like every writer's (skeldir._matview_touch), so a task batch marking views
 * dirty waits at most for that last statement, never for the refreshes themselves.
 */
CREATE FUNCTION skeldir.matview_refresh_dirty(trigger text, OUT view_name text, OUT outcome text)
RETURNS SETOF record
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $$
DECLARE
    _view text;
    _done text[];
BEGIN
    PERFORM pg_catalog.set_config('skeldir.matview_refresh_deferred', 'on', true);
    PERFORM pg_catalog.set_config('skeldir.matview_refreshed', '', true);
    FOR _view IN SELECT s.view_name FROM skeldir.matview_state AS s WHERE s.dirty ORDER BY s.view_name LOOP
        view_name := _view;
        outcome := skeldir.matview_refresh(_view, matview_refresh_dirty.trigger);
        RETURN NEXT;
    END LOOP;
    PERFORM pg_catalog.set_config('skeldir.matview_refresh_deferred', 'off', true);

    _done := pg_catalog.string_to_array(nullif(pg_catalog.current_setting('skeldir.matview_refreshed', true), ''), ',');
    -- Lock in name order first, the order writers lock in, so the two never deadlock.
    PERFORM FROM skeldir.matview_state AS s
      WHERE s.view_name IN (SELECT pg_catalog.split_part(x, '=', 1) FROM pg_catalog.unnest(_done) AS x)
      ORDER BY s.view_name
        FOR UPDATE;
    UPDATE skeldir.matview_state AS s
       SET dirty = (s.generation <> pg_catalog.split_part(x, '=', 2)::bigint),
           refreshed_at = pg_catalog.split_part(x, '=', 3)::timestamptz
      FROM pg_catalog.unnest(_done) AS x
     WHERE s.view_name = pg_catalog.split_part(x, '=', 1);
    PERFORM pg_catalog.set_config('skeldir.matview_refreshed', '', true);
END;
$$;
COMMENT ON FUNCTION skeldir.matview_refresh_dirty(text) IS 'Refresh all dirty matviews (pg_cron pulse, maintenance task).';

COMMIT;
