"""python -m services.face_detection: serve until SIGTERM (settings from XCLOUD_FACE_DETECTION_*)."""
import asyncio

from services.face_detection.app import FaceDetectionApp
from services.face_detection.settings import FaceDetectionSettings
from services.runtime.server import configure_logging, serve_until_signal


def main() -> None:
    settings = FaceDetectionSettings()
    configure_logging(settings.log_level, "face_detection")
    asyncio.run(serve_until_signal(FaceDetectionApp(settings), settings))


if __name__ == "__main__":
    main()
