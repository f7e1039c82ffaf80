-- Catalog-driven: every table with a tenant_id column is tenant-scoped, so a new table that
-- forgets RLS fails here without anyone listing it.
BEGIN;
SELECT plan(3);

CREATE TEMP VIEW tenant_tables AS
SELECT c.oid, c.relname
  FROM pg_class AS c
  JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
 WHERE c.relnamespace = 'skeldir'::regnamespace AND c.relkind = 'r' AND c.relname <> 'tenants';

SELECT isnt_empty('SELECT * FROM tenant_tables', 'there are tenant tables to check');
SELECT is_empty($$
    SELECT t.relname FROM tenant_tables AS t JOIN pg_class AS c ON c.oid = t.oid
     WHERE NOT (c.relrowsecurity AND c.relforcerowsecurity)
        OR NOT EXISTS (SELECT FROM pg_policy AS p WHERE p.polrelid = t.oid
                        AND pg_get_expr(p.polqual, p.polrelid) LIKE '%current_tenant_id()%')
$$, 'every tenant table has RLS enabled and forced and a policy on the tenant GUC');
SELECT is_empty($$
    SELECT t.relname FROM tenant_tables AS t
     WHERE has_table_privilege('app_user', t.oid, 'SELECT,INSERT,UPDATE,DELETE')
        OR has_table_privilege('app_ro', t.oid, 'SELECT')
$$, 'no app role has a privilege on any tenant table');

SELECT * FROM finish();
ROLLBACK;
