"""skecg.presets: the papers' numbers, the built estimators, the existing small and demo sizes."""

import numpy as np
import pytest
import torch
from sklearn.base import clone

from skecg.apps.experiments import make_named_pipeline
from skecg.ensemble import BradycardiaRuleGate, LengthEnsemble, PseudoLabelRelabeler, SinusRhythmFallback
from skecg.models import ECGClassifier
from skecg.presets import (
    PRESETS,
    Preset,
    get_deep_param,
    get_preset,
    list_presets,
    set_deep_params,
    zhu_system,
)

ZHU = "estimator__estimator__estimators__{}__estimator__"


def test_huang_paper_is_ribeiros_network_at_the_papers_size():
    p = get_preset("huang-paper")
    d = p.to_dict()
    # Ribeiro's ResNet-1d: 6,421,910 trainable parameters (model.py, 6 sigmoid outputs)
    assert p.count_parameters() == {"net": 6_421_910}
    assert d["net__module__filters"] == [128, 196, 256, 320] and d["net__module__stem_filters"] == 64
    assert d["net__module__kernel_size"] == 16 and d["net__module__downsample"] == 4
    assert d["net__module__dropout"] == 0.2  # Keras Dropout(1 - keep_prob 0.8)
    assert (d["resample__fs_out"], d["pad__length"], d["pad__mode"]) == (400, 4096, "center")
    assert d["subset__n_per_class"] == 3000 and d["subset__strategy"] == "I"
    assert (d["net__batch_size"], d["net__lr"], d["net__max_epochs"], d["net__patience"]) == (64, 1e-3, 200, 9)
    assert d["net__criterion"] == "bce"  # sigmoid outputs
    assert (d["net__lr_schedule"], d["net__init"]) == ("ribeiro", "keras")  # his train.py and model.py
    assert d["net__callbacks__early_stopping__threshold"] == 1e-5
    assert p.vocabulary == "tnmg" and p.rules == ("huang-cpsc", "huang-snh")
    est = p.make_estimator()
    net = est.named_steps["net"]
    assert isinstance(net, ECGClassifier) and net.module == "resnet1d"
    assert net.callbacks is None  # the schedule and initialisation are parameters: the fitted model saves
    sched = dict(net.initialize().callbacks_)["lr_schedule"]
    # Keras reduces after 7 epochs without improvement, torch after patience + 1
    assert (sched.policy, sched.kwargs["factor"], sched.kwargs["patience"], sched.kwargs["min_lr"]) == (
        "ReduceLROnPlateau", 0.1, 6, 1e-5)
    assert get_preset("huang-attention-paper").count_parameters()["net"] == 6_393_430


def test_zhu_paper_preset_matches_the_paper():
    p = get_preset("zhu-paper")
    d = p.to_dict()
    est = p.make_estimator()
    assert isinstance(est, SinusRhythmFallback) and isinstance(est.estimator, BradycardiaRuleGate)
    ens = est.estimator.estimator
    assert isinstance(ens, LengthEnsemble) and [n for n, _ in ens.estimators] == ["long", "short"]
    assert all(isinstance(m, PseudoLabelRelabeler) and list(m.sources) == ["CPSC"] for _, m in ens.estimators)
    assert est.estimator.gated_class == "426627000" and est.normal_class == "426783006"
    lengths = {m: d[ZHU.format(m) + "prep__pad__length"] for m in ("long", "short")}
    assert lengths == {"long": 15000, "short": 5000}
    for m in ("long", "short"):
        k = ZHU.format(m)
        assert d[k + "prep__leads__leads"] == "independent8" and d[k + "prep__resample__fs_out"] == 500
        assert (d[k + "prep__denoise__wavelet"], d[k + "prep__denoise__level"]) == ("bior2.6", 8)
        assert (d[k + "net__max_epochs"], d[k + "net__batch_size"], d[k + "net__lr"]) == (19, 16, 1e-3)
        assert d[k + "net__threshold"] == 0.36 and d[k + "net__criterion"] == "sign"
        net = get_deep_param(est, k + "net")
        # the learning-rate drop: StepLR after epoch 13, 1e-3 -> 1e-4
        sched = dict(net.get_default_callbacks())["lr_schedule"]
        assert (sched.policy, sched.kwargs["step_size"], sched.kwargs["gamma"]) == ("StepLR", 13, 0.1)
    assert d["estimator__estimator__threshold"] == 0.36
    counts = p.count_parameters()
    assert len(counts) == 2 and all(v > 1_000_000 for v in counts.values())
    leads = {r[2] for r in p.networks()}
    assert leads == {8}
    assert p.rules == ("zhu-incart", "zhu-unscored")


