"""The OpenAPI 3.1 description served at ``GET /openapi.json``: every route and response.

Kept by hand next to the routes (Starlette has no schema generator worth its weight);
tests/test_openapi.py checks it against the app's routes and runs schemathesis against it.
"""

from __future__ import annotations

from typing import Any

VENDORS = ["stripe", "shopify", "woocommerce", "paypal", "standard"]

STATUS_SCHEMA = {"type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}}


def _json(schema: dict[str, Any], description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        response["headers"] = headers
    return response


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "string"}}}

WEBHOOK_RESPONSES: dict[str, Any] = {
    "200": _json(_ref("WebhookResult"), "Stored, duplicate, dead-lettered, ignored, or a WooCommerce ping."),
    "400": _json(_ref("Status"), "A path or header value PostgreSQL cannot represent (a NUL byte)."),
    "401": _json(_ref("Unauthorized"), "Unknown tenant, or a bad or stale signature: nothing stored."),
    "404": _json(_ref("Status"), "Unknown vendor."),
    "408": _json(_ref("RequestTimeout"), "Body not received whole within SKELDIR_BODY_TIMEOUT: nothing stored."),
    "413": _json(_ref("PayloadTooLarge"), "Body over SKELDIR_MAX_BODY_BYTES: refused unread."),
    "503": _json(
        _ref("Unavailable"),
        "Database unavailable, or no answer within the deadline (reason timeout): retry later.",
        RETRY_AFTER,
    ),
}

SIGNATURE_HEADERS = [
    ("X-Skeldir-Tenant-Key", "tenant API key (routes without an endpoint token)"),
    ("Stripe-Signature", "Stripe: t=<unix>,v1=<hex HMAC-SHA256 of t.body>"),
    ("X-Shopify-Hmac-Sha256", "Shopify: base64 HMAC-SHA256 of the body"),
    ("X-Shopify-Topic", "Shopify topic, e.g. orders/create"),
    ("X-Shopify-Webhook-Id", "Shopify delivery id (dedupe key)"),
    ("X-WC-Webhook-Signature", "WooCommerce: base64 HMAC-SHA256 of the body"),
    ("X-WC-Webhook-Topic", "WooCommerce topic, e.g. order.updated"),
    ("webhook-id", "Standard Webhooks message id (dedupe key)"),
    ("webhook-timestamp", "Standard Webhooks unix timestamp"),
    ("webhook-signature", "Standard Webhooks: v1,<base64 HMAC-SHA256 of id.timestamp.body>"),
    ("PAYPAL-TRANSMISSION-ID", "PayPal transmission id"),
    ("PAYPAL-TRANSMISSION-TIME", "PayPal transmission time"),
    ("PAYPAL-TRANSMISSION-SIG", "PayPal: base64 RSA-SHA256 signature"),
    ("PAYPAL-AUTH-ALGO", "PayPal: SHA256withRSA"),
]


def _webhook_operation(summary: str, path_params: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "parameters": [
                *path_params,
                *(
                    {"name": name, "in": "header", "required": False, "description": text, "schema": {"type": "string"}}
                    for name, text in SIGNATURE_HEADERS
                ),
            ],
            "requestBody": {
                "required": True,
                "description": "The vendor's raw body, verified byte for byte.",
                "content": {"application/json": {"schema": {}}},
            },
            "responses": WEBHOOK_RESPONSES,
        }
    }


def _get(summary: str, responses: dict[str, Any]) -> dict[str, Any]:
    return {"get": {"summary": summary, "responses": responses}}


VENDOR_PARAM = {"name": "vendor", "in": "path", "required": True, "schema": {"type": "string", "enum": VENDORS}}
TOKEN_PARAM = {
    "name": "endpoint_token",
    "in": "path",
    "required": True,
    "description": "non-secret per-tenant, per-vendor token (skeldir tenant create prints the URLs)",
    "schema": {"type": "string"},
}


