"""A 1D U-Net for sample-wise ECG wave segmentation (P / QRS / T or user classes)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class _DoubleConv(nn.Sequential):
    def __init__(self, n_in: int, n_out: int, kernel_size: int, dropout: float):
        pad = kernel_size // 2
        layers = [
            nn.Conv1d(n_in, n_out, kernel_size, padding=pad, bias=False),
            nn.BatchNorm1d(n_out),
            nn.ReLU(inplace=True),
            nn.Conv1d(n_out, n_out, kernel_size, padding=pad, bias=False),
            nn.BatchNorm1d(n_out),
            nn.ReLU(inplace=True),
        ]
        if dropout:
            layers.append(nn.Dropout(dropout))
        super().__init__(*layers)


class UNet1d(nn.Module):
    """1D U-Net (Ronneberger et al. 2015, in 1D as Moskalenko et al. 2020 for LUDB).

    Each encoder level applies two ``Conv1d-BatchNorm-ReLU`` blocks and halves
    the length by max pooling (``pool`` times); the decoder upsamples
    (transposed convolution), concatenates the skip connection and applies two
    blocks again.  The head gives per-sample class logits.  Inputs of any length
    work: the signal is padded to a multiple of ``pool ** (len(filters) - 1)``
    and the output cropped back.

    Parameters
    ----------
    n_leads : int, default=1
        Input channels.
    n_classes : int, default=4
        Output classes per sample (LUDB: none, P, QRS, T).
    filters : sequence of int, default=(16, 32, 64, 128)
        Channels of each level, from full resolution to the bottleneck.
    kernel_size : int, default=9
        Convolution kernel (odd).
    pool : int, default=4
        Down/upsampling factor between levels (4 levels of 4: a receptive field of
        about two seconds at 500 Hz, which tells P from T waves better than 2).
    dropout : float, default=0.0
        Dropout after the bottleneck block.
    normalize : bool, default=True
        Standardise each input channel per record (median removed, divided by its
        standard deviation) inside the network, so mV, raw ADC units and scaled
        signals all work.

    Examples
    --------
    >>> import torch
    >>> net = UNet1d(n_leads=1, n_classes=4, filters=(4, 8))
    >>> net(torch.randn(2, 1, 1000)).shape
    torch.Size([2, 4, 1000])
    """

    def __init__(self, n_leads: int = 1, n_classes: int = 4, filters=(16, 32, 64, 128), kernel_size: int = 9,
                 pool: int = 4, dropout: float = 0.0, normalize: bool = True):
        super().__init__()
        filters = tuple(int(f) for f in filters)
        if not filters or min(filters) < 1:
            raise ValueError(f"filters must be a non-empty sequence of positive ints, got {filters}")
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        if pool < 2:
            raise ValueError(f"pool must be at least 2, got {pool}")
        self.n_leads, self.n_classes, self.pool, self.normalize = int(n_leads), int(n_classes), int(pool), normalize
        self.down = nn.ModuleList()
        n_in = self.n_leads
        for j, f in enumerate(filters):
            last = j == len(filters) - 1
            self.down.append(_DoubleConv(n_in, f, kernel_size, dropout if last else 0.0))
            n_in = f
        self.up = nn.ModuleList()
        self.up_conv = nn.ModuleList()
        for f_skip in reversed(filters[:-1]):
            self.up.append(nn.ConvTranspose1d(n_in, f_skip, kernel_size=pool, stride=pool))
            self.up_conv.append(_DoubleConv(2 * f_skip, f_skip, kernel_size, 0.0))
            n_in = f_skip
        self.head = nn.Conv1d(n_in, self.n_classes, 1)
        self.min_samples = 1

    def forward(self, x):
        if self.normalize:
            x = x - x.median(dim=-1, keepdim=True).values
            x = x / (x.std(dim=-1, keepdim=True) + 1e-6)
        n = x.shape[-1]
        m = self.pool ** (len(self.down) - 1)
        pad = (-n) % m
        if pad:
            x = F.pad(x, (0, pad))
        skips = []
        for j, block in enumerate(self.down):
            if j:
                x = F.max_pool1d(x, self.pool)
            x = block(x)
            skips.append(x)
        for up, conv, skip in zip(self.up, self.up_conv, reversed(skips[:-1])):
            x = conv(torch.cat([up(x), skip], dim=1))
        return self.head(x)[..., :n]