def test_describe_shows_the_numbers_and_their_sources():
    text = get_preset("huang-paper").describe()
    for s in ("6,421,910", "400", "4096", "3000", "batch_size", "= 64", "= 200", "= 9", "ReduceLROnPlateau",
              "dropout_keep_prob", "huang-cpsc"):
        assert s in text, s
    z = get_preset("zhu-paper").describe()
    for s in ("= 19", "= 16", "epoch 13", "0.36", "15000", "5000", "'independent8'", "426627000", "bior2.6"):
        assert s in z, s


@pytest.mark.parametrize("name", list_presets())
def test_to_dict_is_toml_values_and_round_trips(name):
    p = get_preset(name)
    d = p.to_dict()
    for k, v in d.items():
        assert isinstance(v, (str, int, float, bool)) or (
            isinstance(v, list) and all(isinstance(x, (str, int, float, bool)) for x in v)), (k, v)
    again = Preset(p.name, p.paper, p.description, p.system, d, p.sources, p.rules, p.vocabulary, p.size)
    assert again.to_dict() == d
    est = p.make_estimator(**d)
    assert {k: get_deep_param(est, k) for k in d} == {k: tuple(v) if isinstance(v, list) and isinstance(
        get_deep_param(est, k), tuple) else v for k, v in d.items()}
    clone(est)  # a scikit-learn estimator all the way down


@pytest.mark.parametrize("system", ["huang", "huang-attention", "zhu", "catboost"])
def test_demo_presets_build_what_make_named_pipeline_builds(system):
    ours = get_preset(f"{system}-demo").make_estimator()
    theirs = make_named_pipeline(system)

    def simple(est):
        return {k: v for k, v in est.get_params(deep=True).items()
                if isinstance(v, (str, int, float, bool, tuple, type(None))) and k != "_params_to_validate"}

    a, b = simple(ours), simple(theirs)
    diff = {k for k in a.keys() | b.keys() if a.get(k) != b.get(k) and not (
        isinstance(a.get(k), (list, tuple)) and list(a[k]) == list(b.get(k) or []))}
    assert not diff, {k: (a.get(k), b.get(k)) for k in diff}


def test_small_presets_are_reproduces_small_scale():
    from skecg.apps.reproduce import Scale

    sc = Scale.get("small")
    d = get_preset("zhu-small").to_dict()
    assert d["estimator__estimator__net__module__filters"] == list(sc.se_filters)
    assert d["estimator__estimator__net__max_epochs"] == sc.epochs
    assert get_preset("huang-small").to_dict()["subset__n_per_class"] == sc.n_per_class


def test_overrides_and_errors():
    est = get_preset("huang-paper").make_estimator(net__max_epochs=2, net__callbacks__lr_schedule__patience=3)
    assert est.get_params()["net__max_epochs"] == 2
    with pytest.raises(KeyError, match="huang-paper"):
        get_preset("huang")
    assert set(list_presets()) == set(PRESETS)
    with pytest.raises(ValueError, match="no ensemble member 'mid'"):
        set_deep_params(get_preset("zhu-paper").make_estimator(),
                        {"estimator__estimator__estimators__mid__estimator__net__lr": 1.0})
    with pytest.raises(ValueError, match="Models 1-6"):
        zhu_system(7)


