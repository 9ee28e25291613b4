"""python -m services.face_attributes: serve until SIGTERM (settings from
XCLOUD_FACE_ATTRIBUTES_*)."""
from services.face_attributes.app import FaceAttributesApp
from services.face_attributes.settings import FaceAttributesSettings
from services.runtime.main import serve


def main() -> None:
    serve(FaceAttributesApp, FaceAttributesSettings)


if __name__ == "__main__":
    main()
