"""Per-row INSERT cost of each index and foreign key of skeldir.attribution_events (issue 21, lever 3).

A copy of the events table (schema b, dropped and made again per run) with the deployed
indexes and foreign keys, minus the ones a variant leaves out; one INSERT statement per row
in a PL/pgSQL loop, as the ingest path writes. The figure is the backend's own CPU time per
row (/proc/<pid>/stat), so other load on the machine weighs less. Variants alternate in
order between rounds. Needs a database deployed by sqitch (it reads skeldir.tenants and
skeldir.currencies) and a superuser DSN on the same machine:

    python3 bench/indexes/insert_cost.py DSN [ROWS=20000] [ROUNDS=3]

Writes /tmp/idx/result.json.
"""

import json
import os
import statistics
import sys

import psycopg


def cpu(pid: int) -> float:
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


DSN = sys.argv[1]
N = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
ROUNDS = int(sys.argv[3]) if len(sys.argv) > 3 else 3
VARIANTS = {
    "all (as deployed)": [],
    "without BRIN occurred_at": ["DROP INDEX b.attribution_events_occurred_brin_x"],
    "without customer_idx": ["DROP INDEX b.attribution_events_customer_idx_x"],
    "without order_ref_idx": ["DROP INDEX b.attribution_events_order_ref_idx_x"],
    "without payment_ref_idx": ["DROP INDEX b.attribution_events_payment_ref_idx_x"],
    "without FK currency": ["ALTER TABLE b.ev DROP CONSTRAINT ev_currency_fkey"],
    "without FK tenant": ["ALTER TABLE b.ev DROP CONSTRAINT ev_tenant_id_fkey"],
    "without both FKs": [
        "ALTER TABLE b.ev DROP CONSTRAINT ev_currency_fkey",
        "ALTER TABLE b.ev DROP CONSTRAINT ev_tenant_id_fkey",
    ],
    "PK and dedupe only": [
        "DROP INDEX b.attribution_events_occurred_brin_x",
        "DROP INDEX b.attribution_events_customer_idx_x",
        "DROP INDEX b.attribution_events_order_ref_idx_x",
        "DROP INDEX b.attribution_events_payment_ref_idx_x",
        "ALTER TABLE b.ev DROP CONSTRAINT ev_currency_fkey",
        "ALTER TABLE b.ev DROP CONSTRAINT ev_tenant_id_fkey",
    ],
}
SETUP = """
DROP SCHEMA IF EXISTS b CASCADE; CREATE SCHEMA b;
CREATE TABLE b.ev (LIKE skeldir.attribution_events INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING CONSTRAINTS);
ALTER TABLE b.ev ADD PRIMARY KEY (tenant_id, id);
ALTER TABLE b.ev ADD CONSTRAINT ev_dedupe UNIQUE (tenant_id, vendor, fact_key);
CREATE INDEX attribution_events_customer_idx_x ON b.ev (tenant_id, customer_ref, occurred_at)
    WHERE customer_ref IS NOT NULL;
CREATE INDEX attribution_events_occurred_brin_x ON b.ev USING brin (occurred_at) WITH (autosummarize = on);
CREATE INDEX attribution_events_order_ref_idx_x ON b.ev (tenant_id, order_ref) WHERE order_ref IS NOT NULL;
CREATE INDEX attribution_events_payment_ref_idx_x ON b.ev (tenant_id, payment_ref) WHERE payment_ref IS NOT NULL;
ALTER TABLE b.ev ADD CONSTRAINT ev_currency_fkey FOREIGN KEY (currency) REFERENCES skeldir.currencies (code);
ALTER TABLE b.ev ADD CONSTRAINT ev_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES skeldir.tenants (id);
"""
LOOP = """
DO $$
DECLARE t uuid := (SELECT id FROM skeldir.tenants LIMIT 1); p text := repeat('x', 10);
BEGIN
  FOR i IN 1..%s LOOP
    INSERT INTO b.ev (tenant_id, vendor, topic, kind, vendor_event_id, fact_key, order_ref, payment_ref, amount_minor,
                      currency, occurred_at, utm_source, utm_medium, customer_ref, payload, route)
    VALUES (t, 'stripe', 'payment_intent.succeeded', 'payment', 'evt_' || i, 'payment:pi_' || i || p, 'o' || i,
            'pi_' || i, 1000 + i, 'USD', now(), 'google', 'cpc', 'c' || (i %% 5000),
            '{"id": "pi_x", "amount": 1000}', '/webhooks/stripe');
  END LOOP;
END $$;
"""
res = {k: [] for k in VARIANTS}
with psycopg.connect(DSN, autocommit=True) as c:
    if not c.execute("SELECT count(*) FROM skeldir.tenants").fetchone()[0]:
        c.execute("SELECT api.tenant_create('idx bench')")
    for r in range(ROUNDS):
        order = list(VARIANTS) if r % 2 == 0 else list(reversed(VARIANTS))
        for name in order:
            c.execute(SETUP)
            for stmt in VARIANTS[name]:
                c.execute(stmt)
            c.execute("CHECKPOINT")
            pid = c.info.backend_pid
            t0 = cpu(pid)
            c.execute(LOOP % N)
            dt = cpu(pid) - t0
            res[name].append(dt / N * 1e6)
base = statistics.median(res["all (as deployed)"])
out = {}
for k, v in res.items():
    m = statistics.median(v)
    out[k] = {
        "us_per_row_median": round(m, 1),
        "runs": [round(x, 1) for x in v],
        "saves_us": round(base - m, 1),
        "ratio": round(m / base, 3),
    }
    print(f"{k:28s} {m:7.1f} us/row  saves {base - m:6.1f} us  ratio {m / base:.3f}  runs {[round(x, 1) for x in v]}")
os.makedirs("/tmp/idx", exist_ok=True)
json.dump({"rows_per_run": N, "rounds": ROUNDS, "variants": out}, open("/tmp/idx/result.json", "w"), indent=2)
