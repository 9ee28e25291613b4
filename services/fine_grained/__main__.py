"""python -m services.fine_grained: serve until SIGTERM (settings from XCLOUD_FINE_GRAINED_*)."""
import asyncio

from services.fine_grained.app import FineGrainedApp
from services.fine_grained.settings import FineGrainedSettings
from services.runtime.server import configure_logging, serve_until_signal


def main() -> None:
    settings = FineGrainedSettings()
    configure_logging(settings.log_level, "fine_grained")
    asyncio.run(serve_until_signal(FineGrainedApp(settings), settings))


if __name__ == "__main__":
    main()
