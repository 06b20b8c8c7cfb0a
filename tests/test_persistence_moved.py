"""Model files name classes by their dotted path: a file that names a class where an
earlier version kept it still loads, as the class where it lives now."""

import json
import zipfile

import pytest

from skecg.models import WaveSegmenter
from skecg.persistence import UnsafeModelFileError, get_untrusted_types, load_model

OLD = "skecg.segmentation.WaveSegmenter"
NEW = "skecg.models._segmenter.WaveSegmenter"


def _archive(path, tree):
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("model.json", json.dumps({"format": "skecg-model", "version": 2, "info": {}, "estimator": tree}))
    return path


def test_a_file_naming_the_old_path_of_a_moved_class_loads_as_the_new_one(tmp_path):
    tree = {"__estimator__": OLD,
            "params": {"fs": 250.0, "max_epochs": 3, "module": {"__type__": "skecg.models._unet.UNet1d"}}}
    path = _archive(tmp_path / "seg.skecg", tree)
    assert get_untrusted_types(path) == [NEW]  # what trusted= takes, under either name
    for trusted in ([OLD], [NEW], [WaveSegmenter]):
        seg = load_model(path, trusted=trusted)
        assert type(seg) is WaveSegmenter and seg.fs == 250.0 and seg.max_epochs == 3
    with pytest.raises(UnsafeModelFileError, match=f"names class '{NEW}', which is neither"):
        load_model(path)
