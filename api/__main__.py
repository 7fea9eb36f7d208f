"""`python -m api`: serve the API with uvicorn on the configured host and port, over HTTPS unless `api.tls` is
off (the stack starts it)."""

from __future__ import annotations

from typing import Any

import uvicorn

from api.app import create_app
from infra.settings import get_settings


def main() -> None:
    settings = get_settings()
    tls: dict[str, Any] = {}
    if settings.api.tls:
        files = settings.api_tls_files()
        # uvicorn's default context is PROTOCOL_TLS_SERVER: TLS 1.2 minimum, 1.3 negotiated when offered.
        tls = {"ssl_certfile": str(files.certificate), "ssl_keyfile": str(files.private_key)}
    uvicorn.run(create_app(settings), host=settings.api.host, port=settings.api.port, log_level="info",
                ws_ping_interval=30, **tls)


if __name__ == "__main__":
    main()
