"""python -m gateway: serve until SIGTERM (settings from XCLOUD_GATEWAY_*)."""
import asyncio

from gateway.app import GatewayApp
from gateway.settings import GatewaySettings
from services.runtime.server import configure_logging, serve_until_signal


def main() -> None:
    settings = GatewaySettings()
    configure_logging(settings.log_level, "gateway")
    asyncio.run(serve_until_signal(GatewayApp(settings), settings))


if __name__ == "__main__":
    main()
