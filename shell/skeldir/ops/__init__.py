"""Operations: what a DBA or operator runs around the shell and the worker.

``cluster`` is the embedded PostgreSQL cluster (initdb, start, bootstrap, sqitch);
``bootstrap`` the same roles on an existing server; ``pgbouncer`` and ``supervisor``
(``skeldir up`` / ``down``) run processes in front of and beside it. ``dsn`` says which DSN a
command uses. The operator commands: ``admin`` and ``tenants`` (tenants, secrets, dead
letters), ``dashboards``, ``read_models``, ``llm`` (kill switch, models); ``tables`` prints
their rows.
"""
