"""Tokens of the stack's demo sign-ins, one per role, the head office's and the auditor's with a verified TOTP."""

from __future__ import annotations

import orjson
import pyotp

from api.access.seed_demo_users import demo_passwords_file
from infra.settings import StackSettings
from tests.integration.access_helpers import api_post


def demo_users(stack: StackSettings) -> dict[str, str]:
    """Demo user → password, as `make up` seeded them."""
    users: dict[str, str] = orjson.loads(demo_passwords_file(stack.state_dir).read_bytes())
    return users


def password_token(stack: StackSettings, user: str) -> str:
    response = api_post(stack, "/oauth/token", data={"grant_type": "password", "username": user,
                                                      "password": demo_users(stack)[user]})
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token




def with_mfa(stack: StackSettings, token: str) -> str:
    """The same person's token after enrolling an authenticator and verifying a code (amr pwd+otp)."""
    headers = {"Authorization": f"Bearer {token}"}
    enrolled = api_post(stack, "/mfa/totp/enrol", headers=headers)
    assert enrolled.status_code == 201, enrolled.text
    code = pyotp.TOTP(enrolled.json()["secret"]).now()
    verified = api_post(stack, "/mfa/totp/verify", headers=headers, json={"code": code})
    assert verified.status_code == 200, verified.text
    mfa_token: str = verified.json()["access_token"]
    return mfa_token
