"""``skeldir prove``: a fresh cluster, every gate, a checksummed evidence pack.

``runner`` is the command (the table of gates, the run, the verdict); ``context`` what every
gate shares (the run's cluster and processes, errors, named queries of ``queries/prove.sql``,
helpers); ``deliveries`` one signed webhook per vendor; ``gates/`` one module per gate;
``pack`` the manifest, zip and ``--verify``.
"""
