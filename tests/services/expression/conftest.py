from tests.services.face_attributes.support import faceapi_models  # noqa: F401 (fixture)
