"""skeldir._redact against an independent Python statement of the redaction rules (SPEC §5:
the stored payload has PII removed). The SQL is written for speed (exact names looked up as
jsonb keys, scalars handled inline, a regex only after a cheap pre-check); this oracle is
written for clarity, so a faster rewrite that changes what is removed fails here."""

from __future__ import annotations

import json
import re
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg.types.json import Jsonb

from support import Database

PII_NAMES = set(
    "name first_name last_name full_name given_name family_name middle_name surname username display_name "
    "company address address1 address2 address_1 address_2 line1 line2 street street_address city zip "
    "postcode postal_code phone mobile email ip ip_address browser_ip client_ip user_agent customer_user_agent "
    "customer_ip_address client_details browser_data billing shipping billing_address shipping_address "
    "billing_details shipping_details payer payer_info customer note customer_note dob birthday tax_id "
    "email_address address_line_1 address_line_2 admin_area_1 admin_area_2 customer_details contact "
    "recipient buyer_accepts_marketing_email".split()
)
PII_SUFFIX = re.compile(r"(^|_)(email|phone|ip_address|first_name|last_name|full_name|user_agent)$")
EMAIL = re.compile(r"[^ \t\n\r\f\v@]+@[^ \t\n\r\f\v@]+\.[A-Za-z]{2,}")


def pii_key(key: str | None) -> bool:
    return key is not None and (key.lower() in PII_NAMES or PII_SUFFIX.search(key.lower()) is not None)


def as_text(value: Any) -> str | None:
    """What ``->>`` gives for a JSON value: strings bare, other values as JSON text (only a
    string can name personal data, so the exact spacing of that text does not matter)."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)


def redact(doc: Any) -> Any:
    if isinstance(doc, dict):
        pair_key = as_text(doc["key"]) if doc.get("key") is not None else as_text(doc.get("name"))
        return {k: redact(v) for k, v in doc.items() if not pii_key(k) and not (k == "value" and pii_key(pair_key))}
    if isinstance(doc, list):
        return [redact(v) for v in doc]
    if isinstance(doc, str) and EMAIL.search(doc):
        return "[redacted]"
    return doc


KEYS = st.sampled_from(
    sorted(PII_NAMES)
    + ["Email", "BILLING", "receipt_email", "x_phone", "emails", "phone_number", "my_user_agent", "value"]
    + ["key", "id", "amount", "currency", "metadata", "data", "object", "note_attributes", "meta_data"]
) | st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=10)
STRINGS = st.sampled_from(
    ["buyer@example.com", "a@b.co", "not an email", "x@y", "@@", "mail me: jo.doe@shop.example.org now", ""]
) | st.text(alphabet="abc@. _-xyz", max_size=16)
SCALARS = st.none() | st.booleans() | st.integers(min_value=-(10**20), max_value=10**20) | STRINGS
DOCS = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(KEYS, inner, max_size=5)
        | st.fixed_dictionaries({"key": KEYS, "value": inner})
        | st.fixed_dictionaries({"name": KEYS, "value": inner})
    ),
    max_leaves=25,
)


@pytest.fixture(scope="module")
def owner(cluster) -> psycopg.Connection:
    with psycopg.connect(cluster.dsn("migration_owner"), autocommit=True) as conn:
        yield conn


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(doc=DOCS)
def test_redact_removes_exactly_what_the_rules_say(owner: psycopg.Connection, doc: Any) -> None:
    row = owner.execute("SELECT skeldir._redact(%s)", [Jsonb(doc)]).fetchone()
    assert row is not None
    assert row[0] == redact(doc)


def test_redact_of_a_realistic_event_keeps_everything_but_the_personal_data(owner: psycopg.Connection) -> None:
    doc = {
        "id": "evt_1",
        "data": {"object": {"amount": 2500, "receipt_email": "b@example.com", "metadata": {"utm_source": "google"}}},
        "meta_data": [{"key": "email", "value": "b@example.com"}, {"key": "utm", "value": "x"}],
    }
    row = owner.execute("SELECT skeldir._redact(%s)", [Jsonb(doc)]).fetchone()
    assert row is not None
    assert row[0] == {
        "id": "evt_1",
        "data": {"object": {"amount": 2500, "metadata": {"utm_source": "google"}}},
        "meta_data": [{"key": "email"}, {"key": "utm", "value": "x"}],
    }


def test_app_user_cannot_call_the_redaction_helper(main_db: Database) -> None:
    """The oracle runs as the owner: the helper is internal, no runtime role may call it."""
    with psycopg.connect(main_db.app) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT skeldir._redact('{}')")