LLM_TASKS = ["route", "explanation", "investigation", "budget_optimization"]
REQUEST_ID = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"}
TENANT_KEY_HEADER = {
    "name": "X-Skeldir-Tenant-Key",
    "in": "header",
    "required": True,
    "description": "tenant API key",
    "schema": {"type": "string"},
}
LLM_ERRORS: dict[str, Any] = {
    "400": _json(_ref("Error"), "Bad input: body, request_id, user id, task inputs or model (see error, hint)."),
    "401": _json(_ref("Unauthorized"), "Unknown tenant key."),
    "503": _json(_ref("Unavailable"), "Database unavailable: retry later.", RETRY_AFTER),
}
LLM_PATHS: dict[str, Any] = {
    "/api/llm/{task}": {
        "post": {
            "summary": "Request an LLM task: recorded and queued; SQL admission runs before any provider call",
            "parameters": [
                {"name": "task", "in": "path", "required": True, "schema": {"type": "string", "enum": LLM_TASKS}},
                TENANT_KEY_HEADER,
                {
                    "name": "X-Skeldir-User-Id",
                    "in": "header",
                    "required": True,
                    "description": "the requesting user (audited)",
                    "schema": {"type": "string"},
                },
            ],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["request_id", "inputs"],
                            "properties": {
                                "request_id": REQUEST_ID,
                                "inputs": {
                                    "type": "object",
                                    "required": ["prompt"],
                                    "properties": {"prompt": {"type": "string"}, "model": {"type": "string"}},
                                },
                            },
                        }
                    }
                },
            },
            "responses": {
                "202": _json(_ref("LlmCall"), "Recorded and queued; poll status_url."),
                "200": _json(_ref("LlmCall"), "A repeated request_id: the same call, nothing new written."),
                **LLM_ERRORS,
                "409": _json(_ref("Error"), "The request_id was already used for another task or other inputs."),
                "413": _json(_ref("PayloadTooLarge"), "Body over SKELDIR_MAX_BODY_BYTES: refused unread."),
            },
        }
    },
    "/api/llm/calls/{request_id}": {
        "get": {
            "summary": "The outcome of an LLM request (pending, success, cached, blocked, error, timeout)",
            "parameters": [
                {"name": "request_id", "in": "path", "required": True, "schema": REQUEST_ID},
                TENANT_KEY_HEADER,
            ],
            "responses": {
                "200": _json(_ref("LlmCall"), "The call and its outcome."),
                **LLM_ERRORS,
                "404": _json(_ref("Error"), "No call with this request_id for this tenant."),
            },
        }
    },
}


READ_PARAMS = [
    {"name": "X-Skeldir-Tenant-Key", "in": "header", "required": True, "schema": {"type": "string"}},
    {"name": "from", "in": "query", "required": False, "description": "first day, YYYY-MM-DD (default: to - 30)",
     "schema": {"type": "string", "format": "date"}},
    {"name": "to", "in": "query", "required": False, "description": "last day, YYYY-MM-DD (default: today, UTC)",
     "schema": {"type": "string", "format": "date"}},
    {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
    {"name": "offset", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 0}},
]  # fmt: skip

READ_RESOURCES = {
    "/api/revenue/daily": "Daily revenue per currency (mv_daily_revenue_summary)",
    "/api/revenue/realtime": "Recent revenue in short buckets (mv_realtime_revenue)",
    "/api/channels": "Revenue allocated per channel and day (mv_channel_performance)",
    "/api/allocations/summary": "Allocations per model and channel (mv_allocation_summary)",
    "/api/reconciliation": "Order/payment reconciliation states per day (mv_reconciliation_status)",
}


def _read_operation(summary: str) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "parameters": READ_PARAMS,
            "responses": {
                "200": _json({"type": "object"}, "One page of the tenant's rows, with paging totals."),
                "400": _json(_ref("Status"), "A bad parameter; the body says which and why."),
                "401": _json(_ref("Status"), "Unknown or suspended tenant key."),
                "503": _json(_ref("Unavailable"), "Database unavailable: retry later.", RETRY_AFTER),
            },
        }
    }


