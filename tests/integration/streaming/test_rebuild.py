"""`make rebuild`: the worker's tables dropped and recomputed from the topics with the progress bar; the
figures equal the truth and the BI views answer again."""

from __future__ import annotations

import pytest

from infra.catchup import rebuild
from infra.clickhouse.runner import get_client
from infra.services import worker_health
from infra.settings import StackSettings
from tests.integration.streaming.helpers import wait_until_verified

pytestmark = pytest.mark.integration


def test_rebuild_recomputes_everything_and_the_views_answer(stack: StackSettings, capsys: pytest.CaptureFixture[str]
                                                           ) -> None:
    assert wait_until_verified(stack, timeout=120) == []
    assert rebuild(stack)
    assert "records/s" in capsys.readouterr().out  # the bar showed the catch-up
    assert worker_health(stack).state == "up"
    assert wait_until_verified(stack, timeout=120) == []
    client = get_client(stack, database="default")
    try:
        views = client.query("SELECT count() FROM system.tables WHERE database = 'luckygas_bi'").result_rows[0][0]
        sales = client.query(f"SELECT count() FROM `{stack.clickhouse.database}`.sales").result_rows[0][0]
    finally:
        client.close()
    assert views > 0 and sales > 0
