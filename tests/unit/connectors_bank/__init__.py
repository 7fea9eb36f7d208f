"""Unit tests of connectors.bank."""
