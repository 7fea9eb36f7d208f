"""The business simulator: stands in for the legacy application writing to the operational database.

Deterministic from a seed. `backfill` writes N days of consistent history; `live` keeps the business
going at a chosen pace. Every business action is one SQL transaction that keeps the invariants
documented in `infra/postgres/schema.sql`.
"""
