"""ECGClassifier on skorch's data path: whole-batch reads, the sampler, the split as a
skorch train_split, iterator settings, workers, lead names, ragged input, precision."""

import warnings

import numpy as np
import pytest
import torch

from conftest import TINY
from skecg import ECGRecords
from skecg.models import (
    BatchSampler,
    DevicePrefetcher,
    ECGClassifier,
    ECGDataset,
    PatientSplit,
    amp_dtype,
    cpu_has_native_bf16,
)
from skecg.sources import ArraySource


def lazy(Z, dtype=np.float32, monkeypatch=None):
    """A lazy container over Z's records whose batch reads are counted (``X.reads``);
    with ``monkeypatch``, reading every record at once (``X.signals``, ``np.asarray``)
    fails."""
    X = ECGRecords.from_source(ArraySource(np.asarray(Z).astype(dtype), Z.meta))
    X.reads = []
    read = X.read_signals

    def counting(indices):
        X.reads.append(np.asarray(indices).copy())
        return read(indices)

    X.read_signals = counting
    if monkeypatch is not None:
        def boom(*args, **kwargs):
            raise AssertionError("the data path read every record at once")

        monkeypatch.setattr(X, "load", boom)
    return X


def weights(net):
    return {k: v.detach().clone() for k, v in net.module_.state_dict().items()}


def test_dataset_reads_whole_batches_in_order_with_repeats(small):
    Z, y = small
    X = lazy(Z)
    ds = ECGDataset(X, y)
    xb, yb = ds.__getitems__([5, 2, 5])
    np.testing.assert_array_equal(xb.numpy(), np.asarray(Z)[[5, 2, 5]])
    np.testing.assert_array_equal(yb.numpy(), y[[5, 2, 5]])
    assert len(X.reads) == 1
    sub = ds.subset([3, 4, 7])
    xb, yb = sub.__getitems__([2, 0])
    np.testing.assert_array_equal(xb.numpy(), np.asarray(Z)[[7, 3]])
    np.testing.assert_array_equal(yb.numpy(), y[[7, 3]])
    np.testing.assert_array_equal(sub.groups, Z.meta.patient_id.astype(str).to_numpy()[[3, 4, 7]])


def test_batch_sampler_permutes_every_epoch_sorts_within_batches_and_repeats_with_a_seed():
    s = BatchSampler(50, 16, shuffle=True, random_state=3)
    e1, e2 = [b.tolist() for b in s], [b.tolist() for b in s]
    assert [len(b) for b in e1] == [16, 16, 16, 2]
    assert sorted(sum(e1, [])) == list(range(50)) and all(b == sorted(b) for b in e1)
    assert e1 != e2
    again = BatchSampler(50, 16, shuffle=True, random_state=3)
    assert [b.tolist() for b in again] == e1
    assert len(BatchSampler(50, 16, drop_last=True)) == 3


def test_fit_and_predict_read_only_batches_and_match_in_memory_records(small, monkeypatch):
    Z, y = small
    X = lazy(Z, monkeypatch=monkeypatch)
    net = ECGClassifier(**TINY, tune_thresholds=True).fit(X, y)
    n_fit_reads = len(X.reads)
    assert max(len(r) for r in X.reads) <= 16  # batches, training and validation
    p_lazy = net.predict_proba(X)
    assert max(len(r) for r in X.reads[n_fit_reads:]) <= 16  # inference batches (16 on CPU)
    mem = ECGClassifier(**TINY, tune_thresholds=True).fit(Z, y)
    for k, v in weights(mem).items():
        torch.testing.assert_close(weights(net)[k], v, rtol=0, atol=0, msg=k)
    np.testing.assert_array_equal(p_lazy, mem.predict_proba(Z))
    np.testing.assert_array_equal(net.thresholds_, mem.thresholds_)
    np.testing.assert_array_equal(net.embed(X), mem.embed(Z))


