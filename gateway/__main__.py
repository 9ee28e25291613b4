"""python -m gateway: serve until SIGTERM (settings from XCLOUD_GATEWAY_*)."""
from gateway.app import GatewayApp
from gateway.settings import GatewaySettings
from services.runtime.main import serve


def main() -> None:
    serve(GatewayApp, GatewaySettings)


if __name__ == "__main__":
    main()
