"""The ``skeldir`` command line. Every task is a subcommand with ``--help``.

Errors the operator can act on print one line to stderr and exit non-zero.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Callable

from skeldir.config import ENV_DOC, Settings, env
from skeldir.errors import CliError
from skeldir.ops import tenants
from skeldir.ops.cluster import ClusterError, last_line, print_progress, run_sqitch
from skeldir.ops.dsn import cluster, migration_dsn, runtime_dsn

Handler = Callable[[argparse.Namespace], int]


def public_url() -> str:
    """SKELDIR_PUBLIC_URL, else the URL of a running ``skeldir up`` (its --host/--port), else the default."""
    if env("SKELDIR_PUBLIC_URL") is None:
        from skeldir.ops import supervisor

        running = supervisor.running_public_url(cluster())
        if running:
            return running
    return Settings.from_env().public_url


# -- db ------------------------------------------------------------------------------


def cmd_db_up(args: argparse.Namespace) -> int:
    c = cluster()
    c.up(print_progress)
    print(f"postgres is up on 127.0.0.1:{c.port} (data: {c.data}); schema deployed")
    return 0


def cmd_db_down(args: argparse.Namespace) -> int:
    stopped = cluster().stop()
    print("postgres stopped" if stopped else "postgres was not running")
    return 0


def cmd_db_status(args: argparse.Namespace) -> int:
    c = cluster()
    if not c.is_initialized():
        print(f"not initialized ({c.data}); start it with: skeldir db up")
        return 3
    if not c.is_running():
        print(f"stopped ({c.data}); start it with: skeldir db up")
        return 3
    print(f"running on 127.0.0.1:{c.port} (data: {c.data})")
    result = run_sqitch(migration_dsn(), "status")
    print(result.stdout.strip())
    return 0


def cmd_db_env(args: argparse.Namespace) -> int:
    c = cluster()
    lines = {
        "SKELDIR_DATABASE_URL": runtime_dsn(),
        "SKELDIR_MIGRATION_DATABASE_URL": migration_dsn(),
    }
    if c.is_running() and not env("SKELDIR_DATABASE_URL"):
        lines["SKELDIR_ADMIN_DATABASE_URL"] = c.admin_dsn()
    for key, value in lines.items():
        print(f"{key}={shlex.quote(value)}")
    return 0


def cmd_db_psql(args: argparse.Namespace) -> int:
    dsn = {"app": runtime_dsn, "migration": migration_dsn, "admin": lambda: cluster().admin_dsn()}
    os.execvp("psql", ["psql", "-X", dsn[args.as_role](), *args.psql_args])
    return 0  # pragma: no cover


def _sqitch(action: str, *extra: str) -> int:
    result = run_sqitch(migration_dsn(), action, *extra)
    sys.stdout.write(result.stdout)
    if result.returncode != 0:
        raise CliError(f"sqitch {action} failed: {last_line(result)}")
    return 0


def cmd_db_pgbouncer(args: argparse.Namespace) -> int:
    from skeldir.ops import pgbouncer

    c = cluster()
    if not c.is_running():
        raise CliError("the embedded cluster is not running (start it with: skeldir db up)")
    bouncer = pgbouncer.write_config(c, args.port, pool_size=args.pool_size)
    password = c.passwords()["app_user"]
    print(f"pgbouncer (transaction mode) on 127.0.0.1:{args.port}; config {bouncer.ini}")
    print(f"SKELDIR_DATABASE_URL={shlex.quote(bouncer.dsn('app_user', password))}")
    print("SKELDIR_PREPARED_STATEMENTS=off", flush=True)
    os.execvp(pgbouncer.command(bouncer)[0], pgbouncer.command(bouncer))
    return 0  # pragma: no cover


def cmd_db_deploy(args: argparse.Namespace) -> int:
    return _sqitch("deploy", *(["--to", args.to] if args.to else []))


def cmd_db_revert(args: argparse.Namespace) -> int:
    return _sqitch("revert", *(["--to", args.to] if args.to else []))


def cmd_db_verify(args: argparse.Namespace) -> int:
    return _sqitch("verify")


# -- tenants -------------------------------------------------------------------------


def cmd_tenant_create(args: argparse.Namespace) -> int:
    from skeldir.ops import admin

    tenant = admin.tenant_create(migration_dsn(), args.name, public_url())
    if args.json:
        print(json.dumps(tenant))
        return 0
    print(f"tenant {tenant['tenant_id']} ({tenant['slug']})")
    print(f"API key (shown once, keep it): {tenant['api_key']}")
    for vendor, url in tenant["endpoints"].items():
        print(f"  {vendor:<12} {url}")
    for vendor, secret in tenant["secrets"].items():
        print(f"  {vendor:<12} secret {secret}")
    return 0


# -- processes -----------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    from skeldir.web import app

    return app.serve(runtime_dsn(), args.host, args.port)


def cmd_worker(args: argparse.Namespace) -> int:
    from skeldir.worker import poller

    queues = [q.strip() for q in args.queues.split(",") if q.strip()]
    return poller.run(
        runtime_dsn(),
        queues=queues,
        batch=args.batch,
        concurrency=args.concurrency,
        gather=args.gather,
        metrics_port=args.metrics_port,
        metrics_host=args.metrics_host,
    )


def cmd_up(args: argparse.Namespace) -> int:
    from skeldir.ops import supervisor

    return supervisor.up(cluster(), args.host, args.port, args.metrics_port)


def cmd_down(args: argparse.Namespace) -> int:
    from skeldir.ops import supervisor

    return supervisor.down(cluster())


def cmd_demo_curl(args: argparse.Namespace) -> int:
    from skeldir.ops import supervisor

    return supervisor.demo_curl(cluster())


def cmd_loadtest(args: argparse.Namespace) -> int:
    from skeldir.tools import loadtest

    try:
        mix = loadtest.Mix.parse(args.mix)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    if args.rate <= 0 or args.duration <= 0 or args.connections < 1 or args.tenants < 1:
        raise CliError("--rate, --duration, --connections and --tenants must be positive")
    opts = loadtest.Options(
        url=args.url.rstrip("/"),
        app_dsn=runtime_dsn(),
        migration_dsn=migration_dsn(),
        rate=args.rate,
        duration=args.duration,
        flat_out=args.max,
        requests=args.requests,
        connections=args.connections,
        threads=args.threads,
        tenants=args.tenants,
        vendors=tuple(v.strip() for v in args.vendors.split(",") if v.strip()),
        mix=mix,
        ceiling_seconds=args.ceiling,
        ceiling_clients=args.ceiling_clients,
        shell_pid=args.shell_pid,
    )
    try:
        result = loadtest.run(opts)
    except (ValueError, RuntimeError, OSError) as exc:
        raise CliError(f"loadtest: {exc}") from exc
    for line in loadtest.summary_lines(result):
        print(line)
    if args.json_out:
        with open(args.json_out, "w") as out:
            json.dump(result, out, indent=2)
        print(f"wrote {args.json_out}")
    return 0 if result["ok"] else 1


def build_parser() -> argparse.ArgumentParser:
    epilog = "environment:\n" + "\n".join(f"  {k:<32} {v}" for k, v in ENV_DOC.items())
    parser = argparse.ArgumentParser(
        prog="skeldir",
        description="Skeldir core: Postgres-native webhook and revenue-event backbone.",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(parent, name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        p = parent.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        return p

    db = sub.add_parser("db", help="embedded PostgreSQL cluster and schema").add_subparsers(
        dest="db_command", required=True, metavar="ACTION"
    )
    add(db, "up", cmd_db_up, "install, start, bootstrap, sqitch deploy (idempotent)")
    add(db, "down", cmd_db_down, "stop the embedded cluster")
    p = add(db, "status", cmd_db_status, "cluster state and sqitch status")
    p.epilog = "exit status (as pg_ctl status): 0 running, 3 stopped or not initialized, 1 error"
    add(db, "env", cmd_db_env, "print shell-exportable SKELDIR_*_DATABASE_URL lines")
    p = add(db, "psql", cmd_db_psql, "open psql (as app_user by default)")
    p.add_argument("--as", dest="as_role", choices=["app", "migration", "admin"], default="app")
    p.add_argument("psql_args", nargs=argparse.REMAINDER)
    p = add(db, "pgbouncer", cmd_db_pgbouncer, "run PgBouncer (transaction mode) in front of the cluster")
    p.add_argument("--port", type=int, default=6432, help="listen port (default 6432)")
    p.add_argument("--pool-size", type=int, default=16, help="server connections per user (default 16)")
    p = add(db, "deploy", cmd_db_deploy, "sqitch deploy as migration_owner")
    p.add_argument("--to", help="deploy up to this change")
    p = add(db, "revert", cmd_db_revert, "sqitch revert as migration_owner (all changes unless --to)")
    p.add_argument("--to", help="revert down to this change")
    add(db, "verify", cmd_db_verify, "sqitch verify as migration_owner")
    from skeldir.ops import bootstrap

    bootstrap.add_parser(db)
    from skeldir.ops import read_models

    read_models.register_db(db, add)

    tenant = sub.add_parser("tenant", help="tenants, keys and secrets").add_subparsers(
        dest="tenant_command", required=True, metavar="ACTION"
    )
    p = add(tenant, "create", cmd_tenant_create, "create a tenant: API key (shown once), endpoints, secrets")
    p.add_argument("name")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    tenants.register_tenant(tenant, add)
    tenants.register_dlq(sub, add)

    from skeldir.ops import dashboards, llm

    dashboards.register(sub, add)
    llm.register(sub, add)

    p = add(sub, "serve", cmd_serve, "run the HTTP shell (uvicorn) as app_user")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0: all)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")

    p = add(sub, "worker", cmd_worker, "run the task poller as app_user")
    p.add_argument("--queues", default="attribution,maintenance,housekeeping,llm")
    p.add_argument("--batch", type=int, default=500, help="messages per read (default 500)")
    p.add_argument("--concurrency", type=int, default=1, help="concurrent batches per queue")
    p.add_argument(
        "--gather",
        type=float,
        default=0.2,
        help="seconds to wait after a batch that was not full, so batches fill under load (default 0.2; 0: none)",
    )
    p.add_argument("--metrics-port", type=int, default=9108, help="exporter port (0: off)")
    p.add_argument("--metrics-host", default="127.0.0.1", help="exporter address (0.0.0.0 in containers)")

    p = add(sub, "loadtest", cmd_loadtest, "signed mixed webhook load with anti-bypass accounting")
    p.add_argument("--url", default="http://127.0.0.1:8000", help="the shell's base URL")
    p.add_argument("--rate", type=float, default=46.0, help="requests/s in rate mode (default 46)")
    p.add_argument("--duration", type=float, default=60.0, help="seconds in rate mode (default 60)")
    p.add_argument("--max", action="store_true", help="flat out with wrk instead of a fixed rate")
    p.add_argument("--requests", type=int, help="deliveries to send (default: rate x duration)")
    p.add_argument("--connections", type=int, default=32, help="keep-alive connections (default 32)")
    p.add_argument("--threads", type=int, default=2, help="wrk threads in --max mode (default 2)")
    p.add_argument("--tenants", type=int, default=4, help="fresh tenants to spread the load over (default 4)")
    p.add_argument("--vendors", default="stripe", help="comma-separated vendors (default stripe)")
    p.add_argument("--mix", default="70,15,15", help="shares NEW,DUPLICATE,MALFORMED (default 70,15,15)")
    p.add_argument("--ceiling", type=int, default=0, metavar="S", help="first run pgbench S seconds (ceiling)")
    p.add_argument("--ceiling-clients", type=int, default=8, help="pgbench clients (default 8)")
    p.add_argument("--shell-pid", type=int, help="pid of the shell (default: whoever listens on the URL's port)")
    p.add_argument("--json", dest="json_out", metavar="FILE", help="also write the result as JSON to FILE")

    p = add(sub, "up", cmd_up, "database, shell and worker in the foreground; Ctrl-C stops all")
    p.add_argument("--host", default="127.0.0.1", help="address the shell listens on (default 127.0.0.1; 0.0.0.0: all)")
    p.add_argument(
        "--port",
        type=int,
        default=8000,
        help="port the shell listens on (default 8000); while up runs, endpoint URLs printed by it and by "
        "'skeldir tenant create' use this host and port unless SKELDIR_PUBLIC_URL is set",
    )
    p.add_argument("--metrics-port", type=int, default=9108, help="worker exporter port (0: off)")
    demo = sub.add_parser("demo", help="the demo tenant of 'skeldir up'").add_subparsers(
        dest="demo_command", required=True, metavar="ACTION"
    )
    add(demo, "curl", cmd_demo_curl, "print a curl with a fresh valid Stripe signature")
    add(sub, "down", cmd_down, "stop shell, worker and database started by 'skeldir up'")
    from skeldir.tools.prove import runner

    runner.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (CliError, ClusterError) as exc:
        print(f"skeldir: {exc}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as exc:
        detail = (exc.stderr or "").strip().splitlines()[-1:] if isinstance(exc.stderr, str) else []
        print(f"skeldir: {' '.join(map(str, exc.cmd))} failed: {' '.join(detail)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    # `python -m skeldir.cli` runs this file as __main__: call the importable module's main so
    # that CliError raised by skeldir.ops.admin / skeldir.ops.tenants is the class caught there.
    from skeldir.cli import main as importable_main

    sys.exit(importable_main())
