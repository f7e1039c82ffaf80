"""Structured logs: one JSON object per line, for the shell and the worker.

Callers pass fields with ``extra={...}``; the formatter writes them next to ``ts``, ``level``,
``logger`` and ``msg``. Nothing here reads requests: the shell's middleware decides which
fields a request line carries (request id, route template, status, latency, tenant id) and
never passes headers, bodies, query strings or raw paths, which is where secrets, API keys,
signatures, endpoint tokens and PII travel.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime

import orjson

# Attributes every LogRecord has; anything else on a record came from `extra`.
_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and not key.startswith("_"):
                doc[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            # The type only: exception texts and tracebacks can quote data.
            doc["exc_type"] = record.exc_info[0].__name__
        return orjson.dumps(doc, default=str).decode()


def configure(level: int = logging.INFO) -> None:
    """JSON lines on stderr for every logger (uvicorn's too: run it with log_config=None)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # The JSON line carries none of the caller's file, line, thread or process fields, so no
    # record computes them (the logging HOWTO's "Optimization": a frame walk and a getpid
    # system call per line, on the shell's hot path one line per request).
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging.logAsyncioTasks = False  # Python 3.12+
    # psycopg_pool warns on every failed reconnect attempt; the processes log one line per
    # change of database reachability themselves instead.
    logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
