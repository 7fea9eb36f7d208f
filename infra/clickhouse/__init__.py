"""ClickHouse: a real server from the chdb-core wheel for local use; any cluster by URL in production."""
