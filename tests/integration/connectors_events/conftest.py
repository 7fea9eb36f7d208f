"""A real RabbitMQ node per session (Debian's rabbitmq-server, started by `LocalRabbitMQ` on free loopback ports
with all state in a tmp dir), per-test settings with their own exchange and queues, and a broker inspector."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from connectors.events.local_rabbitmq import LocalRabbitMQ
from connectors.events.settings import EventsSettings
from tests.integration.connectors_events.helpers import Inspector, inspector_for, new_node, node_fixture, settings_for


@pytest.fixture(scope="session")
def rabbitmq(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRabbitMQ]:
    yield from node_fixture(new_node(tmp_path_factory.mktemp("rabbitmq")))


@pytest.fixture
def events_settings(rabbitmq: LocalRabbitMQ) -> EventsSettings:
    return settings_for(rabbitmq)


@pytest_asyncio.fixture(loop_scope="session")
async def inspector(rabbitmq: LocalRabbitMQ) -> AsyncIterator[Inspector]:
    async with inspector_for(rabbitmq) as opened:
        yield opened
