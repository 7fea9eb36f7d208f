"""`python -m api`: serve the API with uvicorn on the configured host and port (the stack starts it)."""

from __future__ import annotations

import uvicorn

from api.app import create_app
from infra.settings import get_settings


def main() -> None:
    settings = get_settings()
    uvicorn.run(create_app(settings), host=settings.api.host, port=settings.api.port, log_level="info",
                ws_ping_interval=30)


if __name__ == "__main__":
    main()
