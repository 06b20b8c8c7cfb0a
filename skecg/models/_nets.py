"""The networks of the seed papers as torch modules.

Every module takes ``n_leads``, ``n_samples`` and ``n_classes`` (which
:class:`skecg.models.ECGClassifier` fills in from the data at fit time unless set)
and returns logits of shape ``(batch, n_classes)``; the sigmoid is applied by the loss
and by ``predict_proba``.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


def _same_pad(n: int, kernel: int, stride: int) -> tuple[int, int]:
    """Keras 'same' padding: output ceil(n / stride), extra sample on the right."""
    out = -(-n // stride)
    total = max((out - 1) * stride + kernel - n, 0)
    return total // 2, total - total // 2


class SameConv1d(nn.Module):
    """Conv1d with Keras-style 'same' padding (works for even kernels and strides).

    ``as_conv2d=True`` runs the same weights as a (1, k) Conv2d on a channels-last
    4-D tensor, which oneDNN executes faster on CPUs; results are equal up to float
    rounding.
    """

    def __init__(self, c_in, c_out, kernel_size, stride=1, bias=False, as_conv2d=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride
        self.as_conv2d = as_conv2d
        self.conv = nn.Conv1d(c_in, c_out, kernel_size, stride=stride, bias=bias)

    def forward(self, x):
        left, right = _same_pad(x.shape[-1], self.kernel_size, self.stride)
        x = F.pad(x, (left, right))
        if self.as_conv2d:
            w = self.conv.weight.unsqueeze(2)
            y = F.conv2d(x.unsqueeze(2).contiguous(memory_format=torch.channels_last), w, self.conv.bias,
                         stride=(1, self.stride))
            return y.squeeze(2)
        return self.conv(x)


def _conv2d(conv: "SameConv1d | nn.Conv1d", x4: torch.Tensor) -> torch.Tensor:
    """Apply a 1-D convolution's weights to a (B, C, 1, T) tensor as a (1, k) Conv2d."""
    if isinstance(conv, SameConv1d):
        left, right = _same_pad(x4.shape[-1], conv.kernel_size, conv.stride)
        x4 = F.pad(x4, (left, right))
        c, stride = conv.conv, conv.stride
    else:
        c, stride = conv, 1
    return F.conv2d(x4, c.weight.unsqueeze(2), c.bias, stride=(1, stride))


def _bn(bn: nn.BatchNorm1d, x: torch.Tensor) -> torch.Tensor:
    """BatchNorm1d's parameters and running statistics on a tensor of any rank."""
    if bn.training and bn.track_running_stats:
        bn.num_batches_tracked.add_(1)
    return F.batch_norm(x, bn.running_mean, bn.running_var, bn.weight, bn.bias,
                        bn.training or not bn.track_running_stats, bn.momentum, bn.eps)


class _ResBlock(nn.Module):
    """Residual unit of Ribeiro et al.: conv-BN-ReLU-dropout-conv(stride), skip by
    max-pool + 1x1 conv, pre-activation style (BN-ReLU-dropout after the sum)."""

    def __init__(self, c_in, c_out, downsample, kernel_size, dropout, as_conv2d):
        super().__init__()
        self.conv1 = SameConv1d(c_in, c_out, kernel_size, as_conv2d=as_conv2d)
        self.bn1 = nn.BatchNorm1d(c_out)
        self.drop1 = nn.Dropout(dropout)
        self.conv2 = SameConv1d(c_out, c_out, kernel_size, stride=downsample, as_conv2d=as_conv2d)
        self.bn2 = nn.BatchNorm1d(c_out)
        self.drop2 = nn.Dropout(dropout)
        skip = []
        if downsample > 1:
            skip.append(nn.MaxPool1d(downsample, stride=downsample, ceil_mode=True))
        if c_in != c_out:
            skip.append(nn.Conv1d(c_in, c_out, 1, bias=False))
        self.skip = nn.Sequential(*skip)

    def forward_2d(self, x, y):
        """The same computation on (B, C, 1, T) channels-last tensors."""
        for layer in self.skip:
            if isinstance(layer, nn.MaxPool1d):
                y = F.max_pool2d(y, (1, layer.kernel_size), (1, layer.stride), ceil_mode=True)
            else:
                y = _conv2d(layer, y)
        x = self.drop1(F.relu(_bn(self.bn1, _conv2d(self.conv1, x))))
        x = _conv2d(self.conv2, x)
        x = x + y
        y = x
        x = self.drop2(F.relu(_bn(self.bn2, x)))
        return x, y

    def forward(self, x, y):
        y = self.skip(y)
        x = self.drop1(F.relu(self.bn1(self.conv1(x))))
        x = self.conv2(x)
        x = x + y
        y = x
        x = self.drop2(F.relu(self.bn2(x)))
        return x, y


