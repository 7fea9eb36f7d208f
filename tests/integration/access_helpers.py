"""Signing in to the stack's API as its users do: the demo sign-ins `make up` seeds, through /oauth/token."""

from __future__ import annotations

import httpx
import orjson

from api.access.seed_demo_users import demo_passwords_file
from infra.settings import StackSettings


def api_url(stack: StackSettings, path: str) -> str:
    return f"http://{stack.api.host}:{stack.api.port}{path}"


def demo_password(stack: StackSettings, user: str) -> str:
    passwords: dict[str, str] = orjson.loads(demo_passwords_file(stack.state_dir).read_bytes())
    return passwords[user]


def service_token(stack: StackSettings, client_id: str = "report-scheduler") -> str:
    """An access token for the demo service client (client credentials: kpis, freshness, sales, operations)."""
    response = httpx.post(api_url(stack, "/oauth/token"), timeout=10, data={
        "grant_type": "client_credentials", "client_id": client_id,
        "client_secret": demo_password(stack, client_id)})
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


def authorised_get(stack: StackSettings, path: str, token: str) -> httpx.Response:
    return httpx.get(api_url(stack, path), headers={"Authorization": f"Bearer {token}"}, timeout=10)