def openapi_document(aliases: list[str]) -> dict[str, Any]:
    paths: dict[str, Any] = {
        "/webhooks/{vendor}": _webhook_operation("Receive a webhook; tenant by X-Skeldir-Tenant-Key", [VENDOR_PARAM]),
        "/webhooks/{vendor}/{endpoint_token}": _webhook_operation(
            "Receive a webhook; tenant by endpoint token", [VENDOR_PARAM, TOKEN_PARAM]
        ),
        **{path: _webhook_operation("Predecessor alias of /webhooks/{vendor}", []) for path in aliases},
        "/health/live": _get("Liveness", {"200": _json(_ref("Status"), "The process runs.")}),
        "/health/ready": _get(
            "Readiness: database reachable, RLS forced, tenant GUC round trip",
            {
                "200": _json(_ref("Readiness"), "Ready."),
                "503": _json(_ref("Readiness"), "Not ready."),
            },
        ),
        "/health/worker": _get(
            "Worker health: a fresh heartbeat and a probe answered through pgmq",
            {
                "200": _json(_ref("Status"), "A worker answered the probe."),
                "503": _json(_ref("Status"), "No fresh heartbeat, no answer, or the database is down."),
            },
        ),
        "/metrics": _get(
            "Prometheus exposition: HTTP, ingestion outcomes, broker-truth queue gauges",
            {
                "200": {
                    "description": "text exposition format",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
        ),
        **{path: _read_operation(summary) for path, summary in READ_RESOURCES.items()},
        "/openapi.json": _get(
            "This document", {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {"schema": {}}}}}
        ),
        **LLM_PATHS,
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Skeldir core",
            "version": "0.1.0",
            "description": "Webhook ingestion (SPEC §5) and health. Every answer is JSON; never a 500.",
        },
        "paths": paths,
        "components": {
            "schemas": {
                "Status": STATUS_SCHEMA,
                "WebhookResult": {
                    "type": "object",
                    "required": ["status"],
                    "properties": {
                        "status": {"enum": ["accepted", "duplicate", "dead_lettered", "ignored", "ping"]},
                        "event_id": {"type": "integer"},
                        "dead_event_id": {"type": "integer"},
                        "reason": {"type": "string"},
                        "topic": {"type": ["string", "null"]},
                    },
                },
                "Unauthorized": {
                    "type": "object",
                    "required": ["status"],
                    "properties": {"status": {"const": "unauthorized"}},
                    "additionalProperties": False,
                },
                "PayloadTooLarge": {
                    "type": "object",
                    "required": ["status", "limit_bytes"],
                    "properties": {"status": {"const": "payload_too_large"}, "limit_bytes": {"type": "integer"}},
                },
                "RequestTimeout": {
                    "type": "object",
                    "required": ["status", "limit_seconds"],
                    "properties": {"status": {"const": "request_timeout"}, "limit_seconds": {"type": "number"}},
                },
                "Unavailable": {
                    "type": "object",
                    "required": ["status"],
                    "properties": {"status": {"const": "unavailable"}, "reason": {"type": "string"}},
                },
                "Error": {
                    "type": "object",
                    "required": ["status", "error"],
                    "properties": {k: {"type": "string"} for k in ("status", "error", "detail", "hint")},
                },
                "LlmCall": {
                    "type": "object",
                    "required": ["call_id", "request_id", "task", "status", "status_url", "provider_attempted"],
                    "properties": {
                        "call_id": {"type": "integer"},
                        "request_id": {"type": "string"},
                        "task": {"enum": LLM_TASKS},
                        "status": {"enum": ["pending", "success", "cached", "blocked", "error", "timeout"]},
                        "blocked_reason": {
                            "enum": ["provider_kill_switch", "breaker_open", "hourly_shutoff", "budget_exceeded", None]
                        },
                        "provider": {"type": ["string", "null"]},
                        "model": {"type": ["string", "null"], "description": "The model that answered."},
                        "requested_model": {
                            "type": ["string", "null"],
                            "description": "The model asked for; differs from model when budget pressure "
                            "routed the call to the cheaper one (docs/llm.md).",
                        },
                        "provider_attempted": {"type": "boolean"},
                        "input_tokens": {"type": ["integer", "null"]},
                        "output_tokens": {"type": ["integer", "null"]},
                        "cost_usd": {"type": ["number", "null"]},
                        "latency_ms": {"type": ["number", "null"]},
                        "cached_from": {"type": ["integer", "null"]},
                        "error": {"type": ["string", "null"]},
                        "requested_at": {"type": ["string", "null"], "format": "date-time"},
                        "completed_at": {"type": ["string", "null"], "format": "date-time"},
                        "status_url": {"type": "string"},
                        "result": {"type": ["object", "null"]},
                        "duplicate": {"type": "boolean"},
                    },
                },
                "Readiness": {
                    "type": "object",
                    "required": ["status", "database", "rls", "tenant_guc"],
                    "properties": {k: {"type": "string"} for k in ("status", "database", "rls", "tenant_guc")},
                },
            }
        },
    }
