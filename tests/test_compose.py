"""compose.yaml cannot run here (no Docker engine): keep it consistent with the code instead.

Service names, environment variables, ports, commands and health checks are checked
against the CLI parser, skeldir.config.ENV_DOC and the shell's routes; the bootstrap
service's commands are run for real against the test cluster.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
import yaml

from skeldir.cli import build_parser
from skeldir.config import ENV_DOC, PROJECT_DIR
from skeldir.ops.cluster import DATABASE, Cluster

COMPOSE = yaml.safe_load((PROJECT_DIR / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]
SKELDIR_SERVICES = ("bootstrap", "shell", "worker")
DSN_VARS = ("SKELDIR_ADMIN_DATABASE_URL", "SKELDIR_MIGRATION_DATABASE_URL", "SKELDIR_DATABASE_URL")


class MissingVariable(Exception):
    pass


def interpolate(value: str, environ: dict[str, str]) -> str:
    """Compose's variable substitution: ${V}, ${V:-d}, ${V-d}, ${V:?m}, ${V?m}, $$."""

    def one(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name"), match.group("op") or "", match.group("arg") or ""
        present = name in environ
        set_nonempty = present and environ[name] != ""
        if op in (":?", "?") and not (set_nonempty if op == ":?" else present):
            raise MissingVariable(f"{name}: {arg}")
        if op == ":-":
            return environ[name] if set_nonempty else arg
        if op == "-":
            return environ[name] if present else arg
        return environ.get(name, "")

    pattern = r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?])?(?P<arg>[^}]*)\}"
    return re.sub(pattern, one, value)


def command_of(service: str) -> list[str]:
    command = SERVICES[service]["command"]
    return shlex.split(command) if isinstance(command, str) else list(command)


def parse(argv: list[str]):
    return build_parser().parse_args(argv)


def test_services_are_the_documented_topology() -> None:
    assert set(SERVICES) == {"postgres", "bootstrap", "shell", "worker", "prometheus"}
    assert SERVICES["prometheus"]["profiles"] == ["metrics"]
    for name in SKELDIR_SERVICES:
        assert SERVICES[name]["build"] == "." and SERVICES[name]["image"] == "skeldir:local"


def test_every_skeldir_variable_is_documented_in_env_doc() -> None:
    for name in SKELDIR_SERVICES:
        for variable in SERVICES[name]["environment"]:
            assert variable in ENV_DOC, f"{name}: {variable} is not in skeldir.config.ENV_DOC"


@pytest.mark.parametrize("service", SKELDIR_SERVICES)
def test_dsns_are_required_with_a_message_and_never_defaulted(service: str) -> None:
    environment = SERVICES[service]["environment"]
    for variable in DSN_VARS:
        if variable not in environment:
            continue
        value = environment[variable]
        assert re.fullmatch(rf"\$\{{{variable}\?[^}}]+\}}", value), f"{service}: {variable} = {value!r}"
        with pytest.raises(MissingVariable, match=variable):
            interpolate(value, {})
        assert interpolate(value, {variable: "postgresql://x"}) == "postgresql://x"


def test_only_bootstrap_sees_privileged_dsns() -> None:
    assert set(DSN_VARS) <= set(SERVICES["bootstrap"]["environment"])
    for service in ("shell", "worker"):
        dsns = {v for v in SERVICES[service]["environment"] if v.endswith("DATABASE_URL")}
        assert dsns == {"SKELDIR_DATABASE_URL"}, service


def test_postgres_superuser_password_is_required() -> None:
    value = SERVICES["postgres"]["environment"]["POSTGRES_PASSWORD"]
    with pytest.raises(MissingVariable, match="POSTGRES_PASSWORD"):
        interpolate(value, {})


def test_shell_command_parses_and_its_port_is_published() -> None:
    args = parse(command_of("shell"))
    assert args.command == "serve" and args.host == "0.0.0.0"
    published = [p.rsplit(":", 1)[-1] for p in SERVICES["shell"]["ports"]]
    assert published == [str(args.port)]


def test_worker_command_parses_and_exports_on_all_interfaces() -> None:
    args = parse(command_of("worker"))
    assert args.command == "worker" and args.metrics_host == "0.0.0.0" and args.metrics_port == 9108


def test_only_the_worker_is_given_the_llm_provider_settings() -> None:
    """The worker calls the model; the shell never does, so it is not handed the key."""
    services = COMPOSE["services"]
    assert {"SKELDIR_LLM_OPENAI_BASE_URL", "SKELDIR_LLM_OPENAI_API_KEY_FILE"} <= set(services["worker"]["environment"])
    assert not any(k.startswith("SKELDIR_LLM_OPENAI") for k in services["shell"].get("environment", {}))


def test_bootstrap_runs_bootstrap_deploy_verify_in_that_order() -> None:
    assert SERVICES["bootstrap"]["entrypoint"] == ["/bin/sh", "-ec"]
    lines = [shlex.split(line) for line in command_of("bootstrap")[0].splitlines() if line.strip()]
    assert [line[:3] for line in lines] == [["skeldir", "db", a] for a in ("bootstrap", "deploy", "verify")]
    for line in lines:
        parse(line[1:])