class ResNet1d(nn.Module):
    """The ResNet-1d of Ribeiro et al. (Nature Communications 2020).

    A convolution (kernel 16, 64 filters) with batch normalisation and ReLU, four
    residual units (128, 196, 256, 320 filters) each downsampling by 4 (4096 -> 16
    samples) with max-pool + 1x1-convolution skips, and a dense layer on the
    flattened output.

    The paper's "dropout 0.8" is the Keras *keep* probability of its code, i.e. a
    drop rate of 0.2, which is the default here.

    Parameters
    ----------
    n_leads, n_samples, n_classes : int
    filters : sequence of int, default=(128, 196, 256, 320)
    kernel_size : int, default=16
    downsample : int, default=4
    dropout : float, default=0.2
        Drop rate (not keep probability).
    as_conv2d : bool or None, default=None
        Run the trunk as (1, k) Conv2d on channels-last 4-D tensors (the same weights
        and computation, faster with oneDNN on CPUs).  ``None``: on CPU tensors only.

    Examples
    --------
    >>> import torch
    >>> net = ResNet1d(12, 4096, 6)
    >>> net(torch.zeros(2, 12, 4096)).shape
    torch.Size([2, 6])
    """

    def __init__(self, n_leads=12, n_samples=4096, n_classes=6, filters=(128, 196, 256, 320),
                 kernel_size=16, downsample=4, dropout=0.2, stem_filters=64, as_conv2d=None):
        super().__init__()
        self.n_leads, self.n_samples, self.n_classes = n_leads, n_samples, n_classes
        self.as_conv2d = as_conv2d
        self.conv1 = SameConv1d(n_leads, stem_filters, kernel_size)
        self.bn1 = nn.BatchNorm1d(stem_filters)
        blocks = []
        c_in = stem_filters
        length = n_samples
        for c_out in filters:
            blocks.append(_ResBlock(c_in, c_out, downsample, kernel_size, dropout, False))
            c_in = c_out
            length = -(-length // downsample)
        self.blocks = nn.ModuleList(blocks)
        self.out_channels = c_in
        self.out_length = length
        self.min_samples = downsample ** len(filters)
        self.lin = self._head(c_in, length, n_classes)

    def _head(self, channels, length, n_classes):
        return nn.Linear(channels * length, n_classes)

    def features_sequence(self, x):
        """Hidden states of the last residual unit, shape (batch, channels, time)."""
        use_2d = self.as_conv2d if self.as_conv2d is not None else x.device.type == "cpu"
        if use_2d:
            x4 = x.unsqueeze(2).contiguous(memory_format=torch.channels_last)
            x4 = F.relu(_bn(self.bn1, _conv2d(self.conv1, x4)))
            y4 = x4
            for blk in self.blocks:
                x4, y4 = blk.forward_2d(x4, y4)
            return x4.squeeze(2)
        x = F.relu(self.bn1(self.conv1(x)))
        y = x
        for blk in self.blocks:
            x, y = blk(x, y)
        return x

    def features(self, x):
        """The penultimate representation (flattened), for stacking."""
        return self.features_sequence(x).flatten(1)

    def forward(self, x):
        return self.lin(self.features(x))


class AttentionResNet1d(ResNet1d):
    """ResNet-1d with a Bahdanau-style attention layer at the rear (Huang et al., Fig. 1b).

    Alignment scores are dot products between a learned query and each time step's
    hidden state, passed through ReLU and a softmax over time; the context vector is
    the attention-weighted sum of the hidden states and feeds the dense output layer.
    ``forward(x, return_attention=True)`` also returns the weights, shape
    (batch, time), one per downsampled time step.

    Examples
    --------
    >>> import torch
    >>> net = AttentionResNet1d(12, 4096, 6)
    >>> logits, w = net(torch.zeros(2, 12, 4096), return_attention=True)
    >>> logits.shape, w.shape
    (torch.Size([2, 6]), torch.Size([2, 16]))
    """

    def _head(self, channels, length, n_classes):
        self.query = nn.Parameter(torch.randn(channels) / math.sqrt(channels))
        return nn.Linear(channels, n_classes)

    def attend(self, h):
        scores = F.relu(torch.einsum("bct,c->bt", h, self.query))
        weights = torch.softmax(scores, dim=-1)
        context = torch.einsum("bct,bt->bc", h, weights)
        return context, weights

    def features(self, x):
        return self.attend(self.features_sequence(x))[0]

    def forward(self, x, return_attention=False):
        context, weights = self.attend(self.features_sequence(x))
        logits = self.lin(context)
        return (logits, weights) if return_attention else logits


class _SEBlock(nn.Module):
    """Residual unit with squeeze-and-excitation (Hu et al.) on the residual branch."""

    def __init__(self, c_in, c_out, stride, kernel_size, reduction, dropout):
        super().__init__()
        self.conv1 = SameConv1d(c_in, c_out, kernel_size, stride=stride)
        self.bn1 = nn.BatchNorm1d(c_out)
        self.conv2 = SameConv1d(c_out, c_out, kernel_size)
        self.bn2 = nn.BatchNorm1d(c_out)
        self.drop = nn.Dropout(dropout)
        hidden = max(c_out // reduction, 4)
        self.se = nn.Sequential(nn.Linear(c_out, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, c_out),
                                nn.Sigmoid())
        skip = []
        if stride > 1:
            skip.append(nn.MaxPool1d(stride, stride=stride, ceil_mode=True))
        if c_in != c_out:
            skip += [nn.Conv1d(c_in, c_out, 1, bias=False), nn.BatchNorm1d(c_out)]
        self.skip = nn.Sequential(*skip)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.drop(out)
        out = self.bn2(self.conv2(out))
        scale = self.se(out.mean(dim=-1))
        out = out * scale.unsqueeze(-1)
        return F.relu(out + self.skip(x))


class SEResNet1d(nn.Module):
    """SE-ResNet of Zhu et al. (Fig. 2), for 8 or 12 leads and 5,000 or 15,000 samples.

    A stem convolution (kernel 15, stride 2) with BN, ReLU and max-pool, then
    residual units with squeeze-and-excitation (channel reweighting by a two-layer
    bottleneck on the time-averaged features), each stage halving the length, global
    average pooling over time (any input length), and a dense output layer.

    Parameters
    ----------
    n_leads, n_samples, n_classes : int
    filters : sequence of int, default=(64, 128, 128, 256, 256)
        One residual unit per entry; each after the first downsamples by 2.
    kernel_size : int, default=15
    reduction : int, default=16
        SE bottleneck ratio.
    dropout : float, default=0.2

    Examples
    --------
    >>> import torch
    >>> SEResNet1d(8, 5000, 24)(torch.zeros(2, 8, 5000)).shape
    torch.Size([2, 24])
    """

    def __init__(self, n_leads=8, n_samples=5000, n_classes=24, filters=(64, 128, 128, 256, 256), kernel_size=15,
                 reduction=16, dropout=0.2, stem_filters=64):
        super().__init__()
        self.n_leads, self.n_samples, self.n_classes = n_leads, n_samples, n_classes
        self.stem = nn.Sequential(SameConv1d(n_leads, stem_filters, kernel_size, stride=2),
                                  nn.BatchNorm1d(stem_filters), nn.ReLU(inplace=True),
                                  nn.MaxPool1d(3, stride=2, padding=1))
        blocks = []
        c_in = stem_filters
        for i, c_out in enumerate(filters):
            blocks.append(_SEBlock(c_in, c_out, 1 if i == 0 else 2, kernel_size, reduction, dropout))
            c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.out_channels = c_in
        self.min_samples = 4 * 2 ** (len(filters) - 1)
        self.lin = nn.Linear(c_in, n_classes)

    def features_sequence(self, x):
        return self.blocks(self.stem(x))

    def features(self, x):
        return self.features_sequence(x).mean(dim=-1)

    def forward(self, x):
        return self.lin(self.features(x))


MODULES = {
    "resnet1d": ResNet1d,
    "attention_resnet1d": AttentionResNet1d,
    "se_resnet1d": SEResNet1d,
}
