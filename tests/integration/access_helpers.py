"""Signing in to the stack's API as its users do: the demo sign-ins `make up` seeds, through /oauth/token."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from api.access.seed_demo_users import demo_passwords_file
from infra.settings import StackSettings


def api_url(stack: StackSettings, path: str) -> str:
    return stack.api_url(path)


def api_get(stack: StackSettings, path: str, **kwargs: Any) -> httpx.Response:
    """GET over the API's TLS, trusting the stack's CA."""
    return httpx.get(stack.api_url(path), timeout=10, verify=stack.api_verify(), **kwargs)


def api_post(stack: StackSettings, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.post(stack.api_url(path), timeout=10, verify=stack.api_verify(), **kwargs)


def demo_password(stack: StackSettings, user: str) -> str:
    passwords: dict[str, str] = orjson.loads(demo_passwords_file(stack.state_dir).read_bytes())
    return passwords[user]


def service_token(stack: StackSettings, client_id: str = "report-scheduler") -> str:
    """An access token for the demo service client (client credentials: kpis, freshness, sales, operations)."""
    response = api_post(stack, "/oauth/token", data={
        "grant_type": "client_credentials", "client_id": client_id,
        "client_secret": demo_password(stack, client_id)})
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


def authorised_get(stack: StackSettings, path: str, token: str) -> httpx.Response:
    return api_get(stack, path, headers={"Authorization": f"Bearer {token}"})
