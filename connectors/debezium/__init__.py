"""The Debezium PostgreSQL connector: how the operational database's changes reach Kafka."""
