"""The in-memory sink passes the sink contract."""

from __future__ import annotations

from sinks.base import Sink
from sinks.ddl import TableDef
from sinks.memory import MemorySink
from tests.unit.sinks.contract import SinkContract


class TestMemorySink(SinkContract):
    def make_sink(self, defs: dict[str, TableDef]) -> Sink:
        return MemorySink(defs)
