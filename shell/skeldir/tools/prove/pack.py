"""The evidence pack: ``manifest.sha256`` over every file, a zip and its checksum; ``--verify``."""

from __future__ import annotations

import hashlib
import zipfile
from datetime import UTC, datetime
from pathlib import Path

from skeldir.config import PROJECT_DIR
from skeldir.tools.prove.context import ProveError

SUMMARY = "gate_summary.json"
MANIFEST = "manifest.sha256"
ZIP_NAME = "skeldir-proof.zip"


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def pack_files(pack: Path) -> list[Path]:
    """Every file of the pack except the manifest, the zip and the zip's checksum."""
    skip = {MANIFEST, ZIP_NAME, f"{ZIP_NAME}.sha256"}
    return sorted(p for p in pack.rglob("*") if p.is_file() and str(p.relative_to(pack)) not in skip)


def seal(pack: Path) -> None:
    """manifest.sha256 over every file (sha256sum format), then the zip and its checksum."""
    lines = [f"{_digest(p)}  {p.relative_to(pack)}" for p in pack_files(pack)]
    (pack / MANIFEST).write_text("\n".join(lines) + "\n")
    with zipfile.ZipFile(pack / ZIP_NAME, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in [*pack_files(pack), pack / MANIFEST]:
            archive.write(path, str(path.relative_to(pack)))
    (pack / f"{ZIP_NAME}.sha256").write_text(f"{_digest(pack / ZIP_NAME)}  {ZIP_NAME}\n")


def verify(pack: Path) -> list[str]:
    """Every problem found in a pack (empty: it verifies)."""
    problems: list[str] = []
    manifest = pack / MANIFEST
    if not manifest.is_file():
        return [f"{manifest} is missing"]
    listed: dict[str, str] = {}
    for line in manifest.read_text().splitlines():
        digest, _, name = line.partition("  ")
        listed[name] = digest
    for name, digest in listed.items():
        path = pack / name
        if not path.is_file():
            problems.append(f"{name}: listed in the manifest but missing")
        elif _digest(path) != digest:
            problems.append(f"{name}: checksum mismatch")
    for path in pack_files(pack):
        if str(path.relative_to(pack)) not in listed:
            problems.append(f"{path.relative_to(pack)}: not in the manifest")
    archive, checksum = pack / ZIP_NAME, pack / f"{ZIP_NAME}.sha256"
    if not archive.is_file() or not checksum.is_file():
        problems.append(f"{ZIP_NAME} or its .sha256 is missing")
        return problems
    if checksum.read_text().split()[:1] != [_digest(archive)]:
        problems.append(f"{ZIP_NAME}: checksum mismatch")
        return problems
    with zipfile.ZipFile(archive) as zf:
        members = set(zf.namelist())
        if members != {*listed, MANIFEST}:
            problems.append(f"{ZIP_NAME}: members differ from the manifest")
        for name in sorted(members & {*listed, MANIFEST}):
            path = pack / name
            if not path.is_file() or hashlib.sha256(zf.read(name)).hexdigest() != _digest(path):
                problems.append(f"{ZIP_NAME}: {name} differs from the file in the pack")
    return problems


def prepare_pack(out: Path | None) -> Path:
    pack = out or PROJECT_DIR / "proof" / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    if pack.exists() and any(pack.iterdir()):
        raise ProveError(f"{pack} is not empty; choose a new --out DIR")
    (pack / "logs").mkdir(parents=True, exist_ok=True)
    return pack.resolve()