def test_prometheus_scrapes_both_metrics_endpoints() -> None:
    config = yaml.safe_load(COMPOSE["configs"]["prometheus"]["content"])
    targets = {t for job in config["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]}
    shell, worker = parse(command_of("shell")), parse(command_of("worker"))
    assert targets == {f"shell:{shell.port}", f"worker:{worker.metrics_port}"}
    assert SERVICES["prometheus"]["configs"][0]["target"] == "/etc/prometheus/prometheus.yml"


def test_postgres_preloads_pg_cron_for_the_skeldir_database() -> None:
    settings = dict(arg.split("=", 1) for arg in SERVICES["postgres"]["command"] if "=" in arg)
    assert "pg_cron" in settings["shared_preload_libraries"].split(",")
    assert settings["cron.database_name"] == DATABASE
    assert settings["cron.use_background_workers"] == "on"
    assert "postgresql-15-cron" in SERVICES["postgres"]["build"]["dockerfile_inline"]


def test_start_order_waits_for_health_and_a_successful_bootstrap() -> None:
    assert SERVICES["bootstrap"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for service in ("shell", "worker"):
        assert SERVICES[service]["depends_on"] == {"bootstrap": {"condition": "service_completed_successfully"}}


def test_shell_healthcheck_probes_a_route_the_shell_serves() -> None:
    from skeldir.web.app import create_app

    probe = " ".join(SERVICES["shell"]["healthcheck"]["test"])
    url = re.search(r"http://127\.0\.0\.1:(\d+)(/[\w/]+)", probe)
    assert url is not None
    assert int(url.group(1)) == parse(command_of("shell")).port
    paths = {route.path for route in create_app("postgresql://unused").routes}
    assert url.group(2) in paths


def test_image_carries_what_the_cli_needs_at_runtime() -> None:
    dockerfile = (PROJECT_DIR / "Dockerfile").read_text()
    for needed in ("sqitch.plan", "sqitch.conf", "deploy", "revert", "verify", "sql", "shell"):
        assert re.search(rf"^COPY .*\b{re.escape(needed)}\b", dockerfile, re.MULTILINE), needed
    assert "pip install --no-cache-dir -e ." in dockerfile  # skeldir.config finds the plan next to shell/
    assert re.search(r"apt-get install .*\bsqitch\b.*\bpostgresql-client-15\b|postgresql-client-15.*sqitch", dockerfile)
    assert 'ENTRYPOINT ["skeldir"]' in dockerfile
    ignored = (PROJECT_DIR / ".dockerignore").read_text().split()
    assert {".skeldir", ".skeldir-test", "proof"} <= set(ignored)


def run_cli(argv: list[str], environ: dict[str, str]) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": os.environ.get("PYTHONPATH", ""), **environ}
    return subprocess.run([sys.executable, "-m", "skeldir.cli", *argv], env=env, capture_output=True, text=True)


def test_bootstrap_service_commands_run_against_a_real_server(cluster: Cluster) -> None:
    environ = {
        "SKELDIR_ADMIN_DATABASE_URL": cluster.admin_dsn("postgres"),
        "SKELDIR_MIGRATION_DATABASE_URL": cluster.dsn("migration_owner"),
        "SKELDIR_DATABASE_URL": cluster.dsn("app_user"),
    }
    for line in command_of("bootstrap")[0].splitlines():
        result = run_cli(shlex.split(line)[1:], environ)
        assert result.returncode == 0, f"{line}: {result.stderr}"


def test_bootstrap_creates_a_fresh_database_from_the_dsns(cluster: Cluster, tmp_path: Path) -> None:
    database = "skeldir_compose"
    with psycopg.connect(cluster.admin_dsn("postgres"), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    environ = {
        "SKELDIR_ADMIN_DATABASE_URL": cluster.admin_dsn("postgres"),
        "SKELDIR_MIGRATION_DATABASE_URL": cluster.dsn("migration_owner", database),
        "SKELDIR_DATABASE_URL": cluster.dsn("app_user", database),
    }
    try:
        for argv in (["db", "bootstrap", "--no-cron"], ["db", "deploy"], ["db", "verify"]):
            result = run_cli(argv, environ)
            assert result.returncode == 0, f"{argv}: {result.stderr}"
        with psycopg.connect(cluster.dsn("app_user", database)) as conn:
            assert conn.execute("SELECT * FROM api.session_identity()").fetchone() == ("app_user", False, False, 0)
            owner = conn.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", [database])
            assert owner.fetchone() == ("migration_owner",)
    finally:
        with psycopg.connect(cluster.admin_dsn("postgres"), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, "SKELDIR_ADMIN_DATABASE_URL is not set"),
        (
            {
                "SKELDIR_ADMIN_DATABASE_URL": "postgresql://postgres@h/postgres",
                "SKELDIR_MIGRATION_DATABASE_URL": "postgresql://postgres:pw@h/skeldir",
                "SKELDIR_DATABASE_URL": "postgresql://app_user:pw@h/skeldir",
            },
            "SKELDIR_MIGRATION_DATABASE_URL must connect as migration_owner, not postgres",
        ),
        (
            {
                "SKELDIR_ADMIN_DATABASE_URL": "postgresql://postgres@h/postgres",
                "SKELDIR_MIGRATION_DATABASE_URL": "postgresql://migration_owner:pw@h/skeldir",
                "SKELDIR_DATABASE_URL": "postgresql://app_user:pw@h/other",
            },
            "the DSNs name different databases",
        ),
    ],
)
def test_bootstrap_refuses_incomplete_or_inconsistent_dsns_in_one_line(environ: dict, message: str) -> None:
    result = run_cli(["db", "bootstrap"], environ)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert message in result.stderr