def test_zhu_table3_models_in_order():
    kinds = [type(zhu_system(m)).__name__ for m in range(1, 7)]
    assert kinds == ["Pipeline", "BradycardiaRuleGate", "SinusRhythmFallback", "SinusRhythmFallback",
                     "SinusRhythmFallback", "SinusRhythmFallback"]
    m1 = zhu_system(1)
    assert "denoise" not in m1.named_steps["prep"].named_steps and m1.named_steps["net"].criterion == "bce"
    m2 = zhu_system(2)
    assert "denoise" in m2.estimator.estimator.named_steps["prep"].named_steps
    assert m2.estimator.estimator.named_steps["net"].criterion == "bce"
    assert zhu_system(3).estimator.estimator.estimator.named_steps["net"].criterion == "sign"
    leads = [zhu_system(m).estimator.estimator.estimator.named_steps["prep"].named_steps["leads"].leads
             for m in (3, 4, 5)]
    assert leads == ["standard12", "independent8", "independent8"]


def test_keras_init_is_he_normal_and_seeded():
    def build(seed):
        torch.manual_seed(seed)
        return ECGClassifier("resnet1d", init="keras", module__filters=(32, 32), module__n_leads=12,
                             module__n_samples=256, module__n_classes=6).initialize().module_

    module = build(0)
    w = module.blocks[1].conv2.conv.weight.detach().numpy().ravel()  # 32 in x 16 taps: fan_in 512
    assert abs(w.std() - np.sqrt(2 / 512)) < 0.1 * np.sqrt(2 / 512)
    assert np.abs(w).max() <= 2 * np.sqrt(2 / 512) / 0.87962566103423978 + 1e-6  # truncated at 2 sd
    assert float(module.lin.bias.detach().abs().sum()) == 0
    assert module.bn1.momentum == 0.01 and module.bn1.eps == 1e-3
    np.testing.assert_array_equal(build(0).blocks[1].conv2.conv.weight.detach().numpy().ravel(), w)
    torch_init = ECGClassifier("resnet1d", module__filters=(32, 32), module__n_leads=12, module__n_samples=256,
                               module__n_classes=6).initialize().module_
    assert torch_init.bn1.eps == 1e-5 and float(torch_init.lin.bias.detach().abs().sum()) > 0


def test_fitted_paper_preset_saves_and_loads(tmp_path):
    """Ribeiro's initialisation and schedule are parameters, so a fitted huang-paper model
    goes into a safe model file and comes back with Keras' batch-norm eps."""
    from skecg.datasets import load_sample
    from skecg.persistence import load_model, save_model

    X, y = load_sample("tnmg", sources=["Georgia"])
    est = get_preset("huang-paper").make_estimator(
        subset__n_per_class=4, subset__allow_smaller=True, resample__fs_out=50, pad__length=256,
        net__module__filters=[8, 8], net__module__stem_filters=8, net__max_epochs=1, net__valid_size=0.25)
    est.fit(X, y)
    save_model(est, tmp_path / "m.skecg")
    back = load_model(tmp_path / "m.skecg")
    assert back.named_steps["net"].init == "keras" and back.named_steps["net"].module_.bn1.eps == 1e-3
    np.testing.assert_allclose(back.predict_proba(X[:5]), est.predict_proba(X[:5]), atol=1e-6)


def test_huang_paper_preset_trains_with_its_callbacks():
    """The paper's schedule and initialisation on a tiny network: ReduceLROnPlateau
    watches the validation loss, early stopping keeps its threshold."""
    from skecg.datasets import load_sample

    X, y = load_sample("tnmg", sources=["Georgia", "Chapman-Ningbo"])
    est = get_preset("huang-paper").make_estimator(
        subset__n_per_class=6, subset__allow_smaller=True, resample__fs_out=50, pad__length=512,
        net__module__filters=[8, 8], net__module__stem_filters=8, net__max_epochs=2, net__valid_size=0.25,
        net__callbacks__lr_schedule__patience=0)
    est.fit(X, y)
    net = est.named_steps["net"]
    h = net.history_
    assert len(h) == 2 and all("valid_loss" in row for row in h)
    # patience 0: the rate is cut by 10 after an epoch whose validation loss is not lower by 1e-4
    v = [row["valid_loss"] for row in h]
    expect = 1e-4 if v[1] > v[0] - 1e-4 else 1e-3
    assert net.optimizer_.param_groups[0]["lr"] == pytest.approx(expect)
    assert est.predict_proba(X).shape == (len(X), 6)
