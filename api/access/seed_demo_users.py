"""Demo sign-ins for the local stack: a few employees of every analytics role, an analyst, an auditor and one
internal service client, with random passwords that `make run` prints.

    python -m api.access.seed_demo_users        # seed (idempotent) and print the table

Contract: `seed_demo_users(dsn, passwords_file)` creates the `auth` schema if needed and, for employees the
simulator wrote (`w110.employee_master` / `employee_role`, active only), picks per analytics role (mapped
with `api/access/roles.yaml`: `AccessPolicy.role_for_employee`) the first `per_role` employees of distinct
branches (of distinct source roles for a company-wide role), head office first; adds the local accounts
`analyst` and `auditor` (all branches) and the client `report-scheduler` (role integration). Passwords are
generated once and kept in `passwords_file` (JSON, 0600) so later runs print the same ones; a credential is
(re)written only when missing in the database. Returns the accounts as `DemoUser`s; raises `RuntimeError`
when the database holds no employees yet.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from api.access.credentials import ClientRecord, SecretHasher
from api.access.credentials_pg import DEFAULT_SCHEMA, PostgresCredentialStore
from api.access.policy import AccessPolicy, load_policy

LOCAL_USERS = (("analyst", "analyst"), ("auditor", "auditor"))
SERVICE_CLIENT = ("report-scheduler", "integration", ("read:kpis", "read:freshness", "read:sales", "read:operations"))
_EMPLOYEES = """
SELECT e.employee_no, e.employee_id, e.branch_code, r.code
FROM w110.employee_master e JOIN w110.employee_role r USING (role_id)
WHERE e.status = 'active' ORDER BY e.employee_id
"""


@dataclass(frozen=True, slots=True)
class DemoUser:
    user: str  # what to type as username (employee number, user name, or client id)
    password: str
    role: str
    branch: str  # branch code, or "*" for all branches
    subject: str
    grant: str = "password"  # or "client_credentials"


def _passwords(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    data: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _save_passwords(path: Path, passwords: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(passwords, out, indent=1, sort_keys=True)
    temp.replace(path)


def pick_employees(rows: list[tuple[str, int, str, str]], policy: AccessPolicy, per_role: int) -> list[DemoUser]:
    """Per analytics role, the first `per_role` employees (head office first) of distinct branches, or of
    distinct source roles for a role that sees every branch (the head office's manager and accountant)."""
    ordered = sorted(rows, key=lambda r: (r[2] != policy.head_office_branch, r[1]))
    chosen: dict[str, list[DemoUser]] = {}
    for employee_no, employee_id, branch, code in ordered:
        role = policy.role_for_employee(code, branch)
        if role is None:
            continue
        picked = chosen.setdefault(role, [])
        # branch-scoped roles: one per branch; company-wide roles (the head office): one per source role
        distinct = branch if policy.role(role).branch_scope == "own" else code
        if len(picked) < per_role and distinct not in {u.grant for u in picked}:
            picked.append(DemoUser(employee_no, "", role, branch, f"emp:{employee_id}", grant=distinct))
    for users in chosen.values():
        users[:] = [DemoUser(u.user, u.password, u.role, u.branch, u.subject) for u in users]
    return [user for users in chosen.values() for user in users]


async def _credential_exists(conn: psycopg.AsyncConnection[Any], user: DemoUser, schema: str) -> bool:
    if user.grant == "client_credentials":
        query, ident = "SELECT 1 FROM auth.client WHERE client_id = %s", user.user
    elif user.subject.startswith("emp:"):
        query, ident = "SELECT 1 FROM auth.employee_credential WHERE employee_id = %s", user.subject[4:]
    else:
        query, ident = "SELECT 1 FROM auth.local_user WHERE username = %s", user.user
    cur = await conn.execute(query.replace("auth.", f"{schema}."),  # the store validated the name
                             (int(ident) if user.subject.startswith("emp:") else ident,))
    return await cur.fetchone() is not None


async def _write(store: PostgresCredentialStore, hasher: SecretHasher, user: DemoUser) -> None:
    hashed = await hasher.hash(user.password)
    if user.grant == "client_credentials":
        _, role, scopes = SERVICE_CLIENT
        await store.set_client(ClientRecord(user.user, hashed, role, frozenset(scopes)))
    elif user.subject.startswith("emp:"):
        await store.set_employee_password(user.user, hashed)
    else:
        await store.set_local_user(user.user, hashed, user.role, None)


async def seed_demo_users_async(dsn: str, passwords_file: Path, policy: AccessPolicy | None = None,
                                hasher: SecretHasher | None = None, per_role: int = 2,
                                schema: str = DEFAULT_SCHEMA) -> list[DemoUser]:
    policy, hasher = policy or load_policy(), hasher or SecretHasher()
    store = PostgresCredentialStore(dsn, None, max_connections=1, schema=schema)
    await store.open()
    try:
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            rows = await (await conn.execute(_EMPLOYEES)).fetchall()
            if not rows:
                raise RuntimeError("no employees in w110.employee_master yet: run the simulator's backfill first")
            users = pick_employees([(r[0], r[1], r[2], r[3]) for r in rows], policy, per_role)
            users += [DemoUser(name, "", role, "*", f"user:{name}") for name, role in LOCAL_USERS]
            users.append(DemoUser(SERVICE_CLIENT[0], "", SERVICE_CLIENT[1], "*", f"client:{SERVICE_CLIENT[0]}",
                                  "client_credentials"))
            passwords = _passwords(passwords_file)
            result = []
            for user in users:
                known = user.user in passwords
                password = passwords.setdefault(user.user, secrets.token_urlsafe(12))
                user = DemoUser(user.user, password, user.role, user.branch, user.subject, user.grant)
                if not known or not await _credential_exists(conn, user, store.schema):
                    await _write(store, hasher, user)
                result.append(user)
            _save_passwords(passwords_file, passwords)
            return result
    finally:
        await store.close()


def seed_demo_users(dsn: str, passwords_file: Path, policy: AccessPolicy | None = None,
                    hasher: SecretHasher | None = None, per_role: int = 2,
                    schema: str = DEFAULT_SCHEMA) -> list[DemoUser]:
    """Synchronous `seed_demo_users_async` (for `infra.stack up`; not from inside an event loop)."""
    return asyncio.run(seed_demo_users_async(dsn, passwords_file, policy, hasher, per_role, schema))


def format_demo_users(users: list[DemoUser]) -> str:
    """The table `make run` prints."""
    lines = [f"  {'user':<26} {'password':<18} {'role':<15} branch", f"  {'-' * 26} {'-' * 18} {'-' * 15} ------"]
    for u in users:
        name = f"{u.user} (client)" if u.grant == "client_credentials" else u.user
        lines.append(f"  {name:<26} {u.password:<18} {u.role:<15} {'all' if u.branch == '*' else u.branch}")
    return "\n".join(lines)


def demo_passwords_file(state_dir: Path) -> Path:
    return state_dir / "auth" / "demo-users.json"


def main() -> None:
    from infra.settings import get_settings

    settings = get_settings()
    users = seed_demo_users(settings.postgres.dsn(), demo_passwords_file(settings.state_dir))
    print("Demo sign-ins (POST /oauth/token, grant_type=password; the client uses client_credentials):")
    print(format_demo_users(users))


if __name__ == "__main__":
    main()
