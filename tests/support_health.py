"""Helpers for the health, metrics, fault and log tests: real processes and real scrapes."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from support import free_port, skeldir_process, stop_process, wait_http

Labels = frozenset[tuple[str, str]]


def scrape(url: str) -> dict[tuple[str, Labels], float]:
    """Every sample of a Prometheus text exposition, keyed by (sample name, labels)."""
    response = httpx.get(url, timeout=10.0)
    assert response.status_code == 200, response.text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def value(samples: dict[tuple[str, Labels], float], name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def series(samples: dict[tuple[str, Labels], float], prefix: str = "skeldir_") -> set[tuple[str, Labels]]:
    return {key for key in samples if key[0].startswith(prefix)}


def promtool_check(url: str) -> subprocess.CompletedProcess:
    text = httpx.get(url, timeout=10.0).text
    return subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)


@dataclass
class Stack:
    """A shell and (optionally) a worker of our own on one database, with their logs."""

    dsn: str
    logs: Path
    shell: subprocess.Popen | None = None
    shell_url: str = ""
    worker: subprocess.Popen | None = None
    worker_metrics_url: str = ""
    worker_starts: int = field(default=0)

    @property
    def shell_log(self) -> Path:
        return self.logs / "shell.log"

    def worker_log(self, n: int | None = None) -> Path:
        return self.logs / f"worker-{self.worker_starts if n is None else n}.log"

    def start_shell(self) -> str:
        port = free_port()
        self.shell = skeldir_process(["serve", "--port", str(port)], self.dsn, self.shell_log)
        self.shell_url = f"http://127.0.0.1:{port}"
        wait_http(f"{self.shell_url}/health/live")
        return self.shell_url

    def start_worker(self) -> str:
        port = free_port()
        self.worker_starts += 1
        self.worker = skeldir_process(["worker", "--metrics-port", str(port)], self.dsn, self.worker_log())
        self.worker_metrics_url = f"http://127.0.0.1:{port}/metrics"
        wait_http(self.worker_metrics_url)
        return self.worker_metrics_url

    def stop_worker(self) -> None:
        if self.worker is not None:
            stop_process(self.worker)
            self.worker = None

    def stop(self) -> None:
        self.stop_worker()
        if self.shell is not None:
            stop_process(self.shell)
            self.shell = None
