"""The request path: the Starlette shell (``skeldir serve``) and what only it uses.

``app`` holds the routes and the pool; a webhook's raw body goes to ``api.webhook_receive``
through ``batching`` (group commit), under ``watchdog`` deadlines, answered by ``protocol`` /
``coalesce`` (uvicorn's httptools, one socket write per answer). ``paypal`` verifies PayPal's
RSA signatures, ``read_api`` and ``llm_routes`` are the tenant-facing reads and LLM requests,
``metrics`` the shell's /metrics, ``openapi`` its document.
"""
