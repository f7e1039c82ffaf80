"""What is stored of a delivery is each vendor's projection (skeldir._project_<vendor>): the
fields its mapping reads, nothing else (SPEC §5, privacy by construction). Two properties over
rich documents of every vendor into which hypothesis puts personal data under neutral names,
at any depth:

- nothing the sender added outside the known fields is stored, whatever its name;
- the mapping reads the projection exactly as it reads the document (same facts, or the same
  refusal), so a dead letter's projection replays like the delivery; only the customer's email,
  which is never stored (its keyed hash is), is missing.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg.types.json import Jsonb

from support import Database

MARK = "piimark"

# Rich documents: every field a mapping reads, arrays included, and the personal data
# vendors really send in the fields named for it.
SAMPLES: dict[str, tuple[dict, dict]] = {
    "stripe": (
        {},
        {
            "id": "evt_1",
            "type": "charge.refunded",
            "created": 1709287200,
            "data": {
                "object": {
                    "id": "ch_1",
                    "object": "charge",
                    "amount": 2500,
                    "amount_refunded": 1500,
                    "currency": "usd",
                    "payment_intent": "pi_1",
                    "receipt_email": "jane.doe@example.com",
                    "billing_details": {"name": "Jane Doe", "email": "jane.doe@example.com", "phone": "+1 555"},
                    "metadata": {"order_id": "1001", "utm_source": "google", "utm_medium": "cpc", "note": "x"},
                    "refunds": {
                        "data": [
                            {"id": "re_2", "amount": 500, "created": 1709287300, "status": "succeeded"},
                            {"id": "re_1", "amount": 1000, "created": 1709287250, "reason": "requested"},
                        ]
                    },
                }
            },
        },
    ),
    "shopify": (
        {"x-shopify-topic": "orders/updated", "x-shopify-webhook-id": "w1"},
        {
            "id": 820982911946154508,
            "email": "jon@example.com",
            "contact_email": "jon@example.com",
            "created_at": "2024-03-01T10:15:00-05:00",
            "processed_at": "2024-03-01T10:16:00-05:00",
            "financial_status": "partially_refunded",
            "currency": "USD",
            "total_price": "199.99",
            "landing_site": "/products/a?utm_source=facebook&utm_medium=social&utm_campaign=spring",
            "referring_site": "https://www.facebook.com/",
            "source_name": "web",
            "customer": {"id": 1, "email": "jon@example.com", "first_name": "Jon"},
            "billing_address": {"address1": "1 Elm Street", "city": "Springfield"},
            "note_attributes": [{"name": "utm_campaign", "value": "spring"}, {"name": "email", "value": "j@x.io"}],
            "line_items": [{"id": 1, "product_id": 2, "variant_id": 3, "quantity": 1, "price": "199.99", "name": "A"}],
            "refunds": [
                {
                    "id": 9,
                    "order_id": 820982911946154508,
                    "created_at": "2024-03-02T10:00:00-05:00",
                    "note": "customer called",
                    "transactions": [
                        {
                            "id": 11,
                            "parent_id": 10,
                            "kind": "refund",
                            "status": "success",
                            "amount": "20.00",
                            "currency": "USD",
                            "receipt": {"x": 1},
                        },
                    ],
                }
            ],
        },
    ),
    "woocommerce": (
        {"x-wc-webhook-topic": "order.updated", "x-wc-webhook-delivery-id": "d1"},
        {
            "id": 4711,
            "status": "completed",
            "currency": "EUR",
            "total": "49.90",
            "transaction_id": "txn_1",
            "date_created_gmt": "2024-03-01T09:00:00",
            "date_paid_gmt": "2024-03-01T09:05:00",
            "date_modified_gmt": "2024-03-01T10:00:00",
            "billing": {"first_name": "Ana", "email": "ana@example.com"},
            "customer_ip_address": "198.51.100.7",
            "meta_data": [
                {"id": 1, "key": "_wc_order_attribution_utm_source", "value": "newsletter"},
                {"id": 2, "key": "_wc_order_attribution_user_agent", "value": "Mozilla/5.0"},
            ],
            "line_items": [{"id": 5, "product_id": 6, "variation_id": 0, "quantity": 2, "total": "49.90"}],
            "refunds": [{"id": 7, "reason": "damaged", "total": "-5.00"}],
        },
    ),
    "paypal": (
        {},
        {
            "id": "WH-1",
            "event_type": "PAYMENT.CAPTURE.REFUNDED",
            "create_time": "2024-03-01T10:00:00Z",
            "resource": {
                "id": "RF1",
                "amount": {"value": "10.50", "currency_code": "USD"},
                "invoice_id": "INV-1",
                "custom_id": "utm_source=google&utm_medium=cpc",
                "payer": {"email_address": "p@example.com", "name": {"given_name": "P"}},
                "links": [
                    {"rel": "self", "href": "https://api.paypal.com/v2/payments/refunds/RF1"},
                    {"rel": "up", "href": "https://api.paypal.com/v2/payments/captures/CAP1"},
                ],
            },
        },
    ),
    "standard": (
        {"webhook-id": "msg_1"},
        {
            "type": "refund.created",
            "order_ref": "o-1",
            "payment_ref": "p-1",
            "refund_ref": "r-1",
            "amount": "12.34",
            "currency": "USD",
            "occurred_at": "2024-03-01T10:00:00Z",
            "attribution": {"utm_source": "google", "utm_medium": "cpc", "landing_page": "/a"},
            "customer_email": "c@example.com",
        },
    ),
}

# Personal data under names no rule could know: free text, nested, in lists.
NEUTRAL_KEYS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=2, max_size=8).map(lambda s: "zz" + s)
PII_TEXT = st.sampled_from(
    [f"{MARK} call me on +1 555 0100", f"{MARK}.buyer@example.com", f"ship to 1 {MARK} Street", MARK]
)
PII_VALUES = st.recursive(
    PII_TEXT, lambda inner: st.lists(inner, min_size=1, max_size=3) | st.dictionaries(NEUTRAL_KEYS, inner, min_size=1)
)
INJECTIONS = st.lists(st.tuples(st.integers(min_value=0), NEUTRAL_KEYS, PII_VALUES), min_size=1, max_size=6)


def objects(doc: Any) -> list[dict]:
    """Every JSON object in the document, depth first."""
    found: list[dict] = []
    if isinstance(doc, dict):
        found.append(doc)
        for value in doc.values():
            found.extend(objects(value))
    elif isinstance(doc, list):
        for value in doc:
            found.extend(objects(value))
    return found


def inject(doc: dict, injections: list[tuple[int, str, Any]]) -> dict:
    doc = copy.deepcopy(doc)
    targets = objects(doc)
    for index, key, value in injections:
        targets[index % len(targets)].setdefault(key, value)
    return doc


@pytest.fixture(scope="module")
def owner(main_db: Database) -> psycopg.Connection:
    with psycopg.connect(main_db.migration, autocommit=True) as conn:
        yield conn


def mapped(owner: psycopg.Connection, vendor: str, headers: dict, doc: Any) -> Any:
    """The facts the vendor's mapping makes of a document (customer email aside), or its refusal."""
    try:
        row = owner.execute(
            "SELECT pg_catalog.jsonb_agg(pg_catalog.to_jsonb(f) - 'customer_email' - 'ordinality'"
            "                            ORDER BY f.ordinality)"
            f"  FROM pg_catalog.unnest(skeldir._map_{vendor}(%s, %s)) WITH ORDINALITY AS f",
            [Jsonb(headers), Jsonb(doc)],
        ).fetchone()
    except psycopg.Error as exc:
        return ("refused", exc.sqlstate, exc.diag.message_primary)
    assert row is not None
    return row[0]


