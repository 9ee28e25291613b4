from tests.services.face_attributes.support import attribute_models, faceapi_models  # noqa: F401 (fixtures)
