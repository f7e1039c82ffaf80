"""Issue 8: `skeldir prove` runs every gate on its own cluster and seals a verifiable pack."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from skeldir.tools.prove import context, runner
from skeldir.tools.prove.gates import dashboards, hygiene
from skeldir.tools.prove.pack import MANIFEST, SUMMARY, ZIP_NAME

# The gates that can run against this build and must pass; the others report not_available
# until their issue lands (then they must pass too: see test_every_gate_is_reported).
MUST_PASS = {
    "identity",
    "schema",
    "pgtap",
    "e2e_stripe",
    "poison_pill",
    "load",
    "failure_worker",
    "failure_database",
    "hygiene",
}


def skeldir(*args: str, extra_env: dict[str, str] | None = None, timeout: float = 900) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != context.FAULT_ENV} | (extra_env or {})
    return subprocess.run(
        [sys.executable, "-m", "skeldir.cli", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def quick_pack(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, Path]:
    """One real `skeldir prove --quick` run for the whole module."""
    out = tmp_path_factory.mktemp("proof") / "pack"
    return skeldir("prove", "--quick", "--out", str(out)), out


def summary_of(pack: Path) -> dict:
    return json.loads((pack / SUMMARY).read_text())


def test_prove_quick_exits_zero_with_no_failed_gate(quick_pack) -> None:
    result, pack = quick_pack
    assert result.returncode == 0, result.stdout + result.stderr
    summary = summary_of(pack)
    assert summary["failed_gates"] == []
    assert summary["overall"] == "passed"
    passed = {g["name"] for g in summary["gates"] if g["status"] == "passed"}
    assert MUST_PASS <= passed, summary["gates"]
    assert passed == {g.name for g in runner.GATES}, "every gate must be available and pass"


def test_every_gate_is_reported_and_unavailable_ones_are_never_passed(quick_pack) -> None:
    _, pack = quick_pack
    gates = summary_of(pack)["gates"]
    assert [g["name"] for g in gates] == [g.name for g in runner.GATES]
    for gate in gates:
        assert gate["status"] in ("passed", "not_available"), gate
        assert gate["duration_s"] >= 0
        if gate["status"] == "not_available":
            assert gate["reason"], gate
            assert gate["figures"] == {}
        else:
            assert gate["evidence"], f"{gate['name']} passed without evidence"
            assert all((pack / path).is_file() for path in gate["evidence"])


def test_summary_records_versions_and_load_accounting(quick_pack) -> None:
    _, pack = quick_pack
    summary = summary_of(pack)
    versions = summary["versions"]
    assert versions["postgres"].startswith("15.")
    assert versions["pgmq_sql"] and versions["pgmq_pip"] and versions["pg_cron"] and versions["python"]
    load = next(g for g in summary["gates"] if g["name"] == "load")["figures"]
    assert load["seconds"] == 10.0
    assert load["sent"] == load["received"] == load["statuses"]["200"]
    assert load["outcomes"]["accepted"] == load["new_events"] > 0
    assert load["outcomes"]["dead_lettered"] == load["new_dead_letters"] > 0
    assert load["outcomes"]["duplicate"] > 0
    assert json.loads((pack / "gates" / "load" / "load.json").read_text())["sent"] == load["sent"]
    assert load["harness"] == "skeldir.loadtest"
    assert json.loads((pack / "gates" / "load" / "loadtest.json").read_text())["sent"] == load["sent"]


def test_identity_gate_saw_only_app_user_sessions_and_refusals(quick_pack) -> None:
    _, pack = quick_pack
    sessions = json.loads((pack / "gates" / "identity" / "sessions.json").read_text())
    assert {s["application_name"] for s in sessions} == set(context.APP_NAMES.values())
    assert all(s["role_name"] == "app_user" and not s["bypass_rls"] and not s["is_superuser"] for s in sessions)
    controls = json.loads((pack / "gates" / "identity" / "negative_controls.json").read_text())
    assert len(controls) == 4
    assert all(c["exit"] == 2 and c["refused"] for c in controls)


def test_pack_verifies_and_its_zip_holds_every_file(quick_pack) -> None:
    _, pack = quick_pack
    result = skeldir("prove", "--verify", str(pack))
    assert result.returncode == 0, result.stderr
    listed = [line.split("  ", 1)[1] for line in (pack / MANIFEST).read_text().splitlines()]
    assert SUMMARY in listed and "logs/shell.log" in listed and "logs/worker.log" in listed
    with zipfile.ZipFile(pack / ZIP_NAME) as archive:
        assert set(archive.namelist()) == {*listed, MANIFEST}


@pytest.mark.parametrize("target", ["gate_summary.json", "gates/load/load.json", "skeldir-proof.zip"])
def test_verify_detects_a_single_changed_byte(quick_pack, tmp_path: Path, target: str) -> None:
    _, pack = quick_pack
    copy = tmp_path / "pack"
    shutil.copytree(pack, copy)
    path = copy / target
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle] ^= 0x01
    path.write_bytes(bytes(data))
    result = skeldir("prove", "--verify", str(copy))
    assert result.returncode == 2
    assert target in result.stderr


def test_verify_detects_an_added_and_a_removed_file(quick_pack, tmp_path: Path) -> None:
    _, pack = quick_pack
    copy = tmp_path / "pack"
    shutil.copytree(pack, copy)
    (copy / "logs" / "extra.log").write_text("slipped in\n")
    (copy / "gates" / "identity" / "sessions.json").unlink()
    result = skeldir("prove", "--verify", str(copy))
    assert result.returncode == 2
    assert "logs/extra.log: not in the manifest" in result.stderr
    assert "gates/identity/sessions.json: listed in the manifest but missing" in result.stderr


def test_deliberately_broken_identity_gate_fails_prove_and_names_it(tmp_path: Path) -> None:
    out = tmp_path / "broken"
    result = skeldir("prove", "--gates", "identity", "--out", str(out), extra_env={context.FAULT_ENV: "identity"})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "failed gate(s): identity" in result.stdout
    summary = summary_of(out)
    assert summary["overall"] == "failed"
    assert summary["failed_gates"] == ["identity"]
    gate = summary["gates"][0]
    assert gate["figures"]["fault_injected"] is True
    assert gate["figures"]["privileged_sessions"] > 0
    assert "privileged runtime sessions" in gate["reason"]
    assert skeldir("prove", "--verify", str(out)).returncode == 0


def test_prove_refuses_a_non_empty_out_dir_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine\n")
    result = skeldir("prove", "--out", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "is not empty" in result.stderr
    assert (tmp_path / "keep.txt").read_text() == "mine\n"


def test_prove_rejects_an_unknown_gate_name(tmp_path: Path) -> None:
    result = skeldir("prove", "--gates", "identity,nope", "--out", str(tmp_path / "x"))
    assert result.returncode == 2
    assert "unknown gate(s) nope" in result.stderr


def record(name: str, status: str, required: bool = True) -> dict:
    return {"name": name, "status": status, "required": required}


@pytest.mark.parametrize(
    ("records", "allow", "expected"),
    [
        ([record("a", "passed"), record("b", "passed")], False, ("passed", 0)),
        ([record("a", "passed"), record("b", "not_available")], False, ("incomplete", 3)),
        ([record("a", "passed"), record("b", "not_available")], True, ("incomplete", 0)),
        ([record("a", "failed"), record("b", "not_available")], True, ("failed", 1)),
        ([record("a", "failed", required=False), record("b", "passed")], False, ("incomplete", 3)),
        ([], False, ("incomplete", 3)),
    ],
)
def test_verdict_never_counts_an_unavailable_gate_as_passed(records, allow, expected) -> None:
    assert runner.verdict(records, allow) == expected


def offline_context(tmp_path: Path) -> context.Context:
    """A Context over a cluster folder with logs only: for gates that read files, no server."""
    from skeldir.config import Settings
    from skeldir.ops.cluster import Cluster

    cluster = Cluster(Settings(**{**Settings.from_env().__dict__, "home": tmp_path / "home"}))
    cluster.log_file.parent.mkdir(parents=True)
    cluster.log_file.write_text("2026-11-23 LOG:  checkpoint complete\n")
    pack = tmp_path / "pack"
    (pack / "logs").mkdir(parents=True)
    (pack / "logs" / "shell.log").write_text("shell connecting as app_user\n")
    return context.Context(cluster=cluster, pack=pack, quick=True)


def test_hygiene_gate_passes_clean_logs(tmp_path: Path) -> None:
    ctx = offline_context(tmp_path)
    ctx.sensitive.add("whsec_not_in_any_log")
    figures = hygiene.gate_hygiene(ctx)
    assert figures["findings"] == 0
    assert set(figures["files"]) == {"postgres.log", "shell.log"}


@pytest.mark.parametrize(
    ("log", "line"),
    [
        ("shell.log", "webhook from buyer prove.1234@example.com"),  # a value sent during the run
        ("worker.log", "secret whsec_0123456789abcdef leaked"),  # any webhook secret shape
        ("shell.log", "Stripe-Signature: t=1,v1=" + "ab" * 32),
        ("postgres.log", "connection to postgresql://app_user:hunter2@127.0.0.1/skeldir"),
        ("postgres.log", "password PASSWORD-OF-APP-USER"),  # a role password
    ],
)
def test_hygiene_gate_fails_on_a_secret_or_pii_in_any_log(tmp_path: Path, log: str, line: str) -> None:
    ctx = offline_context(tmp_path)
    ctx.sensitive.add("prove.1234@example.com")
    passwords = ctx.cluster.passwords()
    line = line.replace("PASSWORD-OF-APP-USER", passwords["app_user"])
    target = ctx.cluster.log_file if log == "postgres.log" else ctx.pack / "logs" / log
    with target.open("a") as fh:
        fh.write(line + "\n")
    with pytest.raises(context.GateFailed):
        hygiene.gate_hygiene(ctx)
    findings = (ctx.pack / "gates" / "hygiene" / "findings.json").read_text()
    assert json.loads(findings)
    for leaked in ("@example.com", "whsec_", "v1=", "hunter2", passwords["app_user"]):
        assert leaked not in findings  # findings carry hashes, never the value


def test_run_gate_reports_unavailable_and_crashing_gates_honestly(tmp_path: Path) -> None:
    ctx = offline_context(tmp_path)

    def unavailable(_: context.Context) -> dict:
        raise context.NotAvailable("feature X is not in this build")

    def crashing(_: context.Context) -> dict:
        raise KeyError("boom")

    first = runner.run_gate(runner.Gate("x", unavailable), ctx)
    assert first["status"] == "not_available" and first["figures"] == {}
    assert first["reason"] == "feature X is not in this build"
    second = runner.run_gate(runner.Gate("y", crashing), ctx)
    assert second["status"] == "failed" and "KeyError" in second["reason"]


def test_dashboards_gate_runs_each_file_under_a_tenant_and_requires_rows(
    cluster, new_tenant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx

    from support import dumps, stripe_event, stripe_signature

    tenant = new_tenant()
    body = dumps(stripe_event())
    signature = stripe_signature(body, tenant["secrets"]["stripe"])
    response = httpx.post(tenant["endpoints"]["stripe"], content=body, headers={"Stripe-Signature": signature})
    assert response.status_code == 200
    folder = tmp_path / "dashboards"
    folder.mkdir()
    (folder / "events.sql").write_text("SELECT vendor, count(*) AS events FROM api.events GROUP BY vendor;\n")
    monkeypatch.setattr(dashboards, "dashboard_command_available", lambda: False)  # the psql path of SPEC §8
    monkeypatch.setattr(dashboards, "dashboard_files", lambda: sorted(folder.glob("*.sql")))
    ctx = context.Context(cluster=cluster, pack=tmp_path / "pack", quick=True, tenants=[tenant])

    figures = dashboards.gate_dashboards(ctx)
    assert figures["rows"] == {"events": 1} and figures["via"] == "psql"
    assert (tmp_path / "pack" / "gates" / "dashboards" / "events.csv").read_text() == "vendor,events\nstripe,1\n"

    other = context.Context(cluster=cluster, pack=tmp_path / "pack2", quick=True, tenants=[new_tenant("Quiet")])
    with pytest.raises(context.GateFailed, match="empty: \\['events'\\]"):
        dashboards.gate_dashboards(other)  # a tenant with no events: the dashboard returns no rows

    (folder / "broken.sql").write_text("SELECT * FROM skeldir.attribution_events;\n")  # app_user may not
    with pytest.raises(context.GateFailed, match="broken"):
        dashboards.gate_dashboards(ctx)
