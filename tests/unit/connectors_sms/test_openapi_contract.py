"""gateway_openapi.yaml is valid OpenAPI 3.1 and agrees with our models on sample bodies."""

from __future__ import annotations

import re
from functools import cache
from importlib.resources import files
from typing import Any

import pytest
import yaml
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate
from pydantic import ValidationError

from connectors.sms.client import IDEMPOTENCY_KEY_RE, SendAccepted
from connectors.sms.receipts import DeliveryReceipt
from connectors.sms.signature import sign
from infra.clock import FixedClock


@cache
def spec() -> dict[str, Any]:
    text = files("connectors.sms").joinpath("gateway_openapi.yaml").read_text(encoding="utf-8")
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


def schema_accepts(name: str, instance: object) -> bool:
    return bool(OAS31Validator(spec()["components"]["schemas"][name]).is_valid(instance))


def test_document_is_valid_openapi() -> None:
    validate(spec())
    operation = spec()["paths"]["/v1/messages"]["post"]
    assert set(operation["responses"]) >= {"202", "401", "422", "429", "500", "503"}
    assert "Retry-After" in spec()["components"]["responses"]["TooManyRequests"]["headers"]
    assert spec()["components"]["securitySchemes"]["ApiKey"]["name"] == "X-Api-Key"
    assert "deliveryReceipt" in operation["callbacks"]


RECEIPTS = [
    {"message_id": "m1", "status": "delivered", "error_code": None, "delivered_at": "2026-01-15T02:00:00+00:00"},
    {"message_id": "m1", "status": "failed", "error_code": "EC_1", "delivered_at": None},
    {"message_id": "m1", "status": "expired", "error_code": None, "delivered_at": None},
    {"message_id": "m1", "status": "read", "error_code": None, "delivered_at": None},
    {"message_id": "m1", "status": "delivered", "error_code": None, "delivered_at": None, "x": 1},
    {"message_id": "bad id", "status": "expired", "error_code": None, "delivered_at": None},
]


@pytest.mark.parametrize("body", RECEIPTS)
def test_receipt_schema_and_model_agree_on_shape(body: dict[str, Any]) -> None:
    try:
        DeliveryReceipt.model_validate(body)
        model_ok = True
    except ValidationError:
        model_ok = False
    # The model adds cross-field rules the schema states in prose (delivered needs delivered_at ...):
    # anything the model accepts, the schema must accept.
    if model_ok:
        assert schema_accepts("DeliveryReceipt", body)
    if not schema_accepts("DeliveryReceipt", body):
        assert not model_ok


def test_accepted_body_schema_matches_client_model() -> None:
    body = {"message_id": "mabc", "segments": 1, "encoding": "UCS-2"}
    assert schema_accepts("SendAccepted", body)
    SendAccepted.model_validate(body)
    assert set(spec()["components"]["schemas"]["SendAccepted"]["required"]) == set(SendAccepted.model_fields)


def test_idempotency_key_pattern_matches_client() -> None:
    pattern = spec()["components"]["parameters"]["IdempotencyKey"]["schema"]["pattern"]
    assert pattern == IDEMPOTENCY_KEY_RE.pattern


def test_signature_header_matches_declared_pattern() -> None:
    declared = spec()["components"]["parameters"]["SmsSignature"]["schema"]["pattern"]
    assert re.match(declared, sign(b"{}", "secret-0123456789abcdef", FixedClock().now()))
