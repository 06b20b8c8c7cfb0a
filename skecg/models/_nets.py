"""The networks of the seed papers as torch modules.

Every module takes ``n_leads``, ``n_samples`` and ``n_classes`` (which
:class:`skecg.models.ECGClassifier` fills in from the data at fit time unless set)
and returns logits of shape ``(batch, n_classes)``; the sigmoid is applied by the loss
and by ``predict_proba``.
"""

from __future__ import annotations

import math
import weakref

import torch
from torch import nn
from torch.nn import functional as F


def _same_pad(n: int, kernel: int, stride: int) -> tuple[int, int]:
    """Keras 'same' padding: output ceil(n / stride), extra sample on the right."""
    out = -(-n // stride)
    total = max((out - 1) * stride + kernel - n, 0)
    return total // 2, total - total // 2


def _cpu_bf16_conv_in_float32(x: torch.Tensor, c_in: int) -> bool:
    """Whether a convolution of ``x`` with ``c_in`` input channels must run in float32.

    oneDNN's AMX bf16 convolution kernel (``brg_conv_fwd:avx10_1_512_amx``, in the
    oneDNN that torch 2.13 bundles) returns wrong values, off by more than the
    outputs' own size, when the input channels are not a multiple of 16 and the
    kernel is 16 or 32 taps long: exactly the 12- and 8-lead stems of the ResNet-1d
    and SE-ResNet (seen on an Intel CPU with AMX; AVX-512-BF16 without AMX and
    emulated bf16 are correct). On the CPU, under bf16 (autocast or bf16 tensors),
    such convolutions therefore compute in float32: with fewer than 16 input
    channels they are a small share of the network's work.
    ``tests/models/test_data_path.py::test_cpu_bf16_convolutions_match_float32`` holds every
    convolution form to float32 on whatever CPU runs it.
    """
    if x.device.type != "cpu" or c_in % 16 == 0:
        return False
    return x.dtype == torch.bfloat16 or (torch.is_autocast_enabled("cpu")
                                         and torch.get_autocast_dtype("cpu") == torch.bfloat16)


def _conv(fn, x: torch.Tensor, w: torch.Tensor, b, **kw) -> torch.Tensor:
    """``fn(x, w, b, **kw)`` (``F.conv1d``/``F.conv2d``), in float32 where
    :func:`_cpu_bf16_conv_in_float32` says the bf16 kernel cannot be trusted."""
    if _cpu_bf16_conv_in_float32(x, w.shape[1]):
        with torch.autocast("cpu", enabled=False):
            return fn(x.float(), w.float(), None if b is None else b.float(), **kw)
    return fn(x, w, b, **kw)


def keras_init_(module: nn.Module) -> nn.Module:
    """Initialise ``module`` in place as Ribeiro et al.'s Keras model is initialised.

    ``kernel_initializer='he_normal'`` on every convolution and dense kernel (a normal
    of standard deviation sqrt(2 / fan_in) truncated at two deviations, divided by
    0.87962566103423978, the deviation of a unit normal cut at +-2, as Keras does),
    zero biases (Keras' default), and batch norms with Keras' defaults: momentum 0.99
    (torch ``momentum=0.01``) and ``eps=1e-3`` (``model.py`` of
    github.com/antonior92/automatic-ecg-diagnosis).  Draws from torch's global
    generator, so a seeded fit decides the weights.

    Examples
    --------
    >>> net = keras_init_(ResNet1d(12, 256, 6, filters=(8, 8)))
    >>> net.bn1.eps, net.bn1.momentum
    (0.001, 0.01)
    """
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear)):
                w = m.weight
                fan_in = w.shape[1] * (w[0, 0].numel() if w.dim() > 2 else 1)
                std = (2.0 / fan_in) ** 0.5 / 0.87962566103423978
                nn.init.trunc_normal_(w, mean=0.0, std=std, a=-2 * std, b=2 * std)
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.momentum = 0.01  # Keras momentum 0.99 weighs the old running value
                m.eps = 1e-3
    return module


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
            y = _conv(F.conv2d, x.unsqueeze(2).contiguous(memory_format=torch.channels_last), w, self.conv.bias,
                      stride=(1, self.stride))
            return y.squeeze(2)
        return _conv(F.conv1d, x, self.conv.weight, self.conv.bias, stride=self.stride)


_WEIGHT_CACHE: "weakref.WeakKeyDictionary[nn.Conv1d, tuple]" = weakref.WeakKeyDictionary()


