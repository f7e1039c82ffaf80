"""The worker (``skeldir worker``): drains the pgmq queues by calling SQL handlers.

``poller`` is the loop (LISTEN + polling fallback, batches, retries, heartbeats, SIGTERM,
its Prometheus exporter); ``llm`` consumes the llm queue through the provider boundary.
"""
