"""MTCNN's three cascaded networks (Zhang et al., 2016), laid out so that the state dicts
shipped in facenet-pytorch 2.6.0 (``facenet_pytorch/data/{pnet,rnet,onet}.pt``) load strictly.

All three take float32 NCHW RGB normalised as (x - 127.5) * 0.0078125 and keep the face
softmax inside the model, so a served model returns probabilities (index 1 = face).
"""
from __future__ import annotations

import torch
from torch import nn


def _conv(c_in: int, c_out: int, kernel: int) -> tuple[nn.Conv2d, nn.PReLU]:
    return nn.Conv2d(c_in, c_out, kernel_size=kernel), nn.PReLU(c_out)


def _flatten_whc(x: torch.Tensor) -> torch.Tensor:
    # The weights were converted from the original Caffe/TF nets whose dense layers read the
    # feature map in (W, H, C) order; facenet-pytorch permutes to (N, C, W, H) -> (N, W, H, C)
    # before flattening, and the dense weights only make sense in that order.
    return x.permute(0, 3, 2, 1).contiguous().flatten(1)


class PNet(nn.Module):
    """Proposal net: fully convolutional, any input >= 12x12; one cell per 2 input pixels."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = _conv(3, 10, 3)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2, self.prelu2 = _conv(10, 16, 3)
        self.conv3, self.prelu3 = _conv(16, 32, 3)
        self.conv4_1 = nn.Conv2d(32, 2, kernel_size=1)  # face / not face
        self.conv4_2 = nn.Conv2d(32, 4, kernel_size=1)  # box regression

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return self.conv4_2(x), torch.softmax(self.conv4_1(x), dim=1)


class RNet(nn.Module):
    """Refine net: 24x24 crops -> box regression (N, 4), face probability (N, 2)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = _conv(3, 28, 3)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = _conv(28, 48, 3)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = _conv(48, 64, 2)
        self.dense4 = nn.Linear(576, 128)
        self.prelu4 = nn.PReLU(128)
        self.dense5_1 = nn.Linear(128, 2)
        self.dense5_2 = nn.Linear(128, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.prelu3(self.conv3(x))
        x = self.prelu4(self.dense4(_flatten_whc(x)))
        return self.dense5_2(x), torch.softmax(self.dense5_1(x), dim=1)


class ONet(nn.Module):
    """Output net: 48x48 crops -> box regression (N, 4), landmarks (N, 10), probability (N, 2).

    Landmarks are fractions of the crop: 5 x values then 5 y values, in the order left eye,
    right eye, nose, left mouth corner, right mouth corner as seen in the image.
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = _conv(3, 32, 3)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = _conv(32, 64, 3)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = _conv(64, 64, 3)
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4, self.prelu4 = _conv(64, 128, 2)
        self.dense5 = nn.Linear(1152, 256)
        self.prelu5 = nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.pool3(self.prelu3(self.conv3(x)))
        x = self.prelu4(self.conv4(x))
        x = self.prelu5(self.dense5(_flatten_whc(x)))
        return self.dense6_2(x), self.dense6_3(x), torch.softmax(self.dense6_1(x), dim=1)


NETS: dict[str, type[nn.Module]] = {"pnet": PNet, "rnet": RNet, "onet": ONet}


def load_net(kind: str, state_dict_path: str) -> nn.Module:
    """One of "pnet" / "rnet" / "onet" with its pretrained weights, in eval mode."""
    net = NETS[kind]()
    state = torch.load(state_dict_path, map_location="cpu", weights_only=True)
    net.load_state_dict(state, strict=True)
    return net.eval()
