"""Operator actions: thin calls of api functions as migration_owner."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

from skeldir.db import one_line
from skeldir.errors import CliError

VENDORS = ("stripe", "shopify", "woocommerce", "paypal", "standard")


def tenant_create(dsn: str, name: str, public_url: str) -> dict[str, Any]:
    try:
        with psycopg.connect(dsn, row_factory=dict_row) as conn:
            row = conn.execute("SELECT * FROM api.tenant_create(%s)", [name]).fetchone()
    except psycopg.Error as exc:
        raise CliError(one_line(exc)) from exc
    assert row is not None
    return {
        "tenant_id": str(row["tenant_id"]),
        "slug": row["slug"],
        "api_key": row["api_key"],
        "endpoints": {v: f"{public_url}/webhooks/{v}/{row['endpoint_tokens'][v]}" for v in VENDORS},
        "secrets": row["secrets"],
    }
