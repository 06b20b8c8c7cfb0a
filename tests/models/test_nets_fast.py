"""The CPU fast path of the networks at inference: batch norms folded into the convolutions.

The textbook Conv1d form (``as_conv2d=False``) is the reference; the fast path must give
its outputs whatever the batch norms hold, and follow every change of the weights,
the affine parameters and the running statistics (the folded weights are cached).
"""

import pytest
import torch

from skecg.models._nets import _FOLD_CACHE, ResNet1d, SEResNet1d


def _randomise_batch_norms(net, gen):
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=gen))
                m.running_var.copy_(torch.rand(m.num_features, generator=gen) * 2 + 0.1)
                m.weight.copy_(torch.randn(m.num_features, generator=gen))
                m.bias.copy_(torch.randn(m.num_features, generator=gen))


NETS = [
    (ResNet1d, dict(n_leads=12, n_samples=999, n_classes=4, filters=(16, 24), kernel_size=16)),
    (SEResNet1d, dict(n_leads=8, n_samples=999, n_classes=4, filters=(16, 24, 24), kernel_size=9)),
]


@pytest.mark.parametrize("cls,kw", NETS, ids=["resnet1d", "se_resnet1d"])
def test_folded_inference_equals_textbook_form(cls, kw):
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    a, b = cls(**kw, dropout=0.0, as_conv2d=False), cls(**kw, dropout=0.0, as_conv2d=True)
    _randomise_batch_norms(a, gen)
    b.load_state_dict(a.state_dict())
    a.eval(), b.eval()
    x = torch.randn(3, kw["n_leads"], kw["n_samples"], generator=gen)
    with torch.inference_mode():
        ref, out = a(x), b(x)
    assert len(_FOLD_CACHE) > 0  # the folded path ran
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4)
    # with autograd on, eval mode keeps the unfolded path and its gradients
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    a(xa).square().sum().backward()
    b(xb).square().sum().backward()
    torch.testing.assert_close(xb.grad, xa.grad, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("cls,kw", NETS, ids=["resnet1d", "se_resnet1d"])
def test_folded_cache_follows_statistics_parameters_and_loads(cls, kw):
    gen = torch.Generator().manual_seed(1)
    torch.manual_seed(1)
    a, b = cls(**kw, dropout=0.0, as_conv2d=False), cls(**kw, dropout=0.0, as_conv2d=True)
    b.load_state_dict(a.state_dict())
    x = torch.randn(4, kw["n_leads"], kw["n_samples"], generator=gen)

    def same():
        a.eval(), b.eval()
        with torch.inference_mode():
            torch.testing.assert_close(b(x), a(x), rtol=1e-4, atol=1e-4)

    same()  # fills the cache
    # a training pass moves the running statistics (in place)
    a.train(), b.train()
    with torch.no_grad():
        a(x * 3 + 1), b(x * 3 + 1)
    same()
    # in-place updates of the affine parameters and the convolution weights
    with torch.no_grad():
        for net in (a, b):
            for name, p in net.named_parameters():
                p.mul_(1.25).add_(0.01)
    same()
    # loading other weights
    _randomise_batch_norms(a, gen)
    b.load_state_dict(a.state_dict())
    same()
