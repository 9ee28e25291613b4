"""python -m services.face_detection: serve until SIGTERM (settings from
XCLOUD_FACE_DETECTION_*)."""
from services.face_detection.app import FaceDetectionApp
from services.face_detection.settings import FaceDetectionSettings
from services.runtime.main import serve


def main() -> None:
    serve(FaceDetectionApp, FaceDetectionSettings)


if __name__ == "__main__":
    main()
