"""Shell /metrics and the worker exporter: what each reports, that it is true, that it parses."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from support_health import Stack, promtool_check, scrape, series, value

from skeldir.web.metrics import QUEUE_METRICS_TTL
from support import Database, WorkerProcess, dumps, stripe_event, stripe_signature, wait_for


@pytest.fixture
def own_shell(clone: Database, tmp_path: Path) -> Iterator[Stack]:
    """A shell of our own on a private database that no worker drains."""
    stack = Stack(clone.app, tmp_path)
    stack.start_shell()
    yield stack
    stack.stop()


def post_stripe(url: str, body: bytes, secret: str) -> httpx.Response:
    return httpx.post(url, content=body, headers={"Stripe-Signature": stripe_signature(body, secret)})


def test_shell_metrics_count_requests_by_route_template_and_webhooks_by_vendor_and_outcome(
    new_tenant, shell: str
) -> None:
    tenant = new_tenant()
    url, secret = tenant["endpoints"]["stripe"], tenant["secrets"]["stripe"]
    before = scrape(f"{shell}/metrics")
    body = dumps(stripe_event())
    assert post_stripe(url, body, secret).json()["status"] == "accepted"
    assert post_stripe(url, body, secret).json()["status"] == "duplicate"
    assert post_stripe(url, body, "whsec_wrong").status_code == 401
    after = scrape(f"{shell}/metrics")

    def delta(name: str, **labels: str) -> float:
        return (value(after, name, **labels) or 0) - (value(before, name, **labels) or 0)

    route = "/webhooks/{vendor}/{endpoint_token}"
    assert delta("skeldir_http_requests_total", method="POST", route=route, status="200") == 2
    assert delta("skeldir_http_requests_total", method="POST", route=route, status="401") == 1
    assert delta("skeldir_http_request_duration_seconds_count", method="POST", route=route) == 3
    assert delta("skeldir_webhook_outcomes_total", vendor="stripe", outcome="accepted") == 1
    assert delta("skeldir_webhook_outcomes_total", vendor="stripe", outcome="duplicate") == 1
    assert delta("skeldir_webhook_outcomes_total", vendor="stripe", outcome="unauthorized") == 1
    assert not any(name.startswith("skeldir_worker_") for name, _ in series(after)), "no task metrics on the shell"


def test_shell_metrics_pass_promtool(shell: str) -> None:
    httpx.get(f"{shell}/health/live")
    result = promtool_check(f"{shell}/metrics")
    assert result.returncode == 0, result.stdout + result.stderr


def test_worker_exporter_passes_promtool_and_has_no_http_metrics(worker: WorkerProcess) -> None:
    result = promtool_check(worker.metrics_url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not any(name.startswith("skeldir_http_") for name, _ in series(scrape(worker.metrics_url)))


def test_queue_gauges_are_pgmq_truth(own_shell: Stack, clone: Database) -> None:
    with psycopg.connect(clone.migration, autocommit=True) as conn:
        conn.execute("SELECT pgmq.send('llm', '{\"task\": \"route\"}') FROM generate_series(1, 4)")
        conn.execute("SELECT pgmq.send('maintenance', '{\"task\": \"refresh_matviews\"}', 3600)")
        truth = {
            row[0]: row[1:]
            for row in conn.execute("SELECT queue_name, depth, visible, sent_total FROM api.queue_metrics()")
        }
    url = f"{own_shell.shell_url}/metrics"
    samples = wait_for(lambda: (s := scrape(url)) and value(s, "skeldir_queue_depth", queue="llm") == 4 and s, 20)
    for queue, (depth, visible, sent) in truth.items():
        assert value(samples, "skeldir_queue_depth", queue=queue) == depth, queue
        assert value(samples, "skeldir_queue_visible_depth", queue=queue) == visible, queue
        assert value(samples, "skeldir_queue_messages_sent_total", queue=queue) == sent, queue
    assert value(samples, "skeldir_queue_depth", queue="maintenance") == 1
    assert value(samples, "skeldir_queue_visible_depth", queue="maintenance") == 0, "a delayed message is not visible"
    assert (value(samples, "skeldir_queue_oldest_message_age_seconds", queue="llm") or 0) >= 0
    assert value(samples, "skeldir_queue_metrics_refresh_errors_total") == 0


def test_queue_gauges_are_read_at_most_once_per_ttl(own_shell: Stack) -> None:
    url = f"{own_shell.shell_url}/metrics"
    first = value(scrape(url), "skeldir_queue_metrics_refreshes_total") or 0
    started = time.monotonic()
    for _ in range(20):
        scrape(url)
    last = value(scrape(url), "skeldir_queue_metrics_refreshes_total") or 0
    elapsed = time.monotonic() - started
    assert last - first <= math.ceil(elapsed / QUEUE_METRICS_TTL) + 1, (last - first, elapsed)


def test_worker_exporter_counts_retries_failed_job_captures_and_batches(
    worker: WorkerProcess, main_db: Database
) -> None:
    labels = {"queue": "maintenance", "task": "poison_pill"}
    before = scrape(worker.metrics_url)
    with psycopg.connect(main_db.migration, autocommit=True) as conn:
        retries = conn.execute("SELECT task_max_retries FROM skeldir.settings").fetchone()[0]
        conn.execute("SELECT pgmq.send('maintenance', '{\"task\": \"poison_pill\"}')")

    def grew(name: str, **extra: str) -> float:
        return (value(after, name, **labels, **extra) or 0) - (value(before, name, **labels, **extra) or 0)

    after = wait_for(
        lambda: (
            (s := scrape(worker.metrics_url))
            and (value(s, "skeldir_worker_failed_jobs_captured_total", **labels) or 0)
            > (value(before, "skeldir_worker_failed_jobs_captured_total", **labels) or 0)
            and s
        ),
        timeout=30,
    )
    assert grew("skeldir_worker_failed_jobs_captured_total") == 1
    assert grew("skeldir_worker_task_retries_total") == retries
    assert grew("skeldir_worker_tasks_total", outcome="retried") == retries
    assert grew("skeldir_worker_tasks_total", outcome="failed") == 1
    assert grew("skeldir_worker_task_duration_seconds_count") == retries + 1
    assert (value(after, "skeldir_worker_batch_size_count", queue="maintenance") or 0) >= retries + 1
    assert value(after, "skeldir_worker_database_up") == 1


def test_worker_exporter_matview_refreshes_equal_the_refresh_log(worker: WorkerProcess, main_db: Database) -> None:
    view = "mv_daily_revenue_summary"
    with psycopg.connect(main_db.migration, autocommit=True) as conn:
        conn.execute("SELECT skeldir.matview_refresh(%s, 'test')", [view])

        def matches() -> bool:
            logged = dict(
                conn.execute(
                    "SELECT outcome, count(*) FROM skeldir.matview_refresh_log WHERE view_name = %s GROUP BY 1", [view]
                ).fetchall()
            )
            samples = scrape(worker.metrics_url)
            return bool(logged) and all(
                value(samples, "skeldir_matview_refreshes_total", view=view, outcome=o) == n for o, n in logged.items()
            )

        wait_for(matches, timeout=20)
    samples = scrape(worker.metrics_url)
    assert value(samples, "skeldir_matview_last_refresh_timestamp_seconds", view=view) is not None
    assert value(samples, "skeldir_matview_dirty", view=view) in (0, 1)