def test_float16_batches_are_cast_after_the_copy_and_train(small):
    Z, y = small
    X16 = lazy(Z, np.float16)
    xb, _ = ECGDataset(X16).__getitems__([0, 1])
    assert xb.dtype == torch.float16  # the host keeps the stored dtype
    net = ECGClassifier(**TINY).fit(X16, y)
    assert all(p.dtype == torch.float32 for p in net.module_.parameters())
    ref = ECGClassifier(**TINY).fit(Z, y)
    np.testing.assert_allclose(net.predict_proba(X16), ref.predict_proba(Z), atol=0.02)


def test_nan_in_a_lazy_batch_names_the_record(small):
    Z, y = small
    bad = np.asarray(Z).copy()
    bad[7, 3, 10] = np.inf
    with pytest.raises(ValueError, match=str(Z.meta.record_id[7]) + ".*NaN or inf"):
        ECGClassifier(**TINY).fit(lazy(Z.with_signals(bad)), y)
    with pytest.raises(ValueError, match="NaN or inf values: " + str(Z.meta.record_id[7])):
        ECGDataset(Z.with_signals(bad), check_finite=True).__getitems__([3, 7])


def test_iterator_settings_are_honoured(small):
    Z, y = small
    net = ECGClassifier(**TINY, iterator_train__num_workers=2, iterator_train__persistent_workers=True,
                        iterator_train__prefetch_factor=3, iterator_train__multiprocessing_context="spawn",
                        iterator_train__pin_memory=True, iterator_train__batch_size=8,
                        iterator_valid__batch_size=5)
    ds = ECGDataset(np.asarray(Z), y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pin_memory without an accelerator
        loader = net.get_iterator(ds, training=True)
    assert (loader.num_workers, loader.persistent_workers, loader.prefetch_factor) == (2, True, 3)
    assert loader.multiprocessing_context.get_start_method() == "spawn" and loader.pin_memory
    assert len(loader) == -(-len(Z) // 8)
    valid = net.get_iterator(ds, training=False)
    assert valid.num_workers == 0 and not valid.pin_memory and len(valid) == -(-len(Z) // 5)
    with pytest.warns(UserWarning, match="persistent_workers=True has no effect with num_workers=0"):
        ECGClassifier(**TINY, iterator_train__persistent_workers=True).get_iterator(ds, training=True)


def test_same_random_state_same_weights_with_0_and_2_workers(small):
    Z, y = small
    kw = {**TINY, "max_epochs": 1}
    a = ECGClassifier(**kw).fit(Z, y)
    b = ECGClassifier(**kw, iterator_train__num_workers=2, iterator_valid__num_workers=2).fit(Z, y)
    for k, v in weights(a).items():
        torch.testing.assert_close(weights(b)[k], v, rtol=0, atol=0, msg=k)
    np.testing.assert_array_equal(a.predict_proba(Z), b.predict_proba(Z))


def test_patient_split_is_a_skorch_train_split_grouped_by_patient(small):
    Z, y = small
    ds = ECGDataset(Z, y)
    train, valid = PatientSplit(0.3, random_state=0)(ds, y)
    pid = Z.meta.patient_id.to_numpy()
    assert not set(pid[train.indices]) & set(pid[valid.indices])
    assert len(train) + len(valid) == len(Z) and 0.15 < len(valid) / len(Z) < 0.45
    np.testing.assert_array_equal(valid.y, y[valid.indices])
    # records of unknown patient are each a patient of their own, not one big group
    meta = Z.meta.copy()
    meta["patient_id"] = None
    tr2, va2 = PatientSplit(0.3, random_state=0)(ECGDataset(ECGRecords(np.asarray(Z), meta), y))
    assert 0.15 < len(va2) / len(Z) < 0.45
    # an ECGClassifier takes it (or any skorch train_split) as train_split
    net = ECGClassifier(**TINY, train_split=PatientSplit(0.3, random_state=0)).fit(Z, y)
    assert np.isfinite(net.history[-1, "valid_loss"])
    assert not hasattr(net, "_valid_dataset_")  # the fitted model keeps no reference to the data


def test_empty_validation_fold_raises_or_warns_and_trains_without(small):
    Z, y = small
    Z4, y4 = Z[:4], y[:4]
    with pytest.raises(ValueError, match=r"validation split \(valid_size=0.1\) of 4 records from \d patients "
                                         r"left the validation part empty; .* valid_size=0"):
        PatientSplit(0.1)(ECGDataset(Z4, y4))
    with pytest.raises(ValueError, match="left the validation part empty"):
        ECGClassifier(**TINY, train_split=PatientSplit(0.1)).fit(Z4, y4)
    with pytest.warns(UserWarning, match="left the validation part empty.*training without validation"):
        net = ECGClassifier(**TINY).fit(Z4, y4)  # the default split: documented fallback
    assert "valid_loss" not in net.history[-1] and len(net.history) == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ECGClassifier(**TINY, valid_size=0).fit(Z4, y4)  # no validation asked: no warning


def test_ragged_input_gives_a_clear_error(small):
    Z, y = small
    ragged = [np.zeros((12, 256), np.float32), np.zeros((12, 300), np.float32)]
    with pytest.raises(ValueError, match="list of 2 records of different shapes.*Resampler, PadTruncate"):
        ECGClassifier(**TINY).fit(ragged, y[:2])
    net = ECGClassifier(**TINY, valid_size=0).fit(list(np.asarray(Z)[:20]), y[:20])  # equal shapes: fine
    with pytest.raises(ValueError, match="different shapes.*PadTruncate"):
        net.predict(ragged)
    with pytest.raises(ValueError, match="each record must be 2-D"):
        net.predict([np.zeros(256)])


def test_leads_are_matched_by_name_at_predict_time(small):
    Z, y = small
    net = ECGClassifier(**TINY).fit(Z, y)
    assert net.leads_ == ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
    perm = np.random.default_rng(0).permutation(12)
    shuffled = ECGRecords(np.asarray(Z)[:, perm], Z.meta.drop(columns="leads"), leads=[net.leads_[i] for i in perm])
    p = net.predict_proba(Z)
    np.testing.assert_array_equal(net.predict_proba(shuffled), p)
    assert not np.array_equal(net.predict_proba(np.asarray(shuffled)), p)  # without names nothing can be done
    # records with different orders in one batch, and a superset of the leads
    mixed = ECGRecords([np.asarray(Z)[0], np.asarray(shuffled)[1]], Z.meta.iloc[:2].drop(columns="leads"))
    mixed.meta["leads"] = [Z.meta.leads[0], shuffled.meta.leads[1]]
    np.testing.assert_array_equal(net.predict_proba(mixed), p[:2])
    extra = ECGRecords(np.concatenate([np.asarray(Z), np.ones((len(Z), 1, 256), np.float32)], 1),
                       Z.meta.drop(columns="leads"), leads=list(net.leads_) + ["X"])
    np.testing.assert_array_equal(net.predict_proba(extra), p)
    missing = ECGRecords(np.asarray(Z)[:, 1:], Z.meta.drop(columns="leads"), leads=net.leads_[1:])
    with pytest.raises(ValueError, match=r"record A\w+ lacks lead\(s\) \['I'\] that the model was fitted on"):
        net.predict(missing)
    # leads_ survives save_weights / load_weights
    assert ECGClassifier(**TINY).fit(np.asarray(Z), y).leads_ is None


def test_leads_survive_save_and_load(small, tmp_path):
    Z, y = small
    net = ECGClassifier(**TINY).fit(Z, y)
    net.save_weights(tmp_path / "w.pt")
    new = ECGClassifier(**{k: v for k, v in TINY.items() if k.startswith("module__")}).load_weights(tmp_path / "w.pt")
    assert new.leads_ == net.leads_


def test_precision_choice_by_device_and_capability():
    assert amp_dtype("cpu") is None and amp_dtype("cpu", "fp32") is None
    assert amp_dtype("cuda", capability=(9, 0)) == torch.bfloat16  # H100
    assert amp_dtype("cuda", capability=(8, 0)) == torch.bfloat16  # A100
    assert amp_dtype("cuda", capability=(7, 5)) == torch.float16  # T4: fp16 with a gradient scaler
    assert amp_dtype("cuda", "fp16", capability=(9, 0)) == torch.float16
    assert amp_dtype("cuda:1", "fp32", capability=(9, 0)) is None
    with pytest.raises(ValueError, match="no native bf16; use precision='fp16'"):
        amp_dtype("cuda", "bf16", capability=(7, 0))
    with pytest.raises(ValueError, match="precision='fp16' does not apply here: fp16 autocast is for CUDA devices"):
        amp_dtype("cpu", "fp16")
    with pytest.raises(ValueError, match="precision must be one of"):
        amp_dtype("cpu", "half")


@pytest.mark.parametrize("native", [True, False])
def test_cpu_bf16_is_opt_in_and_only_where_native(native, monkeypatch):
    import skecg.models._device as C

    monkeypatch.setattr(C, "cpu_has_native_bf16", lambda: native)
    assert amp_dtype("cpu") is None  # 'auto' stays float32 on every CPU
    if native:
        assert amp_dtype("cpu", "bf16") == torch.bfloat16
    else:
        with pytest.raises(ValueError, match="precision='bf16' does not apply here: this CPU has no native bf16"):
            amp_dtype("cpu", "bf16")


@pytest.mark.skipif(not cpu_has_native_bf16(), reason="this CPU has no native bf16 (AVX512-BF16 or AMX)")
def test_cpu_bf16_trains_and_predicts_under_autocast(small):
    Z, y = small
    net = ECGClassifier(**{**TINY, "max_epochs": 2}, precision="bf16", valid_size=0).fit(Z, y)
    assert net.amp_dtype_ == torch.bfloat16 and net.grad_scaler_ is None
    ref = ECGClassifier(**{**TINY, "max_epochs": 2}, valid_size=0).fit(Z, y)
    assert np.isfinite(net.history[-1, "train_loss"])
    p, q = net.predict_proba(Z), ref.predict_proba(Z)
    assert p.dtype == np.float32 and p.shape == q.shape
    assert not np.array_equal(p, q)  # autocast was on
    assert np.abs(p - q).max() < 0.2  # two epochs apart from float32, not another network


def test_bf16_weights_load_in_float32_where_bf16_is_not_native(small, tmp_path, monkeypatch):
    import skecg.models._device as C

    Z, y = small
    monkeypatch.setattr(C, "cpu_has_native_bf16", lambda: True)
    net = ECGClassifier(**{**TINY, "max_epochs": 1}, precision="bf16", valid_size=0).fit(Z[:16], y[:16])
    net.save_weights(tmp_path / "w.pt")
    monkeypatch.setattr(C, "cpu_has_native_bf16", lambda: False)
    new = ECGClassifier(**{k: v for k, v in TINY.items() if k.startswith("module__")}, precision="bf16")
    with pytest.warns(UserWarning, match="this CPU has no native bf16.*predicting in float32"):
        new.load_weights(tmp_path / "w.pt")
    assert new.amp_dtype_ is None and new.predict_proba(Z[:4]).shape == (4, y.shape[1])


def test_cpu_refuses_autocast_and_compile_clearly(small, monkeypatch):
    import skecg.models._device as C

    Z, y = small
    monkeypatch.setattr(C, "cpu_has_native_bf16", lambda: False)
    with pytest.raises(ValueError, match="this CPU has no native bf16"):
        ECGClassifier(**TINY, precision="bf16").fit(Z, y)
    with pytest.raises(ValueError, match="compile=True is supported on CUDA devices only"):
        ECGClassifier(**TINY, compile=True).fit(Z, y)
    net = ECGClassifier(**{**TINY, "max_epochs": 1}, valid_size=0).fit(Z[:16], y[:16])
    assert net.amp_dtype_ is None and net.grad_scaler_ is None


def test_device_prefetcher_keeps_order_and_casts_on_the_device():
    batches = [(torch.full((2, 3), float(i), dtype=torch.float16), torch.tensor([i])) for i in range(4)]
    pf = DevicePrefetcher(batches, "cpu")
    out = list(pf)
    assert len(pf) == 4 and [int(y) for _, y in out] == [0, 1, 2, 3]
    assert all(x.dtype == torch.float32 and x[0, 0] == i for i, (x, _) in enumerate(out))
    assert list(pf)[0][0].dtype == torch.float32  # re-iterable, for every epoch


@pytest.mark.parametrize("module,leads", [("resnet1d", 12), ("se_resnet1d", 8)])
def test_channels_last_form_trains_under_autocast(module, leads):
    """The (1, k) Conv2d form that module__as_conv2d=True runs on a GPU works under
    autocast (CPU autocast here) and stays close to float32."""
    from skecg.models import MODULES

    torch.manual_seed(0)
    net = MODULES[module](leads, 256, 3, filters=(8, 8), as_conv2d=True)
    x = torch.randn(4, leads, 256)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = net(x)
    assert out.dtype == torch.bfloat16
    out.float().square().sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters() if p.requires_grad)
    net.eval()
    with torch.inference_mode():
        ref = torch.sigmoid(net(x))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = torch.sigmoid(net(x).float())
    torch.testing.assert_close(low, ref, atol=0.03, rtol=0)


@pytest.mark.parametrize("c_in", [1, 8, 12, 64])
@pytest.mark.parametrize("kernel,stride", [(16, 1), (16, 4), (32, 1), (9, 1)])
def test_cpu_bf16_convolutions_match_float32(c_in, kernel, stride):
    """Every convolution form of the networks under CPU bf16 autocast (native where the
    CPU has it, emulated elsewhere) stays within bf16 rounding of float32, forward and
    weight gradient.  oneDNN's AMX kernel gets the 8- and 12-lead stems with 16 or 32
    taps wrong by more than the outputs' size; skecg computes those in float32
    (``_cpu_bf16_conv_in_float32``), and this test fails on an AMX CPU without that."""
    from skecg.models._nets import SameConv1d, _conv2d, _conv_bn, _same_pad, _strided_conv2d

    torch.manual_seed(0)
    conv = SameConv1d(c_in, 32, kernel, stride=stride)
    x = torch.randn(3, c_in, 256)

    def rel(a, b):
        return ((a.float() - b.float()).abs().max() / b.float().abs().max()).item()

    for as_conv2d in (False, True):
        conv.as_conv2d = as_conv2d
        ref = conv(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = conv(x)
        assert rel(low, ref) < 0.02, (as_conv2d, rel(low, ref))
    x4 = x.unsqueeze(2).contiguous(memory_format=torch.channels_last)
    bn = torch.nn.BatchNorm1d(32).eval()
    bn.running_var.uniform_(0.5, 2)
    with torch.inference_mode():
        ref = _conv_bn(conv, bn, x4)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            assert rel(_conv_bn(conv, bn, x4), ref) < 0.02
            assert rel(_conv2d(conv, x4), _conv2d(conv, x4).float()) < 0.02
    # the training path of strided convolutions (skecg's own backward) and its gradients
    xp = torch.nn.functional.pad(x4, _same_pad(256, kernel, stride)).contiguous(memory_format=torch.channels_last)
    grads = []
    for amp in (False, True):
        conv.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            out = _strided_conv2d(conv, xp.requires_grad_())
        out.float().square().mean().backward()
        grads.append((out.detach(), conv.conv.weight.grad.clone()))
        assert conv.conv.weight.grad.dtype == torch.float32
    assert rel(grads[1][0], grads[0][0]) < 0.02
    assert rel(grads[1][1], grads[0][1]) < 0.05
