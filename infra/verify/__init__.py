"""make verify: the streamed aggregates against the truth recomputed from PostgreSQL."""
