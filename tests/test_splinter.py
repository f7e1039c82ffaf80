"""Supabase's splinter lints, run against the deployed database (issue 19 §2).

The lint SQL is vendored verbatim under tests/splinter/ (origin, commit and licence in its
README) and adapted at load time only where it names Supabase's roles and settings:
`authenticated` is app_user, `anon` a role with no grants, PostgREST's exposed schemas are
api and skeldir. The lints run against the session's deployed `skeldir` database (pg_cron
installed, no pgTAP), as an operator's database is.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from support import Database

LINT_DIR = Path(__file__).parent / "splinter"
ANON = "splinter_anon"

# Lints that apply to us: each must report nothing.
CLEAN = [
    "0003_auth_rls_initplan",
    "0004_no_primary_key",
    "0006_multiple_permissive_policies",
    "0007_policy_exists_rls_disabled",
    "0009_duplicate_index",
    "0011_function_search_path_mutable",
    "0013_rls_disabled_in_public",
    "0014_extension_in_public",
    "0016_materialized_view_in_api",
    "0017_foreign_table_in_api",
    "0018_unsupported_reg_types",
    "0022_extension_versions_outdated",
    "0023_sensitive_columns_exposed",
    "0024_rls_policy_always_true",
    "0028_anon_security_definer_function_executable",
]

# Vendored, not asserted: what each would report is a deliberate design.
SKIPPED = {
    "0001_unindexed_foreign_keys": "attribution_events.currency and llm_model_prices.cheaper_model reference small "
    "lookup tables whose rows are never deleted; an index on the event's currency would cost every ingest",
    "0008_rls_enabled_no_policy": "internal tables (settings, breakers, refresh state) have RLS on and no policy on "
    "purpose: no role but their owner may read them (graphile-worker's pattern, STYLE)",
    "0010_security_definer_view": "the api views are the tenant-filtering security_barrier views SPEC §4 asks for: "
    "they run as their owner because matviews cannot carry RLS, and filter by the tenant GUC themselves",
    "0029_authenticated_security_definer_function_executable": "the api schema is the surface of definer functions "
    "app_user exists to call (SPEC §1, STYLE 2); which ones it may call is pinned by tests/pgtap/privileges.sql "
    "and definer_hygiene.sql",
}


def lint_query(stem: str) -> str:
    """A lint view as a query, built as splinter's bin/compile.py builds splinter.sql, roles adapted."""
    text = (LINT_DIR / f"{stem}.sql").read_text()
    query = "\n".join(line.replace(";", "") for line in text.strip().splitlines() if "create view" not in line)
    return query.replace("'authenticated'", "'app_user'").replace("'anon'", f"'{ANON}'")


def findings(conn: psycopg.Connection, stem: str) -> list[tuple[str, dict]]:
    return conn.execute(f"SELECT detail, metadata FROM ({lint_query(stem)}) AS lint").fetchall()


@pytest.fixture
def linted(main_db: Database) -> Iterator[psycopg.Connection]:
    """A superuser transaction on the deployed database with splinter's context; rolled back."""
    with psycopg.connect(main_db.admin) as conn:
        conn.execute(f"CREATE ROLE {ANON} NOLOGIN")
        conn.execute("SET LOCAL pgrst.db_schemas = 'api, skeldir'")
        yield conn
        conn.rollback()


def sql_standard_bodies(conn: psycopg.Connection) -> set[tuple[str, str]]:
    rows = conn.execute(
        "SELECT pronamespace::regnamespace::text, proname FROM pg_proc "
        "WHERE pronamespace IN ('api'::regnamespace, 'skeldir'::regnamespace) AND prosqlbody IS NOT NULL"
    ).fetchall()
    return set(rows)


def test_every_vendored_lint_is_asserted_clean_or_skipped_with_a_reason() -> None:
    vendored = {p.stem for p in LINT_DIR.glob("*.sql")}
    assert vendored == set(CLEAN) | set(SKIPPED)
    assert not set(CLEAN) & set(SKIPPED)


@pytest.mark.parametrize("stem", [s for s in CLEAN if s != "0011_function_search_path_mutable"])
def test_splinter_lint_reports_nothing_on_the_deployed_schema(linted: psycopg.Connection, stem: str) -> None:
    assert findings(linted, stem) == []


def test_function_search_path_mutable_reports_only_functions_with_a_sql_standard_body(
    linted: psycopg.Connection,
) -> None:
    """BEGIN ATOMIC bodies are bound at creation (no search_path applies): the documented exception."""
    reported = {(m["schema"], m["name"]) for _, m in findings(linted, "0011_function_search_path_mutable")}
    atomic = sql_standard_bodies(linted)
    assert atomic, "the hot SQL helpers have SQL-standard bodies (not vacuous)"
    assert reported == atomic


def test_the_adapted_lints_catch_what_they_are_for(linted: psycopg.Connection) -> None:
    """Controls: the three lints of issue 19 report a probe of each kind, so their silence above means something."""
    linted.execute("CREATE FUNCTION skeldir.splinter_probe() RETURNS int LANGUAGE sql AS 'SELECT 1'")
    linted.execute("CREATE EXTENSION tsm_system_rows SCHEMA public")
    linted.execute("CREATE TABLE skeldir.splinter_probe (tenant_id uuid PRIMARY KEY)")
    linted.execute("ALTER TABLE skeldir.splinter_probe ENABLE ROW LEVEL SECURITY")
    linted.execute("CREATE POLICY one ON skeldir.splinter_probe FOR SELECT TO app_user USING (true)")
    linted.execute("CREATE POLICY two ON skeldir.splinter_probe FOR SELECT TO app_user USING (true)")
    linted.execute(
        "CREATE FUNCTION api.splinter_probe() RETURNS int LANGUAGE sql SECURITY DEFINER"
        " SET search_path = '' AS 'SELECT 1'"
    )
    linted.execute("GRANT EXECUTE ON FUNCTION api.splinter_probe() TO PUBLIC")

    def details(stem: str) -> str:
        return "\n".join(detail for detail, _ in findings(linted, stem))

    assert "skeldir.splinter_probe" in details("0011_function_search_path_mutable")
    assert "tsm_system_rows" in details("0014_extension_in_public")
    assert re.search(r"splinter_probe.*app_user.*SELECT", details("0006_multiple_permissive_policies"))
    assert "api.splinter_probe" in details("0028_anon_security_definer_function_executable")
