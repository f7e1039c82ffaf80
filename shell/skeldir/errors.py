"""Errors shared across modules.

Kept out of ``skeldir.cli`` on purpose: under ``python -m skeldir.cli`` that module runs as
``__main__``, so a class defined there and imported elsewhere as ``skeldir.cli.CliError``
would be a second, different class that ``main()`` does not catch.
"""

from __future__ import annotations


class CliError(Exception):
    """An error the operator can act on: the CLI prints it as one line and exits 1."""
