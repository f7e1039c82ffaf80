"""docs/standard-webhooks.schema.json and the SQL mapping of vendor `standard` agree."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import jsonschema
import pytest
from vendor_signers import sender

from support import Database

SCHEMA = json.loads((Path(__file__).parents[1] / "docs" / "standard-webhooks.schema.json").read_text())


def test_schema_is_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("example", SCHEMA["examples"], ids=lambda e: e["type"])
def test_documented_examples_validate_and_are_accepted(example, new_tenant, main_db: Database) -> None:
    jsonschema.validate(example, SCHEMA)
    s = sender("standard", new_tenant("schema"), main_db.migration)
    d = s.deliver(example)
    assert httpx.post(d.url, content=d.body, headers=d.headers).json()["status"] == "accepted"


@pytest.mark.parametrize(
    "change",
    [{"amount": "-1.00"}, {"amount": 12.5}, {"currency": "EURO"}, {"order_ref": None}, {"occurred_at": None}],
    ids=["negative", "number", "currency", "no-order-ref", "no-time"],
)
def test_documents_the_schema_rejects_are_dead_lettered(change, new_tenant, main_db: Database) -> None:
    doc = {k: v for k, v in {**SCHEMA["examples"][0], **change}.items() if v is not None}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, SCHEMA)
    s = sender("standard", new_tenant("schema"), main_db.migration)
    d = s.deliver(doc)
    assert httpx.post(d.url, content=d.body, headers=d.headers).json()["status"] == "dead_lettered"


def test_every_documented_type_is_mapped_and_others_are_ignored(new_tenant, main_db: Database) -> None:
    s = sender("standard", new_tenant("schema"), main_db.migration)
    for kind in SCHEMA["properties"]["type"]["enum"]:
        doc = {**SCHEMA["examples"][0], "type": kind, "payment_ref": "p-1"}
        d = s.deliver(doc)
        assert httpx.post(d.url, content=d.body, headers=d.headers).json()["status"] == "accepted", kind
    d = s.deliver({**SCHEMA["examples"][0], "type": "subscription.renewed"})
    assert httpx.post(d.url, content=d.body, headers=d.headers).json()["status"] == "ignored"
