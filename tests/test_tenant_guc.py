"""SPEC §4: the tenant GUC is transaction-local, so a pooled connection never carries it on."""

from __future__ import annotations

import uuid

import psycopg

from support import Database


def test_tenant_guc_does_not_outlive_its_transaction(main_db: Database) -> None:
    tenant = uuid.uuid4()
    with psycopg.connect(main_db.app) as conn:
        with conn.transaction():
            conn.execute("SELECT api.tenant_set(%s)", [tenant])
            assert conn.execute("SELECT skeldir.current_tenant_id()").fetchone() == (tenant,)
        # Same connection (as a pool or PgBouncer in transaction mode would reuse it), next transaction.
        assert conn.execute("SELECT skeldir.current_tenant_id()").fetchone() == (None,)
