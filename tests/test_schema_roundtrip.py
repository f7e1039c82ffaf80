"""sqitch deploy -> verify -> revert -> deploy is clean and leaves the same schema."""

from __future__ import annotations

import psycopg

from skeldir.ops.cluster import Cluster, last_line
from skeldir.tools.prove.context import schema_dump


def test_deploy_verify_revert_deploy_round_trip_leaves_identical_schema(cluster: Cluster) -> None:
    database = "skeldir_roundtrip"
    with psycopg.connect(cluster.admin_dsn("postgres"), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    cluster.bootstrap(database, cron=False)

    for action in ("deploy", "verify"):
        result = cluster.sqitch(action, database=database)
        assert result.returncode == 0, f"{action}: {last_line(result)}"
    first = schema_dump(cluster, database)

    result = cluster.sqitch("revert", database=database)
    assert result.returncode == 0, f"revert: {last_line(result)}"
    with psycopg.connect(cluster.admin_dsn(database)) as conn:
        leftovers = conn.execute(
            "SELECT n.nspname FROM pg_namespace n WHERE n.nspname IN ('skeldir', 'api', 'pgmq')"
        ).fetchall()
    assert leftovers == [], f"revert left schemas behind: {leftovers}"

    result = cluster.sqitch("deploy", database=database)
    assert result.returncode == 0, f"redeploy: {last_line(result)}"
    assert schema_dump(cluster, database) == first


def test_verify_fails_when_a_deployed_object_is_missing(cluster: Cluster) -> None:
    database = "skeldir_verifyfail"
    with psycopg.connect(cluster.admin_dsn("postgres"), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    cluster.bootstrap(database, cron=False)
    assert cluster.sqitch("deploy", database=database).returncode == 0
    with psycopg.connect(cluster.admin_dsn(database), autocommit=True) as conn:
        conn.execute("DROP FUNCTION api.webhook_receive(text, text, jsonb, bytea, text)")
    result = cluster.sqitch("verify", database=database)
    assert result.returncode != 0
    assert "function_webhook_receive" in result.stdout + result.stderr
