"""Group commit (api.webhook_receive_batch) with two real sessions: a lock wait fails one delivery, not the batch."""

from __future__ import annotations

import psycopg

from support import Database, dumps, stripe_event, stripe_signature

ROUTE = "/webhooks/{vendor}/{endpoint_token}"


def signed(secret: str) -> tuple[dict, bytes]:
    body = dumps(stripe_event())
    return {"stripe-signature": stripe_signature(body, secret)}, body


def test_delivery_waiting_on_another_sessions_uncommitted_insert_fails_alone_with_55p03(clone: Database) -> None:
    with psycopg.connect(clone.migration, autocommit=True) as conn:
        tenant = conn.execute(
            "SELECT tenant_id, endpoint_tokens, secrets FROM api.tenant_create('Two sessions')"
        ).fetchone()
    assert tenant is not None
    token, secret = tenant[1]["stripe"], tenant[2]["stripe"]
    (held_headers, held_body), (free_headers, free_body) = signed(secret), signed(secret)

    with psycopg.connect(clone.app) as holder, psycopg.connect(clone.app, autocommit=True) as batcher:
        first = holder.execute(
            "SELECT outcome FROM api.webhook_receive('stripe', %s, %s, %s, %s)",
            [ROUTE, psycopg.types.json.Jsonb(held_headers), held_body, token],
        ).fetchone()
        assert first == ("accepted",)  # inserted, not committed: its dedupe key is locked

        batcher.execute("SET statement_timeout = '20s'")  # a hang would fail the test, not block it
        rows = batcher.execute(
            "SELECT ord, outcome, error_sqlstate FROM api.webhook_receive_batch("
            "'{stripe,stripe}', %s, %s, %s, %s, '50 milliseconds')",
            [
                [ROUTE, ROUTE],
                [psycopg.types.json.Jsonb(held_headers), psycopg.types.json.Jsonb(free_headers)],
                [held_body, free_body],
                [token, token],
            ],
        ).fetchall()
        assert rows == [(1, "error", "55P03"), (2, "accepted", None)]
        assert batcher.execute("SHOW lock_timeout").fetchone() == ("0",), "the batch restores lock_timeout"

        holder.commit()
        again = batcher.execute(
            "SELECT outcome FROM api.webhook_receive('stripe', %s, %s, %s, %s)",
            [ROUTE, psycopg.types.json.Jsonb(held_headers), held_body, token],
        ).fetchone()
        assert again == ("duplicate",), "retried alone after the holder committed, it is a duplicate"


def test_enqueue_still_notifies_listeners_and_skips_while_another_writer_holds_the_throttle(clone: Database) -> None:
    with psycopg.connect(clone.migration, autocommit=True) as conn:
        tenant = conn.execute("SELECT endpoint_tokens, secrets FROM api.tenant_create('Notify')").fetchone()
        conn.execute("UPDATE pgmq.notify_insert_throttle SET last_notified_at = 'epoch'")
    assert tenant is not None
    token, secret = tenant[0]["stripe"], tenant[1]["stripe"]

    def deliver(conn: psycopg.Connection) -> None:
        headers, body = signed(secret)
        row = conn.execute(
            "SELECT outcome FROM api.webhook_receive('stripe', %s, %s, %s, %s)",
            [ROUTE, psycopg.types.json.Jsonb(headers), body, token],
        ).fetchone()
        assert row == ("accepted",)

    with (
        psycopg.connect(clone.app, autocommit=True) as listener,
        psycopg.connect(clone.app) as holder,
        psycopg.connect(clone.app) as other,
    ):
        listener.execute('LISTEN "pgmq.q_attribution.INSERT"')
        deliver(holder)  # claims the throttle row, uncommitted
        other.execute("SET lock_timeout = '5s'")
        deliver(other)  # would wait for holder's row lock under pgmq's own trigger; skips instead
        other.commit()
        holder.commit()
        channels = [n.channel for n in listener.notifies(timeout=10, stop_after=1)]
    assert channels == ["pgmq.q_attribution.INSERT"]


def test_a_delivery_the_driver_refuses_fails_alone_and_its_batch_neighbours_are_stored(clone: Database) -> None:
    import asyncio

    import orjson
    from psycopg_pool import AsyncConnectionPool

    from skeldir.web.batching import Delivery, GroupCommit

    with psycopg.connect(clone.migration, autocommit=True) as conn:
        tenant = conn.execute("SELECT endpoint_tokens, secrets FROM api.tenant_create('Batch neighbours')").fetchone()
    assert tenant is not None
    token, secret = tenant[0]["stripe"], tenant[1]["stripe"]

    def delivery(endpoint_token: str) -> Delivery:
        headers, body = signed(secret)
        return Delivery("stripe", ROUTE, orjson.dumps(headers).decode(), body, endpoint_token)

    async def run() -> list[object]:
        async with AsyncConnectionPool(clone.app, min_size=1, max_size=2, kwargs={"autocommit": True}) as pool:
            group = GroupCommit(pool, max_batch=32, flushers=1)  # one flusher: all four form one batch
            batch = [delivery(token), delivery("tok\x00en"), delivery(token), delivery(token)]
            return await asyncio.gather(*(group.receive(d) for d in batch), return_exceptions=True)

    answers = asyncio.run(run())
    assert [a[1] if isinstance(a, tuple) else type(a).__name__ for a in answers] == [
        "accepted",
        "DataError",
        "accepted",
        "accepted",
    ]
    with psycopg.connect(clone.admin) as conn:
        assert conn.execute("SELECT count(*) FROM skeldir.attribution_events").fetchone() == (3,)


def test_group_commit_reports_the_size_of_every_batch_it_takes(clone: Database) -> None:
    """What skeldir_group_commit_batch_size is fed: deliveries that queued up while the flusher
    was busy form one batch; a delivery that finds the flusher idle goes alone."""
    import asyncio

    import orjson
    from psycopg_pool import AsyncConnectionPool

    from skeldir.web.batching import Delivery, GroupCommit

    with psycopg.connect(clone.migration, autocommit=True) as conn:
        tenant = conn.execute("SELECT endpoint_tokens, secrets FROM api.tenant_create('Batch sizes')").fetchone()
    assert tenant is not None
    token, secret = tenant[0]["stripe"], tenant[1]["stripe"]

    def delivery() -> Delivery:
        headers, body = signed(secret)
        return Delivery("stripe", ROUTE, orjson.dumps(headers).decode(), body, token)

    sizes: list[int] = []

    async def run() -> list[str]:
        async with AsyncConnectionPool(clone.app, min_size=1, max_size=2, kwargs={"autocommit": True}) as pool:
            group = GroupCommit(pool, max_batch=4, flushers=1, observe=sizes.append)
            together = await asyncio.gather(*(group.receive(delivery()) for _ in range(6)))
            alone = await group.receive(delivery())
            return [a[1] for a in [*together, alone]]

    assert asyncio.run(run()) == ["accepted"] * 7
    assert sizes == [4, 2, 1]  # six queued: max_batch 4, then the other 2; then one alone
