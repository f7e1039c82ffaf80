"""PII scan: after PII-heavy deliveries for every vendor (accepted, dead-lettered, ignored), no
email, phone, name, address, IP or browser string appears in any text or json column of any
table or materialized view of the database."""

from __future__ import annotations

import httpx
import psycopg
from psycopg import sql
from vendor_signers import Sender, sender, uid

from support import Database

SCANNED_TYPES = ("text", "character varying", "character", "json", "jsonb", "name")


def pii(tag: str) -> dict[str, str]:
    return {
        "email": f"zed.{tag}@pii-example.org",
        "first": f"Zebedee{tag}",
        "last": f"Quimby{tag}",
        "phone": f"+1-555-{tag[:4]}",
        "street": f"{tag} Elm Street",
        "city": f"Springfield{tag}",
        "ip": "198.51.100.77",
        "agent": f"Mozilla/5.0 PiiAgent{tag}",
    }


def payloads(vendor: str, s: Sender, p: dict[str, str]) -> list[tuple[dict, dict]]:
    """(document, deliver() keyword arguments): one accepted, one dead-lettered, one ignored."""
    address = {"first_name": p["first"], "last_name": p["last"], "address1": p["street"], "city": p["city"],
               "zip": "12345", "phone": p["phone"], "name": f"{p['first']} {p['last']}"}  # fmt: skip
    if vendor == "shopify":
        doc = s.sample(email=p["email"], contact_email=p["email"], phone=p["phone"], browser_ip=p["ip"],
                       customer={"id": 1, "email": p["email"], "first_name": p["first"], "default_address": address},
                       billing_address=address, shipping_address=address, note=f"call {p['phone']}",
                       client_details={"browser_ip": p["ip"], "user_agent": p["agent"]},
                       note_attributes=[{"name": "email", "value": p["email"]}, {"name": "phone", "value": p["phone"]},
                                        {"name": "utm_source", "value": "google"}])  # fmt: skip
        broken = {**doc, "total_price": "abc"}
        return [(doc, {}), (broken, {}), (doc, {"topic": "customers/create"})]
    if vendor == "woocommerce":
        doc = s.sample(billing={**address, "address_1": p["street"], "email": p["email"], "company": p["last"]},
                       shipping={**address, "address_1": p["street"]}, customer_ip_address=p["ip"],
                       customer_user_agent=p["agent"], customer_note=f"I am {p['first']}",
                       meta_data=[{"id": 1, "key": "_wc_order_attribution_user_agent", "value": p["agent"]},
                                  {"id": 2, "key": "_wc_order_attribution_utm_source", "value": "google"}])  # fmt: skip
        return [(doc, {}), ({**doc, "currency": "ZZZ"}, {}), ({**doc, "status": "pending"}, {})]
    if vendor == "paypal":
        doc = s.sample()
        doc["resource"].update(
            payer={"email_address": p["email"], "name": {"given_name": p["first"], "surname": p["last"]}},
            shipping={"name": {"full_name": p["first"]}, "address": {"address_line_1": p["street"],
                                                                      "admin_area_2": p["city"]}},
            payee={"email_address": p["email"]},
        )  # fmt: skip
        broken = {**doc, "create_time": None}
        return [(doc, {}), (broken, {}), ({**doc, "event_type": "CUSTOMER.DISPUTE.CREATED"}, {})]
    if vendor == "stripe":
        doc = s.sample()
        doc["data"]["object"].update(
            receipt_email=p["email"], customer_email=p["email"],
            billing_details={"name": p["first"], "email": p["email"], "phone": p["phone"],
                             "address": {"line1": p["street"], "city": p["city"]}},
            shipping={"name": p["last"], "phone": p["phone"], "address": {"line1": p["street"]}},
            customer_details={"email": p["email"], "name": p["first"], "phone": p["phone"]},
        )  # fmt: skip
        broken = {**doc, "created": "yesterday"}
        return [(doc, {}), (broken, {}), ({**doc, "type": "customer.updated"}, {})]
    doc = s.sample(customer_email=p["email"], customer={"name": p["first"], "phone": p["phone"]})
    return [(doc, {}), ({**doc, "amount": "-1"}, {}), ({**doc, "type": "subscription.created"}, {})]


def pii_hits(conn: psycopg.Connection, needles: list[str]) -> list[tuple[str, str, str]]:
    """(schema.table, column, needle) for every needle found in any text/json column (superuser: no RLS)."""
    columns = conn.execute(
        """SELECT n.nspname, c.relname, a.attname
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
            WHERE c.relkind IN ('r', 'm', 'p')
              AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
              AND format_type(a.atttypid, NULL) = ANY(%s)""",
        [list(SCANNED_TYPES)],
    ).fetchall()
    hits = []
    for schema, table, column in columns:
        query = sql.SQL("SELECT n FROM unnest(%s::text[]) n WHERE EXISTS "
                        "(SELECT FROM {}.{} t WHERE t.{}::text ILIKE '%%' || n || '%%')").format(
            sql.Identifier(schema), sql.Identifier(table), sql.Identifier(column))  # fmt: skip
        hits += [(f"{schema}.{table}", column, n) for (n,) in conn.execute(query, [needles]).fetchall()]
    return hits


def test_no_pii_string_is_stored_anywhere_after_pii_heavy_deliveries(new_tenant, main_db: Database) -> None:
    tag = uid()
    p = pii(tag)
    outcomes = []
    for vendor in ("shopify", "woocommerce", "paypal", "stripe", "standard"):
        s = sender(vendor, new_tenant(f"pii {vendor}"), main_db.migration)
        for doc, kwargs in payloads(vendor, s, p):
            d = s.deliver(doc, **kwargs)
            response = httpx.post(d.url, content=d.body, headers=d.headers)
            assert response.status_code == 200, (vendor, response.text)
            outcomes.append((vendor, response.json()["status"]))
    assert sorted({o for _, o in outcomes}) == ["accepted", "dead_lettered", "ignored"]
    assert len([o for o in outcomes if o[1] == "accepted"]) == 5, outcomes

    needles = [p["email"], p["first"], p["last"], p["phone"], p["street"], p["city"], p["ip"], p["agent"], tag]
    with psycopg.connect(main_db.admin) as conn:
        # Positive control: the scanner finds needles planted in a table of its own.
        conn.execute("CREATE TEMP TABLE canary (note jsonb)")
        conn.execute("INSERT INTO canary VALUES (%s)", [f'{{"x": "{p["email"]}"}}'])
        assert {(table.split(".")[1], needle) for table, _, needle in pii_hits(conn, needles)} == {
            ("canary", p["email"]), ("canary", tag)}  # fmt: skip
        conn.execute("DROP TABLE canary")
        assert pii_hits(conn, needles) == []
