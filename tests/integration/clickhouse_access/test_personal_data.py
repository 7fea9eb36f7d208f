"""Personal data reaches a masking role only masked: the masked views carry the masks of api/access/masking.py,
the published views refuse the personal columns, the analytics database refuses everything."""

from __future__ import annotations

import pytest

from infra.clickhouse.mask_sql import mask_sql
from infra.clickhouse.runner import get_client
from tests.integration.clickhouse_access.conftest import AccessEnv
from tests.integration.clickhouse_access.probes import connect

pytestmark = pytest.mark.integration
PROTOCOLS = ["http", "native"]

# The contract's examples (issue "Who may see what", api/access/masking.py).
EXAMPLES = [
    ("phone", "0912345678", "0912-***-678"),
    ("phone", "0912-345-678", "0912-***-678"),
    ("phone", "02-2345-6789", "02-****-6789"),
    ("tax_id", "12345678", "12****78"),
    ("address", "台北市大安區復興南路一段1號", "台北市大安區***"),
    ("person_name", "王小明", "王**"),
    ("email", "wang@example.com", "w***@example.com"),
]


def _masked(client: object, kind: str, value: str | None) -> str | None:
    query = f"SELECT {mask_sql(kind, 'v')} FROM (SELECT CAST({{v:Nullable(String)}}, 'Nullable(String)') AS v)"
    rows = client.query(query, parameters={"v": value}).result_rows  # type: ignore[attr-defined]
    return rows[0][0]  # type: ignore[no-any-return]


def test_the_sql_masks_give_the_contract_examples(access_env: AccessEnv) -> None:
    client = get_client(access_env.settings)
    try:
        for kind, value, expected in EXAMPLES:
            assert _masked(client, kind, value) == expected, (kind, value)
            assert _masked(client, kind, None) is None
    finally:
        client.close()


def test_the_sql_masks_agree_with_the_api_masks(access_env: AccessEnv) -> None:
    masking = pytest.importorskip("api.access.masking")
    samples = {
        "phone": ["0912345678", "0912-345-678", "0912 345 678", "+886 912 345 678", "+886-912-345-678",
                  "886912345678", "02-2345-6789", "(02)2345-6789", "02 2345 6789", "0223456789", "07-123-4567",
                  "037-123456", "037123456", "049-2345678", "082-312345", "0826-12345", "0836-23456",
                  "089-345678", "02-2345-6789#123", "02-2345-6789 ext. 12", "02-2345-6789分機5", "02-2345-6789轉7",
                  "0912-***-678", "02-****-6789", "***678", "***", "1234567", "123", "12", "abc", " 0912345678 ",
                  "\u30000912345678\u3000", "０９１２３４５６７８", "", " ", "\u3000"],
        "tax_id": ["12345678", "12 345 678", "12****78", "A123456789", "1234567", "123456", "12345", "1", "", " ",
                   "統一編號12345678"],
        "person_name": ["王小明", "歐陽小華", "王明", "王", "John Smith", "王**", "", " "],
        "address": ["台北市大安區忠孝東路四段100號", "106台北市大安區忠孝東路四段100號", "106 台北市大安區復興南路1號",
                    "彰化縣彰化市中山路二段2號", "新竹市東區光復路1號", "花蓮縣花蓮市中正路1號", "台東縣台東市1號",
                    "屏東縣恆春鎮墾丁路1號", "新北市板橋區文化路1號", "台北市***", "台北市大安區***", "忠孝東路100號",
                    "Taipei", "", "１０６台北市大安區"],
        "email": ["wang@example.com", "a@b.tw", "w***@example.com", "***@x.tw", "王@例子.台灣", "a@b@c.com", "noat",
                  "@example.com", ""],
    }
    client = get_client(access_env.settings)
    try:
        for kind, values in samples.items():
            # Row by row (not constants): the way a view evaluates the mask.
            rows = client.query(f"SELECT v, {mask_sql(kind, 'v')} FROM (SELECT arrayJoin({{vs:Array(String)}}) AS v)",
                                parameters={"vs": values}).result_rows
            assert [(v, masking.mask(kind, v)) for v in values] == [tuple(r) for r in rows], kind
    finally:
        client.close()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_the_analyst_sees_personal_columns_only_masked(access_env: AccessEnv, protocol: str) -> None:
    env = access_env
    run, close = connect(protocol, env.settings, "bi_analyst", env.password("bi_analyst"), env.database)
    try:
        contacts = run("SELECT name_zh, mobile, phone, email, line_id FROM v_w100_customer_contact_masked")
        assert set(contacts) == {("王**", "0912-***-678", "02-****-6789", "w***@example.com", "w**")}
        assert set(run("SELECT name_zh, tax_id FROM v_w100_customer_master_masked")) == {("王**", "12****78")}
        assert set(run("SELECT address_zh FROM v_w100_customer_address_masked")) == {("台北市大安區***",)}
        assert set(run("SELECT buyer_tax_id FROM v_w500_invoice_header_masked")) == {("12****78",)}
        # The published view gives the other columns, and refuses the personal ones.
        assert len(run("SELECT contact_id, customer_id, is_primary FROM v_w100_customer_contact")) == 2
        for column in ("mobile", "phone", "name_zh", "email", "line_id", "*"):
            with pytest.raises(Exception, match="Not enough privileges"):
                run(f"SELECT {column} FROM v_w100_customer_contact")
        with pytest.raises(Exception, match="Not enough privileges"):
            run("SELECT tax_id FROM v_w100_customer_master")
        for table in ("v_w100_customer_contact", "cur_w100_customer_contact"):
            with pytest.raises(Exception, match="Not enough privileges"):
                run(f"SELECT mobile FROM luckygas.{table}")
    finally:
        close()


def test_a_role_that_sees_personal_data_reads_it_plain(access_env: AccessEnv) -> None:
    env = access_env
    run, close = connect("http", env.settings, "bi_branch_tpe", env.password("bi_branch_tpe"), env.database)
    try:
        assert run("SELECT mobile FROM v_w100_customer_contact") == [("0912345678",)]
        with pytest.raises(Exception, match=r"Not enough privileges|Unknown table|UNKNOWN_TABLE"):
            run("SELECT mobile FROM v_w100_customer_contact_masked")
    finally:
        close()
