"""The name of every model in the repository (``models/repository/<name>/<version>/``).

The build (models/build.py and its exporters) writes models under these names and the services
load them by these names, so a name is spelled once, here: a renamed model is one edit, and a
misspelt one is an ImportError instead of a model "not installed" at run time. It lives in
``xcloud`` because both ``models`` (build, evaluation) and ``services`` import it, and the
service images carry ``xcloud`` but not ``models``.
"""
from __future__ import annotations

# Face detection: MTCNN's three stages (facenet-pytorch weights) and BlazeFace (@vladmandic/human).
MTCNN_PNET = "mtcnn_pnet"
MTCNN_RNET = "mtcnn_rnet"
MTCNN_ONET = "mtcnn_onet"
MTCNN = (MTCNN_PNET, MTCNN_RNET, MTCNN_ONET)  # in pipeline order
BLAZEFACE = "blazeface"

# face-api nets (@vladmandic/face-api).
FACEAPI_AGE_GENDER = "faceapi_age_gender"
FACEAPI_EXPRESSION = "faceapi_expression"
FACEAPI_RECOGNITION = "faceapi_recognition"

# Our face heads (committed weights under models/attributes/weights and models/identity).
BEAUTY = "beauty_scut5500"
RACE = "race_utkface"
GENDER = "gender_xcloud"
AGE = "age_xcloud"
FACE_TRUNK = "face_trunk_xcloud"          # one pass: age, gender, race, beauty
FACE_EMBEDDING = "face_embedding_xcloud"  # the identity embedding (FaceNet + our head)

# MobileNetV2 (torchvision weights) and the heads on it.
MOBILENET_V2_IMAGENET = "mobilenet_v2_imagenet"
MOBILENET_V2_FEATURES = "mobilenet_v2_features"
FLOWERS17 = "flowers17_mobilenet_v2"
ANIMAL_REID = "animal_reid_mobilenet_v2"

# Content quality (Zhihu Live): the served MTB-DNN, and the study's MLP (weights only).
ZHIHU_MTBDNN = "zhihu_mtbdnn"
ZHIHU_MLP = "zhihu_mlp"
