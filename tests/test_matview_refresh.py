"""Matview refresh concurrency with two real sessions, and the pg_cron jobs of the pipeline."""

from __future__ import annotations

import psycopg

from support import Database


def test_second_refresh_of_one_view_is_skipped_while_the_first_holds_its_lock(clone: Database) -> None:
    with psycopg.connect(clone.migration) as first, psycopg.connect(clone.migration, autocommit=True) as second:
        # The first session's refresh is done but its transaction (and advisory lock) still open.
        assert first.execute("SELECT skeldir.matview_refresh('mv_channel_performance', 'test-a')").fetchone() == (
            "refreshed",
        )
        assert second.execute("SELECT skeldir.matview_refresh('mv_channel_performance', 'test-b')").fetchone() == (
            "skipped_locked",
        )
        # Another view is not blocked by that lock.
        assert second.execute("SELECT skeldir.matview_refresh('mv_allocation_summary', 'test-b')").fetchone() == (
            "refreshed",
        )
        first.commit()
        assert second.execute("SELECT skeldir.matview_refresh('mv_channel_performance', 'test-c')").fetchone() == (
            "refreshed",
        )
        log = second.execute(
            "SELECT view_name, trigger, outcome FROM skeldir.matview_refresh_log ORDER BY id"
        ).fetchall()
    assert log == [
        ("mv_channel_performance", "test-a", "refreshed"),
        ("mv_channel_performance", "test-b", "skipped_locked"),
        ("mv_allocation_summary", "test-b", "refreshed"),
        ("mv_channel_performance", "test-c", "refreshed"),
    ]


def test_pipeline_cron_jobs_are_scheduled_in_the_main_database(main_db: Database) -> None:
    with psycopg.connect(main_db.admin) as conn:
        jobs = conn.execute(
            "SELECT jobname, schedule, command FROM cron.job WHERE jobname LIKE 'skeldir-%' ORDER BY jobname"
        ).fetchall()
    assert ("skeldir-housekeeping", "*/5 * * * *", "SELECT skeldir.housekeeping_run()") in jobs
    assert ("skeldir-matview-pulse", "* * * * *", "SELECT skeldir.matview_pulse()") in jobs
    assert ("skeldir-reconciliation-pulse", "* * * * *", "SELECT skeldir.reconciliation_reevaluate()") in jobs
