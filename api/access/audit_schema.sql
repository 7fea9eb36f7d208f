-- The audit trail (schema `audit`): append-only, hash-chained records; see api/access/audit_chain.py.
-- Idempotent. Run by the schema owner (api.access.audit_pg.ensure_audit_schema) under an advisory lock.
CREATE SCHEMA IF NOT EXISTS audit;

CREATE TABLE IF NOT EXISTS audit.events (
    seq            bigint PRIMARY KEY,
    at             timestamptz NOT NULL,
    kind           text NOT NULL,
    principal      text,
    route          text,
    parameters     jsonb NOT NULL,
    branch_filter  text,
    row_count      bigint,
    byte_count     bigint,
    content_sha256 text,
    duration_ms    double precision,
    status         integer,
    detail         text,
    prev_hash      text NOT NULL,
    hash           text NOT NULL UNIQUE
);
CREATE INDEX IF NOT EXISTS events_by_time ON audit.events (at DESC, seq DESC);
CREATE INDEX IF NOT EXISTS events_by_principal ON audit.events (principal, at DESC, seq DESC);
CREATE INDEX IF NOT EXISTS events_by_kind ON audit.events (kind, at DESC, seq DESC);
CREATE INDEX IF NOT EXISTS events_by_route ON audit.events (route text_pattern_ops, at DESC, seq DESC);

-- Left by each purge: records before first_seq were removed; record first_seq links to prev_hash.
CREATE TABLE IF NOT EXISTS audit.anchors (
    first_seq       bigint PRIMARY KEY,
    prev_hash       text NOT NULL,
    purged_from_seq bigint NOT NULL,
    cutoff          timestamptz NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- How long records are kept (one row); the trigger lets a purge delete only records older than this.
CREATE TABLE IF NOT EXISTS audit.retention (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    keep      interval NOT NULL CHECK (keep >= interval '1 year')
);

-- UPDATE is always refused; DELETE only inside a purge (the transaction set audit.purge_before) and only for
-- records older than both that cutoff and the retention. The API's role has no UPDATE/DELETE right at all.
CREATE OR REPLACE FUNCTION audit.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    cutoff_text text := current_setting('audit.purge_before', true);
    kept interval;
BEGIN
    IF TG_OP = 'DELETE' AND TG_TABLE_NAME = 'events' AND coalesce(cutoff_text, '') <> '' THEN
        SELECT r.keep INTO kept FROM audit.retention r;
        IF kept IS NOT NULL AND OLD.at < cutoff_text::timestamptz AND cutoff_text::timestamptz <= now() - kept THEN
            RETURN OLD;
        END IF;
    END IF;
    RAISE EXCEPTION 'audit.% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE OR REPLACE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON audit.events
    FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE OR REPLACE TRIGGER events_no_truncate BEFORE TRUNCATE ON audit.events
    FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();
CREATE OR REPLACE TRIGGER anchors_append_only BEFORE UPDATE OR DELETE ON audit.anchors
    FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE OR REPLACE TRIGGER anchors_no_truncate BEFORE TRUNCATE ON audit.anchors
    FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();

REVOKE ALL ON ALL TABLES IN SCHEMA audit FROM PUBLIC;
