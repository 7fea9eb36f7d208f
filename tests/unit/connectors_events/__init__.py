"""Unit tests of connectors.events (no network)."""
