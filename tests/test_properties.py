"""Property tests through the real shell: whatever the bytes, the answer is a defined status
(never a 5xx) and the database holds exactly what the answer says, nothing half-written."""

from __future__ import annotations

import json
from urllib.parse import quote

import httpx
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from vendor_signers import Sender, sender, uid

from support import Database

OUTCOMES = {"accepted", "duplicate", "dead_lettered", "ignored"}
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))

json_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=20) | st.floats(allow_nan=False)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=30)  # fmt: skip


@st.composite
def order_like(draw) -> bytes:
    """Shopify-shaped orders whose fields are anything: right, wrong type, missing, enormous."""
    doc = {
        "id": draw(st.integers(min_value=-(10**30), max_value=10**30) | st.text(max_size=30) | json_values),
        "currency": draw(st.sampled_from(["USD", "JPY", "KWD", "usd", "", "XXX"]) | json_values),
        "total_price": draw(st.decimals(allow_nan=False, allow_infinity=False).map(str) | json_values),
        "created_at": draw(st.datetimes().map(lambda d: d.isoformat()) | st.text(max_size=30) | json_values),
        "landing_site": draw(st.text(max_size=60) | json_values),
        "note_attributes": draw(json_values),
    }
    return json.dumps({k: v for k, v in doc.items() if draw(st.booleans()) or k == "id"}).encode()


@st.composite
def hostile_json(draw) -> bytes:
    depth = draw(st.integers(min_value=1, max_value=20000))
    digits = draw(st.integers(min_value=1, max_value=3000))
    return draw(st.sampled_from([
        b"[" * depth + b"]" * depth,                                   # deep nesting
        b'{"a":' * depth + b"1" + b"}" * depth,
        b'{"id": ' + b"9" * digits + b', "total_price": "1e' + str(digits).encode() + b'", "currency": "USD"}',
        b'{"id": 1e1000000, "currency": "USD", "total_price": "1"}',  # out of numeric range
        b'{"id": 1, "id": 2, "currency": "USD", "currency": "JPY", "total_price": "1", "total_price": "2.5",'
        b' "created_at": "2024-01-01T00:00:00Z"}',                     # duplicate keys: last one wins
        b'{"id": 1, "note": "\\u0000"}',                               # NUL escape: not storable as jsonb
        b'{"id": "\xff\xfe", "currency": "USD"}',                      # invalid UTF-8
        b"\xef\xbb\xbf{}",                                             # BOM
        b"",
    ]))  # fmt: skip


def snapshot(db: Database, tenant_id: str) -> tuple[int, int, int]:
    """(events, dead letters, attribution tasks ever enqueued for this tenant), as superuser."""
    with psycopg.connect(db.admin) as conn:
        row = conn.execute(
            """SELECT (SELECT count(*) FROM skeldir.attribution_events WHERE tenant_id = %(t)s),
                      (SELECT count(*) FROM skeldir.dead_letters WHERE tenant_id = %(t)s),
                      (SELECT count(*) FROM (SELECT message FROM pgmq.q_attribution
                                             UNION ALL SELECT message FROM pgmq.a_attribution) m
                        WHERE m.message ->> 'tenant_id' = %(t)s::text)""",
            {"t": tenant_id},
        ).fetchone()
    assert row is not None
    return row[0], row[1], row[2]


def check_delivery(s: Sender, db: Database, body: bytes, signed: bool = True) -> None:
    before = snapshot(db, s.tenant["tenant_id"])
    d = s.deliver(body, topic="orders/create") if signed else s.deliver(body, secret="wrong-secret-123")
    response = httpx.post(d.url, content=d.body, headers=d.headers, timeout=30)
    after = snapshot(db, s.tenant["tenant_id"])
    assert response.status_code in (200, 401), response.text
    answer = response.json()
    delta = tuple(a - b for a, b in zip(after, before, strict=True))
    if response.status_code == 401:
        assert answer == {"status": "unauthorized"} and delta == (0, 0, 0)
        return
    assert answer["status"] in OUTCOMES
    expected = {"accepted": (1, 0, 1), "dead_lettered": (0, 1, 0), "duplicate": (0, 0, 0), "ignored": (0, 0, 0)}
    assert delta == expected[answer["status"]], (answer, delta)


@pytest.fixture
def shopify(new_tenant, main_db: Database) -> Sender:
    return sender("shopify", new_tenant(f"props {uid()}"), main_db.migration)


def test_arbitrary_signed_bytes_get_a_defined_answer_and_consistent_rows(shopify, main_db) -> None:
    @SETTINGS
    @given(st.binary(max_size=3000))
    def run(body: bytes) -> None:
        check_delivery(shopify, main_db, body)

    run()


def test_order_shaped_documents_with_any_field_values(shopify, main_db) -> None:
    @SETTINGS
    @given(order_like())
    def run(body: bytes) -> None:
        check_delivery(shopify, main_db, body)

    run()


def test_hostile_json_deep_huge_duplicate_keys_invalid_utf8(shopify, main_db) -> None:
    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
    @given(hostile_json())
    def run(body: bytes) -> None:
        check_delivery(shopify, main_db, body)

    run()


def test_unsigned_arbitrary_bytes_are_401_and_store_nothing(shopify, main_db) -> None:
    @SETTINGS
    @given(st.binary(max_size=2000))
    def run(body: bytes) -> None:
        check_delivery(shopify, main_db, body, signed=False)

    run()


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(vendor=st.text(min_size=1, max_size=20).filter(lambda v: "/" not in v and v not in (".", "..")),
       token=st.text(min_size=1, max_size=40).filter(lambda v: "/" not in v and v not in (".", "..")),
       body=st.binary(max_size=500))  # fmt: skip
def test_any_vendor_and_token_in_the_path_is_never_a_5xx(shell, vendor: str, token: str, body: bytes) -> None:
    response = httpx.post(f"{shell}/webhooks/{quote(vendor, safe='')}/{quote(token, safe='')}", content=body)
    assert response.status_code in (400, 401, 404), response.text
    assert response.json()["status"] in ("bad_request", "unauthorized", "unknown_vendor", "not_found")
