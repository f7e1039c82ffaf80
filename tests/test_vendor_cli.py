"""Operator CLI: tenant set-secret / rotate-secret and dlq list / replay, on a private clone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from vendor_signers import Delivery, Sender, paypal_key

from skeldir.ops import admin
from support import Database


def skeldir(db: Database, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "SKELDIR_MIGRATION_DATABASE_URL": db.migration, "SKELDIR_DATABASE_URL": db.app}
    return subprocess.run([sys.executable, "-m", "skeldir.cli", *args], env=env, input=stdin,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def receive(db: Database, s: Sender, d: Delivery) -> dict:
    """One delivery straight into api.webhook_receive as app_user (what the shell does)."""
    headers = json.dumps({k.lower(): v for k, v in d.headers.items()})
    token = s.tenant["endpoints"][s.vendor].rsplit("/", 1)[1]
    with psycopg.connect(db.app, autocommit=True) as conn:
        row = conn.execute(
            "SELECT http_status, response FROM api.webhook_receive(%s, %s, %s::jsonb, %s, %s)",
            [s.vendor, "/webhooks/{vendor}/{endpoint_token}", headers, d.body, token],
        ).fetchone()
    assert row is not None
    return {"http_status": row[0], **json.loads(row[1])}


@pytest.fixture
def tenant(clone: Database) -> dict:
    return admin.tenant_create(clone.migration, "CLI Store", "http://127.0.0.1:9")


def test_set_secret_replaces_the_secret_at_once(clone: Database, tenant: dict) -> None:
    result = skeldir(clone, "tenant", "set-secret", tenant["slug"], "shopify", "--secret", "my-secret-1", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["secret"] == "my-secret-1"
    old = Sender("shopify", tenant, tenant["secrets"]["shopify"])
    assert receive(clone, old, old.deliver(old.sample()))["http_status"] == 401
    new = Sender("shopify", tenant, "my-secret-1")
    assert receive(clone, new, new.deliver(new.sample()))["status"] == "accepted"


def test_rotate_secret_prints_the_new_secret_and_when_the_old_one_stops(clone: Database, tenant: dict) -> None:
    result = skeldir(clone, "tenant", "rotate-secret", tenant["tenant_id"], "standard", "--window", "2 hours", "--json")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["secret"].startswith("whsec_") and answer["secret"] != tenant["secrets"]["standard"]
    for secret in (tenant["secrets"]["standard"], answer["secret"]):
        s = Sender("standard", tenant, secret)
        assert receive(clone, s, s.deliver(s.sample()))["status"] == "accepted"


def test_paypal_certificate_and_webhook_id_are_set_from_a_file(clone: Database, tenant: dict, tmp_path: Path) -> None:
    pem = tmp_path / "paypal.pem"
    pem.write_text(paypal_key(0).pem)
    result = skeldir(clone, "tenant", "set-secret", tenant["slug"], "paypal", "--secret-file", str(pem),
                     "--webhook-id", "WH-CLI-1")  # fmt: skip
    assert result.returncode == 0, result.stderr
    with psycopg.connect(clone.app) as conn:
        keys = conn.execute("SELECT * FROM api.webhook_paypal_keys(%s, NULL)",
                            [tenant["endpoints"]["paypal"].rsplit("/", 1)[1]]).fetchall()  # fmt: skip
    assert keys == [("WH-CLI-1", paypal_key(0).pem.strip())]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["tenant", "set-secret", "no-such-tenant", "stripe"], "no tenant no-such-tenant"),
        (
            ["tenant", "set-secret", "{slug}", "stripe", "--secret", "not-a-stripe-secret"],
            "not a Stripe signing secret",
        ),
        (["tenant", "set-secret", "{slug}", "paypal", "--secret", "hello"], "not a PEM certificate"),
        (["tenant", "set-secret", "{slug}", "paypal"], "no paypal secret given"),
        (["tenant", "rotate-secret", "{slug}", "paypal", "--secret", "{pem}"], "tenant has no paypal secret to rotate"),
        (
            ["tenant", "rotate-secret", "{slug}", "shopify", "--window", "soon"],
            "invalid input syntax for type interval",
        ),
        (["dlq", "replay", "999999"], "no dead letter 999999"),
        (["dlq", "replay"], "give either a dead letter ID or --reason R"),
    ],
)
def test_bad_operator_input_is_one_readable_line_and_exit_1(clone, tenant, args, message) -> None:
    pem = paypal_key(0).pem
    result = skeldir(clone, *[a.replace("{slug}", tenant["slug"]).replace("{pem}", pem) for a in args])
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("skeldir: ")
    assert message in result.stderr


def test_dead_letters_are_listed_and_replayed_after_a_mapping_fix(clone: Database, tenant: dict) -> None:
    s = Sender("standard", tenant, tenant["secrets"]["standard"])
    dead = [receive(clone, s, s.deliver(s.sample(currency="XTS"))) for _ in range(2)]
    other = receive(clone, s, s.deliver(s.sample(amount="1.001")))
    assert [d["reason"] for d in [*dead, other]] == ["bad_currency", "bad_currency", "bad_amount"]

    listed = json.loads(skeldir(clone, "dlq", "list", "--tenant", tenant["slug"], "--reason", "bad_currency",
                                "--json").stdout)  # fmt: skip
    assert sorted(r["dead_event_id"] for r in listed) == sorted(d["dead_event_id"] for d in dead)

    # Before the fix a replay fails again: exit 3, the rows stay pending.
    assert skeldir(clone, "dlq", "replay", str(dead[0]["dead_event_id"])).returncode == 3

    # The fix: XTS (the ISO 4217 testing code) becomes a known currency.
    with psycopg.connect(clone.migration) as conn:
        conn.execute("INSERT INTO skeldir.currencies (code, exponent) VALUES ('XTS', 2)")
    result = skeldir(clone, "dlq", "replay", "--reason", "bad_currency", "--json")
    assert result.returncode == 0, result.stderr
    replayed = json.loads(result.stdout)
    assert [r["outcome"] for r in replayed] == ["accepted", "accepted"]

    # Dedupe holds: replaying again is a duplicate of the same event.
    again = json.loads(skeldir(clone, "dlq", "replay", str(dead[0]["dead_event_id"]), "--json").stdout)
    assert again[0]["outcome"] == "duplicate" and again[0]["event_id"] == replayed[0]["event_id"]
    twice = skeldir(clone, "dlq", "replay", str(dead[1]["dead_event_id"]))
    assert (twice.returncode, twice.stdout.splitlines()[-1]) == (0, "(1 dead letter replayed: 1 duplicate)")

    with psycopg.connect(clone.app) as conn:
        conn.execute("SELECT api.tenant_set(%s)", [tenant["tenant_id"]])
        marked = conn.execute("SELECT dead_event_id, replay_outcome, replay_event_id FROM api.dead_letters"
                              " WHERE replayed_at IS NOT NULL ORDER BY 1").fetchall()  # fmt: skip
        sources = conn.execute("SELECT replayed_from FROM api.events ORDER BY 1").fetchall()
    assert [m[0] for m in marked] == sorted(d["dead_event_id"] for d in dead)
    assert sources == [(d["dead_event_id"],) for d in sorted(dead, key=lambda d: d["dead_event_id"])]

    pending = json.loads(skeldir(clone, "dlq", "list", "--json").stdout)
    assert [(r["dead_event_id"], r["reason"]) for r in pending] == [(other["dead_event_id"], "bad_amount")]
    everything = skeldir(clone, "dlq", "list", "--all")
    assert everything.returncode == 0 and "(3 dead letters)" in everything.stdout


def test_invalid_json_dead_letter_is_reported_not_replayable(clone: Database, tenant: dict) -> None:
    s = Sender("standard", tenant, tenant["secrets"]["standard"])
    dead = receive(clone, s, s.deliver(b"{not json"))
    assert dead["reason"] == "invalid_json"
    result = skeldir(clone, "dlq", "replay", str(dead["dead_event_id"]))
    assert result.returncode == 3
    assert result.stdout.splitlines() == [
        f"dead letter {dead['dead_event_id']}: not_replayable"
        " (invalid_json: only the body's hash was kept; the sender must deliver it again)",
        "(1 dead letter: 1 not_replayable; 1 still pending, exit 3)",
    ]


def test_dlq_list_shows_the_detail_and_counts_in_the_singular(clone: Database, tenant: dict) -> None:
    s = Sender("standard", tenant, tenant["secrets"]["standard"])
    dead = receive(clone, s, s.deliver(s.sample(currency="XTS")))
    listed = json.loads(skeldir(clone, "dlq", "list", "--json").stdout)
    assert [r["dead_event_id"] for r in listed] == [dead["dead_event_id"]] and listed[0]["detail"]

    result = skeldir(clone, "dlq", "list")
    assert result.returncode == 0, result.stderr
    header, row, total = result.stdout.splitlines()
    assert header.split()[-1] == "detail"
    assert row.endswith(listed[0]["detail"])
    assert total == "(1 dead letter)"


def test_dlq_replay_says_when_nothing_matched(clone: Database, tenant: dict) -> None:
    result = skeldir(clone, "dlq", "replay", "--reason", "bad_currency", "--tenant", tenant["slug"])
    assert (result.returncode, result.stdout) == (0, "(no pending dead letters matched; nothing replayed)\n")
