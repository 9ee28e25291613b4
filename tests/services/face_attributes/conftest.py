from tests.services.face_attributes.support import (  # noqa: F401 (fixtures)
    attribute_models,
    faceapi_models,
)
