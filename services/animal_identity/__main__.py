"""python -m services.animal_identity: serve until SIGTERM (settings from XCLOUD_ANIMAL_IDENTITY_*)."""
import asyncio

from services.animal_identity.app import AnimalIdentityApp
from services.animal_identity.settings import AnimalIdentitySettings
from services.runtime.server import configure_logging, serve_until_signal


def main() -> None:
    settings = AnimalIdentitySettings()
    configure_logging(settings.log_level, "animal_identity")
    asyncio.run(serve_until_signal(AnimalIdentityApp(settings), settings))


if __name__ == "__main__":
    main()