def _conv2d_weight(conv: nn.Conv1d) -> torch.Tensor:
    """The (C_out, C_in, 1, k) channels-last form of a Conv1d weight.

    Without autograd (inference) the converted copy is cached on the module until
    the weight changes (its version counter moves on every in-place update), which
    saves a weight copy per layer and call: most of a single record's latency."""
    w = conv.weight
    if torch.is_grad_enabled() and w.requires_grad:
        return w.unsqueeze(2)
    key = (w._version, w.data_ptr(), w.device)
    cache = _WEIGHT_CACHE.get(conv)
    if cache is None or cache[0] != key:
        with torch.no_grad():
            cache = (key, w.unsqueeze(2).contiguous(memory_format=torch.channels_last))
        _WEIGHT_CACHE[conv] = cache
    return cache[1]


def _as_conv2d_input(conv: "SameConv1d | nn.Conv1d", x4: torch.Tensor, prepadded: bool):
    """The plain convolution inside ``conv``, its stride, and ``x4`` with its 'same'
    padding (added here unless ``prepadded``): what :func:`_conv2d` and :func:`_conv_bn` apply."""
    if isinstance(conv, SameConv1d):
        if not prepadded:
            x4 = F.pad(x4, _same_pad(x4.shape[-1], conv.kernel_size, conv.stride))
        return conv.conv, conv.stride, x4
    return conv, 1, x4


def _conv2d(conv: "SameConv1d | nn.Conv1d", x4: torch.Tensor, prepadded: bool = False) -> torch.Tensor:
    """Apply a 1-D convolution's weights to a (B, C, 1, T) tensor as a (1, k) Conv2d.

    ``prepadded=True`` says ``x4`` already carries its 'same' padding (written there
    by :class:`_ReluDropout`, which costs nothing); otherwise it is padded here."""
    c, stride, x4 = _as_conv2d_input(conv, x4, prepadded)
    return _conv(F.conv2d, x4, _conv2d_weight(c), c.bias, stride=(1, stride))


_FOLD_CACHE: "weakref.WeakKeyDictionary[nn.Conv1d, tuple]" = weakref.WeakKeyDictionary()


def _foldable(bn: nn.BatchNorm1d) -> bool:
    """Inference with running statistics and no autograd: the batch norm is an affine map."""
    return (not bn.training and bn.track_running_stats and bn.running_mean is not None
            and not torch.is_grad_enabled())


def _folded_weight(conv: nn.Conv1d, bn: nn.BatchNorm1d):
    """``bn(conv(x))`` as one convolution: the (C_out, C_in, 1, k) channels-last weight
    times ``gamma / sqrt(var + eps)`` and the bias ``beta - mean * gamma / sqrt(var + eps)``.

    Cached on the convolution until any of the tensors involved changes (version
    counters and storage, and the batch norm's count of training batches), like
    :func:`_conv2d_weight`; saves the batch norm's pass over every activation at
    inference."""
    parts = [conv.weight, bn.running_mean, bn.running_var] + [t for t in (conv.bias, bn.weight, bn.bias)
                                                             if t is not None]
    # batch_norm's own update of the running statistics (training mode) does not move
    # their version counters; the count of training batches it also updates does
    key = tuple((t._version, t.data_ptr()) for t in parts) + (conv.weight.device, bn.eps,
                                                              int(bn.num_batches_tracked))
    cache = _FOLD_CACHE.get(conv)
    if cache is None or cache[0] != key:
        with torch.no_grad():
            inv = torch.rsqrt(bn.running_var.double() + bn.eps)
            if bn.weight is not None:
                inv = inv * bn.weight.double()
            b = -bn.running_mean.double() * inv
            if bn.bias is not None:
                b = b + bn.bias.double()
            if conv.bias is not None:
                b = b + conv.bias.double() * inv
            w = (conv.weight.double() * inv[:, None, None]).to(conv.weight.dtype)
            cache = (key, w.unsqueeze(2).contiguous(memory_format=torch.channels_last), b.to(conv.weight.dtype))
        _FOLD_CACHE[conv] = cache
    return cache[1], cache[2]


def _conv_bn(conv: "SameConv1d | nn.Conv1d", bn: nn.BatchNorm1d, x4: torch.Tensor, prepadded: bool = False,
             scale: float = 1.0) -> torch.Tensor:
    """``_bn(bn, _conv2d(conv, x4, prepadded), scale)``, as one folded convolution at inference."""
    if not _foldable(bn):
        return _bn(bn, _conv2d(conv, x4, prepadded), scale)
    c, stride, x4 = _as_conv2d_input(conv, x4, prepadded)
    w4, b = _folded_weight(c, bn)
    return _conv(F.conv2d, x4, w4, b, stride=(1, stride))


