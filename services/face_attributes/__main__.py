"""python -m services.face_attributes: serve until SIGTERM (settings from XCLOUD_FACE_ATTRIBUTES_*)."""
import asyncio

from services.face_attributes.app import FaceAttributesApp
from services.face_attributes.settings import FaceAttributesSettings
from services.runtime.server import configure_logging, serve_until_signal


def main() -> None:
    settings = FaceAttributesSettings()
    configure_logging(settings.log_level, "face_attributes")
    asyncio.run(serve_until_signal(FaceAttributesApp(settings), settings))


if __name__ == "__main__":
    main()
