-- Bootstrap a Skeldir database: the only script that runs as a superuser.
--
-- Creates the roles of SPEC §3, the database owned by migration_owner, and the
-- extensions that need a superuser. Everything else is deployed by sqitch as
-- migration_owner. Idempotent: running it again only resets the passwords.
--
--   psql -X -d postgres -v db=skeldir \
--        -v migration_password=... -v app_password=... \
--        -v with_cron=on -v with_pgtap=off -f sql/bootstrap.sql
\set ON_ERROR_STOP on
\set QUIET on

SELECT format('CREATE ROLE migration_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS')
 WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'migration_owner') \gexec
SELECT format('CREATE ROLE app_rw NOLOGIN NOSUPERUSER NOBYPASSRLS')
 WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'app_rw') \gexec
SELECT format('CREATE ROLE app_ro NOLOGIN NOSUPERUSER NOBYPASSRLS')
 WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'app_ro') \gexec
-- Owns the materialized views: REFRESH runs their query as the owner, and the matviews
-- aggregate across tenants under FORCEd RLS, so their owner alone bypasses RLS. It cannot
-- log in; migration_owner is a member so that it can create and refresh them.
SELECT format('CREATE ROLE matview_owner NOLOGIN NOSUPERUSER BYPASSRLS')
 WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'matview_owner') \gexec
GRANT matview_owner TO migration_owner;
SELECT format('CREATE ROLE app_user LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS IN ROLE app_rw')
 WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'app_user') \gexec

-- Passwords are set every run so that a lost password file can be regenerated.
ALTER ROLE migration_owner PASSWORD :'migration_password';
ALTER ROLE app_user PASSWORD :'app_password';
-- Runtime roles never hold more than app_rw, whatever was granted by hand before: attributes
-- reset, membership in app_rw (re)granted, every other membership revoked.
ALTER ROLE app_user NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
ALTER ROLE migration_owner NOSUPERUSER NOBYPASSRLS;
GRANT app_rw TO app_user;
SELECT format('REVOKE %s FROM app_user', m.roleid::regrole)
  FROM pg_catalog.pg_auth_members AS m
 WHERE m.member = 'app_user'::regrole AND m.roleid <> 'app_rw'::regrole \gexec

SELECT format('CREATE DATABASE %I OWNER migration_owner ENCODING %L TEMPLATE template0', :'db', 'UTF8')
 WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_database WHERE datname = :'db') \gexec

\connect :db
SET client_min_messages = warning;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO PUBLIC;

CREATE SCHEMA IF NOT EXISTS extensions AUTHORIZATION migration_owner;
REVOKE ALL ON SCHEMA extensions FROM PUBLIC;
CREATE EXTENSION IF NOT EXISTS pgcrypto SCHEMA extensions;

\if :with_cron
-- pg_catalog, as Supabase does: nothing of ours lives in public (splinter lint extension_in_public).
-- pg_cron is not relocatable; its objects are in its own schema cron either way.
CREATE EXTENSION IF NOT EXISTS pg_cron SCHEMA pg_catalog;
-- migration_owner schedules its own jobs; they run as migration_owner.
GRANT USAGE ON SCHEMA cron TO migration_owner;
\endif

\if :with_pgtap
CREATE EXTENSION IF NOT EXISTS pgtap SCHEMA public;
\endif