class _PolyphaseConv(torch.autograd.Function):
    """A strided (1, k) convolution on a pre-padded channels-last tensor whose weight
    gradient is k / s matrix products instead of oneDNN's backward-weights kernel.

    With stride ``s`` dividing both ``k`` and the padded length, the channels-last
    input viewed as ``(B * T / s, s * C)`` (no copy) holds every polyphase component
    side by side, and tap ``k = s q + r`` of the weight gradient is the product of the
    output gradient with that view shifted by ``q`` rows; ``benchmarks/training.py``
    times it against oneDNN for the Ribeiro units' stride-4 convolutions.  The forward
    pass and the input gradient stay with oneDNN.
    """

    @staticmethod
    def forward(ctx, x, w4, stride):
        # Under autocast the convolution computes in the autocast dtype; the backward
        # pass (which runs outside autocast) must use the same dtype for the input, the
        # weight and the incoming gradient, so the cast copies are what is saved.  The
        # gradients go back in the dtypes the inputs came in.
        ctx.dtypes = (x.dtype, w4.dtype)
        dev = x.device.type
        if _cpu_bf16_conv_in_float32(x, w4.shape[1]):
            x, w4 = x.float(), w4.float()
        elif torch.is_autocast_enabled(dev):
            dt = torch.get_autocast_dtype(dev)
            x, w4 = x.to(dt), w4.to(dt)
        elif w4.dtype != x.dtype:
            w4 = w4.to(x.dtype)
        ctx.save_for_backward(x, w4)
        ctx.stride = stride
        with torch.autocast(dev, enabled=False):
            return F.conv2d(x, w4, stride=(1, stride))

    @staticmethod
    def backward(ctx, grad):
        x, w4 = ctx.saved_tensors
        s = ctx.stride
        grad = grad.to(x.dtype)
        grad_x = grad_w = None
        if ctx.needs_input_grad[0]:
            grad_x = torch.ops.aten.convolution_backward(
                grad, x, w4, None, (1, s), (0, 0), (1, 1), False, (0, 0), 1, [True, False, False])[0]
        if ctx.needs_input_grad[1]:
            b, c, _, t_pad = x.shape
            c_out, k = w4.shape[0], w4.shape[-1]
            rows, taps, t_out = t_pad // s, k // s, grad.shape[-1]
            xs = x.permute(0, 2, 3, 1).reshape(b * rows, s * c)
            g = grad.new_zeros(b, rows, c_out)  # rows past t_out stay zero: they straddle records
            g[:, :t_out] = grad.permute(0, 2, 3, 1).reshape(b, t_out, c_out)
            n = b * rows - taps + 1
            gt = g.view(b * rows, c_out)[:n].t()
            grad_w = torch.stack([gt @ xs[q:q + n] for q in range(taps)], 1)  # (c_out, q, r * c + channel)
            grad_w = grad_w.view(c_out, taps, s, c).permute(0, 3, 1, 2).reshape(c_out, c, 1, k)
        x_dtype, w_dtype = ctx.dtypes
        return (None if grad_x is None else grad_x.to(x_dtype),
                None if grad_w is None else grad_w.to(w_dtype), None)


def _strided_conv2d(conv: "SameConv1d", x4: torch.Tensor) -> torch.Tensor:
    """``_conv2d(conv, x4, prepadded=True)``, through :class:`_PolyphaseConv` when it applies."""
    s, k = conv.stride, conv.kernel_size
    w = conv.conv.weight
    if (s > 1 and k % s == 0 and x4.shape[-1] % s == 0 and conv.conv.bias is None and torch.is_grad_enabled()
            and w.requires_grad and x4.is_contiguous(memory_format=torch.channels_last)):
        return _PolyphaseConv.apply(x4, w.unsqueeze(2), s)
    return _conv2d(conv, x4, prepadded=True)


_INT16_SPAN = 1 << 16


def _drop_threshold(p: float) -> int:
    """Dropout rate as a count of 16-bit integers: a value is dropped when it falls
    among the lowest ``round(p * 65536)`` of the 65,536."""
    return int(round(p * _INT16_SPAN))


