"""The four LLM tasks: what a provider is told, and the shape its answer must have.

Every provider (the stub included) is held to the same contract: the answer is one JSON
object of the task's shape. :func:`check` validates it and keeps only the known keys (an
answer's extra fields are not stored); its error messages name keys and rules, never
values, because a value may quote the prompt.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

ROUTES = ("attribution", "reconciliation", "revenue", "ingestion")
CHANNELS = ("paid", "organic", "referral", "direct", "email")
MAX_ITEMS = 50

_JSON_ONLY = " Answer with one JSON object and nothing else, exactly of this shape: "

SYSTEM_PROMPTS: dict[str, str] = {
    "route": "You route a revenue-analytics question to the subsystem that can answer it."
    + _JSON_ONLY
    + '{"route": one of "'
    + '", "'.join(ROUTES)
    + '", "confidence": a number from 0 to 1}.',
    "explanation": "You explain revenue and marketing-attribution figures to an analyst in plain words."
    + _JSON_ONLY
    + '{"explanation": a non-empty string}.',
    "investigation": "You investigate a revenue or attribution anomaly and list the signals behind it."
    + _JSON_ONLY
    + '{"summary": a string, "findings": a list of at most 50 objects {"signal": a string naming the'
    + ' channel or signal, "severity": an integer 0 (low), 1 (medium) or 2 (high)}}.',
    "budget_optimization": "You recommend how to shift marketing budget between channels."
    + _JSON_ONLY
    + '{"summary": a string, "recommendations": a list of at most 50 objects {"channel": a string,'
    + ' "change_pct": a number, the budget change in percent}}.',
}


class ShapeError(ValueError):
    """The answer is JSON but not the task's shape; the message names the rule broken."""


def user_message(inputs: dict[str, Any]) -> str:
    """The prompt, followed by the request's other inputs (not the model) as JSON context."""
    prompt = str(inputs.get("prompt", ""))
    context = {k: v for k, v in inputs.items() if k not in ("prompt", "model")}
    if not context:
        return prompt
    return f"{prompt}\n\nContext (JSON): {orjson.dumps(context, option=orjson.OPT_SORT_KEYS).decode()}"


def _string(doc: dict[str, Any], key: str, where: str = "") -> str:
    value = doc.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ShapeError(f"{where}{key!r} must be a non-empty string")
    return value


def _number(doc: dict[str, Any], key: str, where: str = "") -> int | float:
    value = doc.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ShapeError(f"{where}{key!r} must be a number")
    return value


def _items(doc: dict[str, Any], key: str, item: Callable[[dict[str, Any], str], dict[str, Any]]) -> list:
    value = doc.get(key)
    if not isinstance(value, list) or len(value) > MAX_ITEMS:
        raise ShapeError(f"{key!r} must be a list of at most {MAX_ITEMS} objects")
    out = []
    for i, entry in enumerate(value):
        if not isinstance(entry, dict):
            raise ShapeError(f"{key}[{i}] must be an object")
        out.append(item(entry, f"{key}[{i}]."))
    return out


def _route(doc: dict[str, Any]) -> dict[str, Any]:
    if doc.get("route") not in ROUTES:
        raise ShapeError(f"'route' must be one of {', '.join(ROUTES)}")
    confidence = _number(doc, "confidence")
    if not 0 <= confidence <= 1:
        raise ShapeError("'confidence' must be between 0 and 1")
    return {"route": doc["route"], "confidence": confidence}


def _finding(entry: dict[str, Any], where: str) -> dict[str, Any]:
    severity = entry.get("severity")
    if isinstance(severity, bool) or severity not in (0, 1, 2):
        raise ShapeError(f"{where}'severity' must be 0, 1 or 2")
    return {"signal": _string(entry, "signal", where), "severity": int(severity)}


def _recommendation(entry: dict[str, Any], where: str) -> dict[str, Any]:
    return {"channel": _string(entry, "channel", where), "change_pct": _number(entry, "change_pct", where)}


CHECKS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "route": _route,
    "explanation": lambda doc: {"explanation": _string(doc, "explanation")},
    "investigation": lambda doc: {"summary": _string(doc, "summary"), "findings": _items(doc, "findings", _finding)},
    "budget_optimization": lambda doc: {
        "summary": _string(doc, "summary"),
        "recommendations": _items(doc, "recommendations", _recommendation),
    },
}


def check(task: str, doc: Any) -> dict[str, Any]:
    """The answer reduced to the task's shape; raises :class:`ShapeError` when it is not that shape."""
    if not isinstance(doc, dict):
        raise ShapeError("the answer must be a JSON object")
    if task not in CHECKS:
        raise ShapeError(f"unknown task {task!r}")
    return CHECKS[task](doc)
