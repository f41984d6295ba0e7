"""C3D: eight 3x3x3 convs, five max-pools and two fully connected layers.

Tran et al., "Learning Spatiotemporal Features with 3D Convolutional Networks",
ICCV 2015 (https://arxiv.org/abs/1412.0767).

Takes 16-frame 112 x 112 clips; the output is the fc7 feature (N, 4096).
"""
from __future__ import annotations

import os
from collections.abc import Mapping

import torch
from torch import nn

from ..builder import MODELS
from ..ops import ConvModule, constant_init, kaiming_init, normal_init
from .resnet import _check_pretrained, load_pretrained_weights

# (name, in, out) of the convs; a pool follows each group (1a | 2a | 3a 3b | 4a 4b | 5a 5b)
_CONVS = (('conv1a', 3, 64), ('conv2a', 64, 128), ('conv3a', 128, 256), ('conv3b', 256, 256),
          ('conv4a', 256, 512), ('conv4b', 512, 512), ('conv5a', 512, 512), ('conv5b', 512, 512))


@MODELS.register_module()
class C3D(nn.Module):
    """C3D backbone: (N, 3, 16, 112, 112) clips -> (N, 4096) features.

    Args:
        pretrained: checkpoint path/name or None (loaded non-strictly by :meth:`init_weights`).
        style: ``'pytorch'`` or ``'caffe'``; kept for MMAction2 configs (no effect).
        conv_cfg: conv type (None = ``Conv3d``).
        norm_cfg: norm after each conv (None = none, as in the paper).
        act_cfg: activation (None = ``ReLU``).
        out_dim: flattened size of the pool5 output, the input of fc6 (8192 for 112 x 112).
        dropout_ratio: dropout after fc6 and fc7.
        init_std: std of the normal init of fc6/fc7.
    """

    def __init__(self, pretrained: str | os.PathLike | None = None, style: str = 'pytorch',
                 conv_cfg: Mapping | None = None, norm_cfg: Mapping | None = None,
                 act_cfg: Mapping | None = None, out_dim: int = 8192, dropout_ratio: float = 0.5,
                 init_std: float = 0.005):
        super().__init__()
        _check_pretrained(pretrained, type(self).__name__)
        self.pretrained = pretrained
        self.style = style
        self.conv_cfg = dict(type='Conv3d') if conv_cfg is None else conv_cfg
        self.norm_cfg = norm_cfg
        self.act_cfg = dict(type='ReLU') if act_cfg is None else act_cfg
        self.out_dim = out_dim
        self.dropout_ratio = dropout_ratio
        self.init_std = init_std

        for name, cin, cout in _CONVS:
            self.add_module(name, ConvModule(cin, cout, (3, 3, 3), padding=(1, 1, 1),
                                             conv_cfg=self.conv_cfg, norm_cfg=norm_cfg,
                                             act_cfg=self.act_cfg))
        self.pool1 = nn.MaxPool3d(kernel_size=(1, 2, 2), stride=(1, 2, 2))
        self.pool2 = nn.MaxPool3d(kernel_size=(2, 2, 2), stride=(2, 2, 2))
        self.pool3 = nn.MaxPool3d(kernel_size=(2, 2, 2), stride=(2, 2, 2))
        self.pool4 = nn.MaxPool3d(kernel_size=(2, 2, 2), stride=(2, 2, 2))
        self.pool5 = nn.MaxPool3d(kernel_size=(2, 2, 2), stride=(2, 2, 2), padding=(0, 1, 1))
        self.fc6 = nn.Linear(out_dim, 4096)
        self.fc7 = nn.Linear(4096, 4096)
        self.relu = nn.ReLU()
        self.dropout = nn.Dropout(p=dropout_ratio)

    def init_weights(self) -> None:
        """Load ``pretrained`` (non-strict), or Kaiming convs, normal fcs, unit norms."""
        if self.pretrained is not None:
            load_pretrained_weights(self, self.pretrained)
            return
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                kaiming_init(m)
            elif isinstance(m, nn.Linear):
                normal_init(m, std=self.init_std)
            elif isinstance(m, nn.modules.batchnorm._BatchNorm):
                constant_init(m, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, 16, 112, 112) -> (N, 4096)."""
        x = self.pool1(self.conv1a(x))
        x = self.pool2(self.conv2a(x))
        x = self.pool3(self.conv3b(self.conv3a(x)))
        x = self.pool4(self.conv4b(self.conv4a(x)))
        x = self.pool5(self.conv5b(self.conv5a(x)))
        x = x.flatten(1)
        if x.shape[1] != self.out_dim:
            raise ValueError(f'C3D: pool5 gives {x.shape[1]} features but fc6 takes out_dim={self.out_dim}; '
                             f'set out_dim for this input size (8192 for 16 x 112 x 112 clips)')
        x = self.dropout(self.relu(self.fc6(x)))
        return self.relu(self.fc7(x))