def _bn(bn: nn.BatchNorm1d, x: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """BatchNorm1d's parameters and running statistics on a tensor of any rank.

    ``scale`` multiplies the affine weight and bias (not the statistics): a ReLU
    commutes with a positive scale, so the 1 / (1 - p) of inverted dropout is
    applied here for free instead of in a pass of its own.
    """
    if bn.training and bn.track_running_stats:
        bn.num_batches_tracked.add_(1)
    weight, bias = bn.weight, bn.bias
    if scale != 1.0:
        weight, bias = weight * scale, bias * scale
    return F.batch_norm(x, bn.running_mean, bn.running_var, weight, bias,
                        bn.training or not bn.track_running_stats, bn.momentum, bn.eps)


class _ReluDropout(torch.autograd.Function):
    """ReLU, then dropout, written into a zero-padded channels-last buffer.

    One output allocation instead of four (ReLU output, float mask, product,
    padded copy for the next 'same' convolution), a dropout mask drawn as 16-bit
    integers (four per 64-bit draw of torch's generator, so ``torch.manual_seed``
    governs it) instead of one float Bernoulli draw per element, and a backward
    pass that needs only the output: the gradient flows where the output is
    positive. The 1 / (1 - p) rescaling is folded into the preceding batch norm
    (see :func:`_bn`).
    """

    @staticmethod
    def forward(ctx, z, threshold, left, right):
        b, c, h, t = z.shape
        out = torch.empty((b, c, h, t + left + right), dtype=z.dtype, device=z.device,
                          memory_format=torch.channels_last)
        inner = out
        if left or right:
            out[..., :left].zero_()
            out[..., left + t:].zero_()
            inner = out[..., left:left + t]
        torch.clamp_min(z, 0, out=inner)
        if threshold:
            n = z.numel()
            bits = torch.empty((n + 3) // 4, dtype=torch.int64, device=z.device)
            bits = bits.random_(-(1 << 63), None).view(torch.int16)[:n]
            # memory order of a channels-last (b, c, h, t) tensor is (b, h, t, c)
            drop = (bits < threshold - (1 << 15)).view(b, h, t, c).permute(0, 3, 1, 2)
            inner.masked_fill_(drop, 0)
        ctx.save_for_backward(out)
        ctx.bounds = (left, t)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        left, t = ctx.bounds
        if out.shape[-1] != t:
            grad, out = grad[..., left:left + t], out[..., left:left + t]
        return torch.ops.aten.threshold_backward(grad, out, 0), None, None, None


def _relu_dropout(z, p, training, pad=(0, 0)):
    """Fast-path ReLU + dropout (rate ``p`` when training) into a buffer padded by ``pad``."""
    threshold = _drop_threshold(p) if training else 0
    return _ReluDropout.apply(z, threshold, pad[0], pad[1])


def _drop_scale(p, training):
    """The inverted-dropout factor for the rate the fast path actually draws."""
    if not training or p == 0:
        return 1.0
    return _INT16_SPAN / (_INT16_SPAN - _drop_threshold(p))


def _skip_2d(skip: nn.Sequential, y: torch.Tensor) -> torch.Tensor:
    """A residual unit's skip path (ceil-mode max-pool, 1x1 conv, batch norm) on the fast path."""
    layers = list(skip)
    i = 0
    while i < len(layers):
        layer = layers[i]
        nxt = layers[i + 1] if i + 1 < len(layers) else None
        if isinstance(layer, nn.MaxPool1d):
            y = F.max_pool2d(y, (1, layer.kernel_size), (1, layer.stride), ceil_mode=True)
        elif isinstance(layer, nn.BatchNorm1d):
            y = _bn(layer, y)
        elif isinstance(nxt, nn.BatchNorm1d):  # conv then batch norm: one folded conv at inference
            y = _conv_bn(layer, nxt, y)
            i += 1
        else:
            y = _conv2d(layer, y)
        i += 1
    return y


def _check_drop_rate(dropout: float) -> None:
    """The fast path needs a drop rate below 1 (its inverted-dropout factor is 1 / (1 - p))."""
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout is a drop rate in [0, 1), got {dropout!r}")


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

    def forward_2d(self, x, y, pad_next=(0, 0)):
        """The same computation on (B, C, 1, T) channels-last tensors (the CPU fast path).

        ``x`` arrives already padded for ``conv1``; the returned ``x`` is padded by
        ``pad_next`` for the next unit's ``conv1``."""
        y = _skip_2d(self.skip, y)
        training = self.training
        p1, p2 = self.drop1.p, self.drop2.p
        x = _conv_bn(self.conv1, self.bn1, x, prepadded=True, scale=_drop_scale(p1, training))
        x = _relu_dropout(x, p1, training, _same_pad(x.shape[-1], self.conv2.kernel_size, self.conv2.stride))
        x = _strided_conv2d(self.conv2, x)
        x += y  # in place: a convolution does not keep its output for backward
        y = x
        x = _bn(self.bn2, x, _drop_scale(p2, training))
        x = _relu_dropout(x, p2, training, pad_next)
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
        Run the trunk on the CPU fast path: the same weights and computation as
        (1, k) Conv2d on channels-last 4-D tensors (faster with oneDNN), ReLU and
        dropout fused into one pass that also writes the next convolution's 'same'
        padding, the inverted-dropout factor folded into the batch norm's affine
        parameters, strided convolutions' weight gradients as matrix products on a
        polyphase view, and channels-last weights cached for inference.  Its dropout
        masks come from 16-bit integers, so the drop rate is rounded to a multiple
        of 1/65536 (0.2 becomes 0.199997).  ``None``: on CPU tensors only.

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
        _check_drop_rate(dropout)
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
            return self._features_sequence_2d(x)
        x = F.relu(self.bn1(self.conv1(x)))
        y = x
        for blk in self.blocks:
            x, y = blk(x, y)
        return x

    def _features_sequence_2d(self, x):
        blocks = list(self.blocks)

        def pad_for(i, length):  # 'same' padding of unit i's first convolution, written in advance
            return _same_pad(length, blocks[i].conv1.kernel_size, 1) if i < len(blocks) else (0, 0)

        x4 = x.unsqueeze(2).contiguous(memory_format=torch.channels_last)
        x4 = _conv_bn(self.conv1, self.bn1, x4)
        length = x4.shape[-1]
        pad = pad_for(0, length)
        x4 = _relu_dropout(x4, 0.0, False, pad)  # the stem has no dropout
        y4 = x4[..., pad[0]:pad[0] + length]
        for i, blk in enumerate(blocks):
            length = -(-length // blk.conv2.stride)
            x4, y4 = blk.forward_2d(x4, y4, pad_for(i + 1, length))
        return x4.squeeze(2)

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

    def forward_2d(self, x):
        """The same computation on (B, C, 1, T) channels-last tensors (the CPU fast path)."""
        y = _skip_2d(self.skip, x)
        p, training = self.drop.p, self.training
        out = _conv_bn(self.conv1, self.bn1, x, scale=_drop_scale(p, training))
        out = _relu_dropout(out, p, training, _same_pad(out.shape[-1], self.conv2.kernel_size, 1))
        out = _conv_bn(self.conv2, self.bn2, out, prepadded=True)
        scale = self.se(out.mean(dim=(2, 3)))
        return torch.addcmul(y, out, scale[:, :, None, None]).relu_()  # in place: addcmul keeps no output


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
    as_conv2d : bool or None, default=None
        The CPU fast path described in :class:`ResNet1d` (the same weights and
        computation).  ``None``: on CPU tensors only.

    Examples
    --------
    >>> import torch
    >>> SEResNet1d(8, 5000, 24)(torch.zeros(2, 8, 5000)).shape
    torch.Size([2, 24])
    """

    def __init__(self, n_leads=8, n_samples=5000, n_classes=24, filters=(64, 128, 128, 256, 256), kernel_size=15,
                 reduction=16, dropout=0.2, stem_filters=64, as_conv2d=None):
        super().__init__()
        _check_drop_rate(dropout)
        self.n_leads, self.n_samples, self.n_classes = n_leads, n_samples, n_classes
        self.as_conv2d = as_conv2d
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
        """Hidden states of the last residual unit, shape (batch, channels, time)."""
        use_2d = self.as_conv2d if self.as_conv2d is not None else x.device.type == "cpu"
        if not use_2d:
            return self.blocks(self.stem(x))
        conv, bn, _, pool = self.stem
        x4 = x.unsqueeze(2).contiguous(memory_format=torch.channels_last)
        x4 = _conv_bn(conv, bn, x4).relu_()  # in place: batch norm's backward needs its input only
        x4 = F.max_pool2d(x4, (1, pool.kernel_size), (1, pool.stride), padding=(0, pool.padding))
        for blk in self.blocks:
            x4 = blk.forward_2d(x4)
        return x4.squeeze(2)

    def features(self, x):
        return self.features_sequence(x).mean(dim=-1)

    def forward(self, x):
        return self.lin(self.features(x))


MODULES = {
    "resnet1d": ResNet1d,
    "attention_resnet1d": AttentionResNet1d,
    "se_resnet1d": SEResNet1d,
}
