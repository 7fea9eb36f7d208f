"""Integration tests of connectors.events against a real local RabbitMQ node."""