def projected(owner: psycopg.Connection, vendor: str, doc: Any) -> Any:
    row = owner.execute(f"SELECT skeldir._project_{vendor}(%s)", [Jsonb(doc)]).fetchone()
    assert row is not None
    return row[0]


@pytest.mark.parametrize("vendor", sorted(SAMPLES))
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(injections=INJECTIONS)
def test_the_projection_keeps_no_unknown_field_and_maps_like_the_document(
    owner: psycopg.Connection, vendor: str, injections: list[tuple[int, str, Any]]
) -> None:
    headers, sample = SAMPLES[vendor]
    doc = inject(sample, injections)
    stored = projected(owner, vendor, doc)
    text = json.dumps(stored)
    assert MARK not in text
    assert "example.com" not in text and "Springfield" not in text and "198.51.100.7" not in text
    assert mapped(owner, vendor, headers, stored) == mapped(owner, vendor, headers, doc)


@pytest.mark.parametrize("vendor", sorted(SAMPLES))
def test_the_sample_maps_to_facts_and_its_projection_to_the_same(owner: psycopg.Connection, vendor: str) -> None:
    """The samples above are real revenue: the property is not vacuously about refusals."""
    headers, doc = SAMPLES[vendor]
    facts = mapped(owner, vendor, headers, doc)
    assert isinstance(facts, list) and all(f["supported"] for f in facts), facts
    assert mapped(owner, vendor, headers, projected(owner, vendor, doc)) == facts


def test_an_email_in_a_known_free_text_field_is_masked(owner: psycopg.Connection) -> None:
    headers, doc = SAMPLES["standard"]
    doc = copy.deepcopy(doc)
    doc["attribution"]["utm_campaign"] = "write to jane.doe@example.com"
    assert projected(owner, "standard", doc)["attribution"]["utm_campaign"] == "[redacted]"


@pytest.mark.parametrize(
    "vendor,doc",
    [
        ("stripe", {"type": "charge.refunded", "data": {"object": "jane.doe@example.com"}}),
        ("shopify", {"refunds": ["jane.doe@example.com", {"transactions": "x"}], "note_attributes": 5}),
        ("woocommerce", {"refunds": [["nested"]], "meta_data": {"key": "x"}, "line_items": [1]}),
        ("paypal", {"resource": ["jane.doe@example.com"], "id": {"nested": "object"}}),
        ("standard", {"attribution": "jane.doe@example.com", "amount": [1, 2]}),
    ],
)
def test_a_document_of_the_wrong_shape_is_projected_without_error_or_content(
    owner: psycopg.Connection, vendor: str, doc: dict
) -> None:
    stored = projected(owner, vendor, doc)
    assert "example.com" not in json.dumps(stored) and "nested" not in json.dumps(stored)
    headers = SAMPLES[vendor][0]
    assert mapped(owner, vendor, headers, stored) == mapped(owner, vendor, headers, doc)


def test_app_user_cannot_call_a_projection(main_db: Database) -> None:
    """The projections are internal: only the ingest path, running as its owner, calls them."""
    with psycopg.connect(main_db.app) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT skeldir._project_stripe('{}')")
