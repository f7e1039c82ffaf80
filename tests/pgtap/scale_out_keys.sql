-- Catalog-driven prerequisites of distributing the schema by tenant_id (Citus, docs/scale-out.md):
-- every tenant table's primary key and unique keys include tenant_id, tenant_id is NOT NULL, a
-- foreign key between two tenant tables carries tenant_id on both sides at the same position,
-- tenant tables reference only reference tables otherwise, and no other table references a
-- tenant table. A new table or key that breaks this fails here without anyone listing it; the
-- last part creates such tables inside this transaction to prove the checks find them.
BEGIN;
SELECT plan(12);

-- Reference tables: small, global or read before the tenant is known, replicated to every node.
-- tenant_endpoints carries tenant_id but is looked up by its token to find the tenant, so its
-- UNIQUE (token) must hold across all tenants: a reference table, not a distributed one.
CREATE TEMP TABLE reference_tables (relname name PRIMARY KEY);
INSERT INTO reference_tables VALUES
    ('tenants'), ('tenant_endpoints'), ('currencies'), ('settings'), ('llm_settings'), ('llm_model_prices');

-- Distributed (tenant) tables: every table or matview in skeldir with a tenant_id column that is
-- not a reference table.
CREATE TEMP VIEW tenant_tables AS
SELECT c.oid, c.relname, c.relkind, a.attnum AS tenant_attnum, a.attnotnull
  FROM pg_class AS c
  JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
 WHERE c.relnamespace = 'skeldir'::regnamespace AND c.relkind IN ('r', 'p', 'm')
   AND c.relname NOT IN (SELECT relname FROM reference_tables);

CREATE TEMP VIEW unique_keys_without_tenant AS
SELECT t.relname, i.indexrelid::regclass::text AS key
  FROM tenant_tables AS t
  JOIN pg_index AS i ON i.indrelid = t.oid AND (i.indisunique OR i.indisprimary)
 WHERE NOT t.tenant_attnum = ANY (i.indkey::int2[]);

CREATE TEMP VIEW tenant_foreign_keys_without_tenant AS
SELECT t.relname, k.conname
  FROM tenant_tables AS t
  JOIN pg_constraint AS k ON k.conrelid = t.oid AND k.contype = 'f'
  JOIN tenant_tables AS r ON r.oid = k.confrelid
 WHERE NOT EXISTS (SELECT FROM generate_subscripts(k.conkey, 1) AS s
                    WHERE k.conkey[s] = t.tenant_attnum AND k.confkey[s] = r.tenant_attnum);

CREATE TEMP VIEW tenant_foreign_keys_to_local_tables AS
SELECT t.relname, k.conname
  FROM tenant_tables AS t
  JOIN pg_constraint AS k ON k.conrelid = t.oid AND k.contype = 'f'
  JOIN pg_class AS r ON r.oid = k.confrelid
 WHERE r.oid NOT IN (SELECT oid FROM tenant_tables)
   AND NOT (r.relnamespace = 'skeldir'::regnamespace AND r.relname IN (SELECT relname FROM reference_tables));

CREATE TEMP VIEW foreign_keys_into_tenant_tables AS
SELECT k.conrelid::regclass::text AS relname, k.conname
  FROM pg_constraint AS k
 WHERE k.contype = 'f' AND k.confrelid IN (SELECT oid FROM tenant_tables)
   AND k.conrelid NOT IN (SELECT oid FROM tenant_tables);

-- Shape
SELECT isnt_empty('SELECT * FROM tenant_tables', 'there are tenant tables to check');
SELECT is_empty($$
    SELECT relname FROM reference_tables
    EXCEPT SELECT relname FROM pg_class WHERE relnamespace = 'skeldir'::regnamespace AND relkind = 'r'
$$, 'every listed reference table exists');

-- The prerequisites
SELECT is_empty($$SELECT relname FROM tenant_tables WHERE relkind IN ('r', 'p') AND NOT attnotnull$$,
    'tenant_id, the distribution column, is NOT NULL on every tenant table');
SELECT is_empty($$
    SELECT t.relname FROM tenant_tables AS t
     WHERE t.relkind IN ('r', 'p')
       AND NOT EXISTS (SELECT FROM pg_index AS i WHERE i.indrelid = t.oid AND i.indisprimary)
$$, 'every tenant table has a primary key');
SELECT is_empty('SELECT * FROM unique_keys_without_tenant',
    'every primary key, unique constraint and unique index of a tenant table includes tenant_id');
SELECT is_empty('SELECT * FROM tenant_foreign_keys_without_tenant',
    'every foreign key between two tenant tables maps tenant_id to tenant_id (colocated)');
SELECT is_empty('SELECT * FROM tenant_foreign_keys_to_local_tables',
    'tenant tables reference no table but tenant tables and reference tables');
SELECT is_empty('SELECT * FROM foreign_keys_into_tenant_tables',
    'no reference or local table has a foreign key into a tenant table');

-- The checks find what they look for: tables that break each rule, created here and rolled back.
CREATE TABLE skeldir.scale_out_probe_parent (tenant_id uuid NOT NULL, id bigint, token text UNIQUE,
                                             PRIMARY KEY (tenant_id, id), UNIQUE (id));
CREATE TABLE skeldir.scale_out_probe_child (tenant_id uuid NOT NULL,
                                            parent_id bigint REFERENCES skeldir.scale_out_probe_parent (id),
                                            beat uuid REFERENCES skeldir.worker_heartbeats (worker_id),
                                            PRIMARY KEY (tenant_id, parent_id));
CREATE TABLE skeldir.scale_out_probe_local (worker_id text, tenant_id_of uuid, parent_id bigint,
                                            FOREIGN KEY (tenant_id_of, parent_id) REFERENCES skeldir.scale_out_probe_parent (tenant_id, id));

SELECT set_eq('SELECT * FROM unique_keys_without_tenant',
    $$VALUES ('scale_out_probe_parent'::name, 'skeldir.scale_out_probe_parent_token_key'),
             ('scale_out_probe_parent', 'skeldir.scale_out_probe_parent_id_key')$$,
    'a unique key without tenant_id is found');
SELECT set_eq('SELECT * FROM tenant_foreign_keys_without_tenant',
    $$VALUES ('scale_out_probe_child'::name, 'scale_out_probe_child_parent_id_fkey'::name)$$,
    'a foreign key between tenant tables without tenant_id is found');
SELECT set_eq('SELECT * FROM tenant_foreign_keys_to_local_tables',
    $$VALUES ('scale_out_probe_child'::name, 'scale_out_probe_child_beat_fkey'::name)$$,
    'a foreign key from a tenant table to a local table is found');
SELECT set_eq('SELECT * FROM foreign_keys_into_tenant_tables',
    $$VALUES ('skeldir.scale_out_probe_local', 'scale_out_probe_local_tenant_id_of_parent_id_fkey'::name)$$,
    'a foreign key from a local table into a tenant table is found');

SELECT * FROM finish();
ROLLBACK;
