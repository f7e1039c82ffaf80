"""Static rules of deploy/ that a DBA reading it relies on (issue 19 §3)."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
DEFINITION = re.compile(r"^CREATE\s+(?:OR\s+REPLACE\s+)?FUNCTION\s+([a-z_]+\.[a-z_0-9]+)\s*\(", re.I | re.M)


def test_each_function_is_defined_in_exactly_one_deploy_script() -> None:
    """No deploy script restates an older version of a function another one created.

    Scripts of a reworked change's released version (`deploy/<change>@<tag>.sql`) are left out:
    after `sqitch rework`, the current script replaces the function its released copy created.
    """
    scripts: dict[str, list[str]] = defaultdict(list)
    for path in sorted(DEPLOY.glob("*.sql")):
        if "@" in path.stem:
            continue
        for name in DEFINITION.findall(path.read_text()):
            scripts[name.lower()].append(path.name)
    assert len(scripts) > 50, "the pattern finds the functions (not vacuous)"
    restated = {name: files for name, files in scripts.items() if len(files) > 1}
    assert restated == {}
