"""The operational database: a local PostgreSQL 15 cluster, its schema, and its runner."""
