-- Deploy skeldir:table_tenant to pg
BEGIN;

/**
 * Tenants. The API key itself is never stored: only its sha256, which the ingest and
 * read functions compare against. App roles hold no privilege here; RLS is enabled with
 * no policy, so even a stray GRANT reveals nothing (the owner's definer functions resolve
 * tenants before any tenant GUC exists, hence no FORCE on this registry table).
 */
CREATE TABLE skeldir.tenants (
    id               uuid PRIMARY KEY DEFAULT extensions.gen_random_uuid(),
    slug             text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    api_key_hash     bytea NOT NULL UNIQUE CHECK (length(api_key_hash) = 32),
    status           text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    allocation_model text NOT NULL DEFAULT 'last_touch'
                     CHECK (allocation_model IN ('last_touch', 'first_touch', 'linear')),
    created_at       timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE skeldir.tenants IS 'Tenants; api_key_hash is sha256(api key), never the key.';

ALTER TABLE skeldir.tenants ENABLE ROW LEVEL SECURITY;

COMMIT;
