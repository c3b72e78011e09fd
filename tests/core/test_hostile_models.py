"""Hostile or damaged model files: size bombs, wrong header types, poisoned weights, bad class tables.

Every hostile file here is a real model file written by ``save_model`` and then
edited with the safetensors library, the way a damaged download or a crafted
file would differ from a good one.
"""

import copy
import json
import struct
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from scenes import build_tiny_scene

from ncglf2.core import ModelFileError
from ncglf2.core.io.grid import Grid
from ncglf2.core.io.labels import ClassTable
from ncglf2.core.io.model_file import ModelBundle, TrainingPixels, load_model, save_model
from ncglf2.core.jobs import import_reference
from ncglf2.core.nn.checkpoint import network_outline, read_reference_state
from ncglf2.core.nn.model import NCGLF2, NetworkConfig
from ncglf2.core.nn.preprocessing import Preprocessing
from ncglf2.core.requests import ImportRequest

BANDS, COMPONENTS, LIDAR = 48, 40, 1
CLASSES = ClassTable([1, 2, 5], ["water", "trees", "roads"], [(0, 0, 255), (0, 128, 0), (128, 128, 128)])


def _preprocessing(seed: int = 0) -> Preprocessing:
    rng = np.random.default_rng(seed)
    axes, _ = np.linalg.qr(rng.normal(size=(BANDS, BANDS)))
    return Preprocessing(
        hsi_mean=rng.uniform(100, 1000, BANDS),
        components=axes[:COMPONENTS],
        explained_variance=np.sort(rng.uniform(1, 50, COMPONENTS))[::-1],
        channel_mean=rng.normal(0, 0.1, COMPONENTS + LIDAR),
        channel_std=rng.uniform(0.5, 2, COMPONENTS + LIDAR),
        pixel_count=5000,
    )


def _network() -> NCGLF2:
    """The published sizes (patch 11, width 64, depth 2, 40 components), with batch-norm statistics that moved."""
    torch.manual_seed(0)
    network = NCGLF2(NetworkConfig(num_classes=3, hsi_channels=COMPONENTS, lidar_channels=LIDAR)).train()
    with torch.no_grad():
        network(torch.randn(16, COMPONENTS + LIDAR, 11, 11))
    return network.eval()


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "good.ncglf2"
    save_model(path, ModelBundle(_network(), _preprocessing(), CLASSES, provenance={"kind": "test"}))
    return path


def read_model(path):
    """(header, tensors) of a model file."""
    with safe_open(str(path), framework="pt") as archive:
        header = json.loads(archive.metadata()["ncglf2"])
        tensors = {key: archive.get_tensor(key) for key in archive.keys()}
    return header, tensors


def write_model(path, header, tensors, header_text=None):
    save_file(tensors, str(path), metadata={"ncglf2": header_text if header_text is not None else json.dumps(header)})
    return path


def edited(source, target, header_edit=None, tensor_edit=None):
    """A copy of ``source`` with its header and/or tensors changed in place by the given functions."""
    header, tensors = read_model(source)
    if header_edit is not None:
        header_edit(header)
    if tensor_edit is not None:
        tensor_edit(tensors)
    return write_model(target, header, tensors)


def test_the_unedited_model_loads(saved_model):
    """The starting point of every edit below is a model that loads and predicts finite values."""
    assert saved_model.stat().st_size > 1_000_000  # the published sizes: about 1.4 MB
    bundle = load_model(saved_model)
    assert bundle.class_ids == [1, 2, 5] and bundle.config.depth == 2
    with torch.no_grad():
        logits, _ = bundle.network(torch.randn(4, COMPONENTS + LIDAR, 11, 11))
    assert torch.isfinite(logits).all()


# ---------------------------------------------------------------- size bombs


@pytest.mark.parametrize(
    "config",
    [
        NetworkConfig(num_classes=3),
        NetworkConfig(num_classes=7, patch_size=5, hsi_channels=4, lidar_channels=2, width=16, depth=3, heads=2),
        NetworkConfig(num_classes=2, patch_size=3, hsi_channels=1, lidar_channels=1, width=2, depth=1, heads=1),
    ],
)
def test_the_outline_has_the_real_networks_shapes_without_storage(config):
    """The outline the tensor table is compared with is the network's own code, run without storage."""
    outline, real = network_outline(config).state_dict(), NCGLF2(config).state_dict()
    assert list(outline) == list(real)
    assert all(outline[k].shape == real[k].shape and outline[k].dtype == real[k].dtype for k in real)
    assert all(v.is_meta for v in outline.values() if v.is_floating_point())


_BOMBS = {
    "depth": lambda h: h["network"].update(depth=100_000),
    "width": lambda h: h["network"].update(width=65_536),
    "patch": lambda h: h["network"].update(patch_size=20_001),
    "channels": lambda h: (h["network"].update(hsi_channels=10**6), h["preprocessing"].update(pca_components=10**6)),
    "classes": lambda h: h["network"].update(num_classes=10**8),
    # Each size within its limit, together 5.5 GB of weights that the file does not hold.
    "in-bounds": lambda h: h["network"].update(width=4096, patch_size=255),
    # 1 GiB of training pixels on a grid that could hold them, in a file that holds none.
    "training-pixels": lambda h: h.update(
        training_pixels={
            "count": 2**27,
            "width": 2**20,
            "height": 2**20,
            "geotransform": [0, 1, 0, 0, 0, -1],
            "crs": "",
        }
    ),
}
_BOMB_FIELDS = {
    "depth": ["network.depth", "100000"],
    "width": ["network.width", "65536"],
    "patch": ["network.patch_size", "20001"],
    "channels": ["network.hsi_channels", "1000000"],
    "classes": ["network.num_classes", "100000000"],
    "in-bounds": ["tensor network.", "has shape", "the header needs"],
    "training-pixels": ["missing tensor(s) training.pixels"],
}

# Runs each load (a model file, or a reference checkpoint with the sizes asked for) under a 1 GiB
# address-space allowance beyond what torch needs once imported, and reports, per load, the exception
# and how much the peak resident memory grew.
_CHILD = """
import json, resource, sys
import torch
from ncglf2.core.io.model_file import load_model
from ncglf2.core.nn.checkpoint import load_reference_checkpoint
torch.set_num_threads(1)

def status_kib(field):
    with open("/proc/self/status") as stream:
        return next(int(line.split()[1]) for line in stream if line.startswith(field + ":"))

allowance = status_kib("VmSize") * 1024 + 2**30
resource.setrlimit(resource.RLIMIT_AS, (allowance, allowance))
results = {}
for name, (path, sizes) in json.loads(sys.argv[1]).items():
    before = status_kib("VmHWM")
    try:
        load_reference_checkpoint(path, **sizes) if sizes else load_model(path)
        outcome = ["loaded", ""]
    except BaseException as error:
        outcome = [type(error).__name__, str(error)[:2000]]
    results[name] = outcome + [(status_kib("VmHWM") - before) / 1024]
print(json.dumps(results))
"""


def _load_in_a_child(loads: dict) -> dict:
    """{name: (exception type, message, peak RSS growth in MiB)} of ``_CHILD`` run on ``loads``."""
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(loads)], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_size_bombs_are_refused_before_anything_is_allocated(saved_model, tmp_path):
    """Sizes from the header are bounded and compared with the file's tensors before any network is built."""
    paths = {name: str(edited(saved_model, tmp_path / f"{name}.ncglf2", edit)) for name, edit in _BOMBS.items()}
    results = _load_in_a_child({name: (path, None) for name, path in paths.items()})
    assert set(results) == set(paths)
    for name, (kind, message, grown_mib) in results.items():
        assert kind == "ModelFileError", (name, kind, message)
        assert message.startswith(f"not a valid model file {paths[name]}: "), (name, message)
        for text in _BOMB_FIELDS[name]:
            assert text in message, (name, text, message)
        assert grown_mib < 64, (name, grown_mib)  # nothing near the sizes asked for


def test_a_header_beyond_its_length_limit_is_refused_unread(saved_model, tmp_path):
    header, tensors = read_model(saved_model)
    header["provenance"]["notes"] = "x" * (20 * 2**20)  # a 20 MB header
    path = write_model(tmp_path / "long.ncglf2", header, tensors)
    with pytest.raises(ModelFileError, match=r"header of .* bytes.*limit"):
        load_model(path)


def test_a_length_prefix_beyond_the_file_is_refused(saved_model, tmp_path):
    data = bytearray(saved_model.read_bytes())
    data[:8] = struct.pack("<Q", 2**62)
    path = tmp_path / "prefix.ncglf2"
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="damaged, truncated"):
        load_model(path)


# ---------------------------------------------------------------- wrong header types


def _set(*keys_and_value):
    """An edit that sets header[k1][k2]... to the value (the last argument)."""
    *keys, value = keys_and_value

    def edit(header):
        node = header
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = copy.deepcopy(value)

    return edit


def _drop(*keys):
    def edit(header):
        node = header
        for key in keys[:-1]:
            node = node[key]
        del node[keys[-1]]

    return edit


def _nested(levels):
    value = []
    for _ in range(levels - 1):
        value = [value]
    return value


# (edit, the text the message must hold: the field, or for the nesting the reason)
_CORRUPTIONS = {
    "network-list": (_set("network", [3, 11, 40, 1, 64, 2, 4]), "network"),
    "classes-list": (_set("classes", [[1, 2, 5]]), "classes"),
    "patch-float": (_set("network", "patch_size", 11.0), "network.patch_size"),
    "patch-text": (_set("network", "patch_size", "11"), "network.patch_size"),
    "patch-even": (_set("network", "patch_size", 10), "network.patch_size"),
    "patch-nested": (_set("network", "patch_size", {"value": 11}), "network.patch_size"),
    "width-bool": (_set("network", "width", True), "network.width"),
    "width-odd": (_set("network", "width", 63), "network.width"),
    "width-huge-number": (_set("network", "width", 10**30), "network.width"),
    "heads-not-dividing": (_set("network", "heads", 3), "network.heads"),
    "heads-huge": (_set("network", "heads", 2**20), "network.heads"),
    "depth-missing": (_drop("network", "depth"), "network.depth"),
    "depth-null": (_set("network", "depth", None), "network.depth"),
    "depth-zero": (_set("network", "depth", 0), "network.depth"),
    "network-extra-field": (_set("network", "dropout", 0.1), "network.dropout"),
    "classes-count": (_set("network", "num_classes", 4), "classes.ids"),
    "ids-text": (_set("classes", "ids", "1,2,5"), "classes.ids"),
    "ids-zero": (_set("classes", "ids", [0, 2, 5]), "classes.ids[0]"),
    "ids-negative": (_set("classes", "ids", [1, -2, 5]), "classes.ids[1]"),
    "ids-beyond-31-bit": (_set("classes", "ids", [1, 2, 2**31]), "classes.ids[2]"),
    "ids-huge": (_set("classes", "ids", [1, 2, 2**40]), "classes.ids[2]"),
    "ids-twice": (_set("classes", "ids", [1, 5, 5]), "classes.ids"),
    "ids-short": (_set("classes", "ids", [1, 2]), "classes.ids"),
    "names-number": (_set("classes", "names", [7, "trees", "roads"]), "classes.names[0]"),
    "names-nested": (_set("classes", "names", [["water"], "trees", "roads"]), "classes.names[0]"),
    "names-newline": (_set("classes", "names", ["water", "tr\nees", "roads"]), "classes.names[1]"),
    "names-nul": (_set("classes", "names", ["water", "trees", "ro\x00ads"]), "classes.names[2]"),
    "names-empty": (_set("classes", "names", ["water", "   ", "roads"]), "classes.names[1]"),
    "names-long": (_set("classes", "names", ["water", "t" * 1000, "roads"]), "classes.names[1]"),
    "names-missing": (_drop("classes", "names"), "classes.names"),
    "colour-two-numbers": (_set("classes", "colors", [[0, 0, 255], [0, 128], [1, 2, 3]]), "classes.colors[1]"),
    "colour-five-numbers": (_set("classes", "colors", [[0, 0, 255], [0, 1, 2, 3, 4], [1, 2, 3]]), "classes.colors[1]"),
    "colour-above-255": (_set("classes", "colors", [[300, 0, 255], [0, 128, 0], [1, 2, 3]]), "classes.colors[0][0]"),
    "colour-negative": (_set("classes", "colors", [[0, 0, 255], [0, 128, 0], [1, -2, 3]]), "classes.colors[2][1]"),
    "colour-float": (_set("classes", "colors", [[0, 0, 255.0], [0, 128, 0], [1, 2, 3]]), "classes.colors[0][2]"),
    "colour-text": (_set("classes", "colors", ["#0000ff", [0, 128, 0], [1, 2, 3]]), "classes.colors[0]"),
    "bands-list": (_set("bands", [48, 1]), "bands"),
    "bands-text": (_set("bands", "hsi", "48"), "bands.hsi"),
    "bands-lidar-differs": (_set("bands", "lidar", 2), "bands.lidar"),
    "bands-below-components": (_set("bands", "hsi", 30), "bands.hsi"),
    "components-differ": (_set("preprocessing", "pca_components", 39), "preprocessing.pca_components"),
    "fitted-negative": (_set("preprocessing", "fitted_pixels", -1), "preprocessing.fitted_pixels"),
    "sampled-text": (_set("preprocessing", "sampled", "no"), "preprocessing.sampled"),
    "preprocessing-missing": (_drop("preprocessing"), "preprocessing"),
    "provenance-list": (_set("provenance", ["kind", "test"]), "provenance"),
    "version-text": (_set("format_version", "1"), "format_version"),
    "version-missing": (_drop("format_version"), "format_version"),
    "format-other": (_set("format", "onnx"), "format"),
    "provenance-deep": (_set("provenance", "deep", _nested(40)), "provenance"),
}


@pytest.mark.parametrize("name", list(_CORRUPTIONS))
def test_a_wrong_header_names_the_field(saved_model, tmp_path, name):
    edit, field = _CORRUPTIONS[name]
    path = edited(saved_model, tmp_path / f"{name}.ncglf2", edit)
    with pytest.raises(ModelFileError) as info:  # any other exception type fails the test
        load_model(path)
    message = str(info.value)
    assert message.startswith(f"not a valid model file {path}: "), message
    assert field in message, message


@pytest.mark.parametrize("text", ["[1, 2]", '"a string"', "null", "{", "1e999999", "9" * 5000])
def test_a_header_that_is_no_json_object(saved_model, tmp_path, text):
    _, tensors = read_model(saved_model)
    path = write_model(tmp_path / "odd.ncglf2", None, tensors, header_text=text)
    with pytest.raises(ModelFileError, match=r"not a valid model file .*odd\.ncglf2: the header is not"):
        load_model(path)


def test_a_header_nested_beyond_what_json_can_decode(saved_model, tmp_path):
    header, tensors = read_model(saved_model)
    depth = 100_000
    text = json.dumps(header).replace('"provenance": {', '"provenance": {"deep": ' + "[" * depth + "]" * depth + ", ")
    path = write_model(tmp_path / "deep.ncglf2", None, tensors, header_text=text)
    with pytest.raises(ModelFileError, match=r"deep\.ncglf2: the header is nested more than 32 levels deep"):
        load_model(path)


_TENSOR_CORRUPTIONS = {
    "mean-2d": (lambda t: t.update({"preprocessing.hsi_mean": t["preprocessing.hsi_mean"].reshape(6, 8)}), "hsi_mean"),
    "components-transposed": (
        lambda t: t.update({"preprocessing.components": t["preprocessing.components"].T.contiguous()}),
        "preprocessing.components",
    ),
    "std-short": (
        lambda t: t.update({"preprocessing.channel_std": t["preprocessing.channel_std"][:-1].contiguous()}),
        "preprocessing.channel_std",
    ),
    "positions-shape": (
        lambda t: t.update({"network.embedding.positions": torch.zeros(1, 50, 64)}),
        "network.embedding.positions",
    ),
    "weight-missing": (lambda t: t.pop("network.classifier.bias"), "network.classifier.bias"),
    "weight-extra": (lambda t: t.update({"network.mystery": torch.zeros(3)}), "network.mystery"),
    "statistics-missing": (lambda t: t.pop("preprocessing.explained_variance"), "preprocessing.explained_variance"),
    "weight-integers": (
        lambda t: t.update({"network.classifier.weight": t["network.classifier.weight"].to(torch.int32)}),
        "network.classifier.weight",
    ),
}


@pytest.mark.parametrize("name", list(_TENSOR_CORRUPTIONS))
def test_a_wrong_tensor_table_names_the_tensor(saved_model, tmp_path, name):
    edit, field = _TENSOR_CORRUPTIONS[name]
    path = edited(saved_model, tmp_path / f"{name}.ncglf2", tensor_edit=edit)
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    assert str(info.value).startswith(f"not a valid model file {path}: ") and field in str(info.value)


def test_class_names_are_stripped_on_load(saved_model, tmp_path):
    path = edited(saved_model, tmp_path / "spaces.ncglf2", _set("classes", "names", ["  water ", "trees\t", "roads"]))
    assert load_model(path).class_names == ["water", "trees", "roads"]


def test_four_number_colours_load(saved_model, tmp_path):
    path = edited(
        saved_model, tmp_path / "rgba.ncglf2", _set("classes", "colors", [[0, 0, 255, 128], [0, 1, 2], [255] * 4])
    )
    assert load_model(path).class_colors == [(0, 0, 255, 128), (0, 1, 2), (255, 255, 255, 255)]


# ---------------------------------------------------------------- poisoned weights and statistics


# name -> (tensor, flat index, value, what the message says)
_POISONS = {
    "bn-variance-negative": ("network.hsi_stem.branches.0.1.running_var", 3, -0.5, "negative"),
    "head-bn-variance-negative": ("network.classifier_norm.running_var", 1, -1e-3, "negative"),
    "bn-mean-nan": ("network.lidar_stem.branches.2.1.running_mean", 0, float("nan"), "NaN or infinite"),
    "weight-inf": ("network.base.blocks.1.attention.key.weight", 5, float("inf"), "NaN or infinite"),
    "positions-nan": ("network.embedding.positions", 7, float("nan"), "NaN or infinite"),
    "pca-mean-inf": ("preprocessing.hsi_mean", 2, float("-inf"), "NaN or infinite"),
    "pca-axis-nan": ("preprocessing.components", 11, float("nan"), "NaN or infinite"),
    "channel-mean-nan": ("preprocessing.channel_mean", 4, float("nan"), "NaN or infinite"),
    "scale-zero": ("preprocessing.channel_std", 4, 0.0, "positive"),
    "variance-negative": ("preprocessing.explained_variance", 0, -2.0, "positive"),
}


@pytest.mark.parametrize("name", list(_POISONS))
def test_poisoned_values_are_refused(saved_model, tmp_path, name):
    key, index, value, reason = _POISONS[name]

    def edit(tensors):
        tensors[key].view(-1)[index] = value

    path = edited(saved_model, tmp_path / f"{name}.ncglf2", tensor_edit=edit)
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    message = str(info.value)
    assert str(path) in message and key in message and reason in message, message


def test_a_negative_variance_would_give_nan_predictions(saved_model, tmp_path):
    """Why the variance check matters: the same weights, put in a network directly, predict NaN."""
    bundle = load_model(saved_model)
    state = bundle.network.state_dict()
    state["classifier_norm.running_var"][1] = -1e-3
    bundle.network.load_state_dict(state)
    with torch.no_grad():
        logits, _ = bundle.network(torch.randn(2, COMPONENTS + LIDAR, 11, 11))
    assert torch.isnan(logits[:, 1]).all() and torch.isfinite(logits[:, [0, 2]]).all()


def test_float64_weights_beyond_float32_are_refused(saved_model, tmp_path):
    """Finite in the file, infinite in the network's float32: checked after the conversion."""

    def widen(tensors):
        weight = tensors["network.token_head.weight"].double()
        weight[0, 0] = 1e300
        tensors["network.token_head.weight"] = weight

    path = edited(saved_model, tmp_path / "wide.ncglf2", tensor_edit=widen)
    with pytest.raises(ModelFileError, match=r"network\.token_head\.weight holds NaN or infinite"):
        load_model(path)


@pytest.mark.parametrize("where", ["network", "preprocessing"])
def test_save_model_refuses_non_finite_values_and_keeps_the_old_file(tmp_path, where):
    network, preprocessing = _network(), _preprocessing()
    if where == "network":
        with torch.no_grad():
            network.detail_head.weight[2, 3] = float("nan")
        key = "network.detail_head.weight"
    else:
        preprocessing.channel_std[0] = np.inf
        key = "preprocessing.channel_std"
    path = tmp_path / "model.ncglf2"
    path.write_bytes(b"an earlier model")
    with pytest.raises(ModelFileError) as info:
        save_model(path, ModelBundle(network, preprocessing, CLASSES))
    message = str(info.value)
    assert f"cannot save the model {path}" in message and key in message and "NaN or infinite" in message
    assert path.read_bytes() == b"an earlier model"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.ncglf2"]  # no temporary left behind


def test_save_model_refuses_a_class_table_it_could_not_load(tmp_path):
    table = ClassTable([1, 2, 5], ["water", "tr\x1bees", "roads"], [(0, 0, 255), (0, 128, 0), (1, 2, 3)])
    with pytest.raises(ModelFileError, match=r"cannot save the model .*: classes\.names\[1\] .*U\+001B"):
        save_model(tmp_path / "m.ncglf2", ModelBundle(_network(), _preprocessing(), table))
    assert not (tmp_path / "m.ncglf2").exists()


# ---------------------------------------------------------------- importing a poisoned reference checkpoint


def test_import_with_a_huge_patch_size_allocates_nothing(reference_files):
    """The checkpoint's shapes are compared with an outline of the network asked for (102 GB of positions here)."""
    checkpoint, _ = reference_files
    results = _load_in_a_child({"patch": (str(checkpoint), {"num_classes": 6, "patch_size": 20001})})
    kind, message, grown_mib = results["patch"]
    assert kind == "ModelFileError", message
    assert "embedding.positions" in message and "(1, 122, 64)" in message and "(1, 400040002, 64)" in message
    assert grown_mib < 256  # torch's Python kernels for the meta index ops (about 80 MB of code), not the 102 GB


@pytest.mark.parametrize(
    "key,value,reason",
    [
        ("Classifier.0.weight", float("nan"), "NaN or infinite"),
        ("CNN_Encoder1.conv11.1.running_var", -0.25, "negative"),
    ],
)
def test_import_refuses_a_poisoned_reference_checkpoint(reference_files, tmp_path, key, value, reason):
    checkpoint, _ = reference_files
    state = read_reference_state(checkpoint)
    assert key in state
    state[key] = state[key].clone()
    state[key].view(-1)[1] = value
    poisoned = tmp_path / "poisoned.pth.tar"
    torch.save({"state_dict": state, "best_acc": 0.9}, poisoned)  # the reference's layout
    scene = build_tiny_scene(tmp_path, bands=48)
    out = tmp_path / "trento.ncglf2"
    with pytest.raises(ModelFileError) as info:
        import_reference(
            ImportRequest(checkpoint=str(poisoned), hsi=scene.hsi, lidar=[scene.dsm], num_classes=6, out=str(out))
        )
    message = str(info.value)
    assert str(poisoned) in message and reason in message, message
    assert not out.exists()


# ---------------------------------------------------------------- the training pixel record

GRID = Grid(60, 50, (1000.0, 2.0, 0.0, 5000.0, 0.0, -2.0), "")
TRAIN_ROWS, TRAIN_COLS = np.array([0, 3, 49, 20, 20]), np.array([0, 59, 7, 20, 21])


@pytest.fixture(scope="module")
def recorded_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("recorded") / "recorded.ncglf2"
    record = TrainingPixels(TRAIN_ROWS, TRAIN_COLS, GRID)
    save_model(path, ModelBundle(_network(), _preprocessing(), CLASSES, training_pixels=record))
    return path


def test_the_training_pixels_round_trip_in_format_2(recorded_model, saved_model):
    bundle = load_model(recorded_model)
    record = bundle.training_pixels
    np.testing.assert_array_equal(record.rows, TRAIN_ROWS)
    np.testing.assert_array_equal(record.cols, TRAIN_COLS)
    assert record.rows.dtype == np.int32 and record.grid == GRID
    header, tensors = read_model(recorded_model)
    assert header["format_version"] == 2 and tensors["training.pixels"].dtype == torch.int32
    assert tensors["training.pixels"].shape == (5, 2)
    assert read_model(saved_model)[0]["format_version"] == 1  # nothing recorded: readable by older versions
    assert load_model(saved_model).training_pixels is None


_RECORD_CORRUPTIONS = {
    "count-above-limit": (_set("training_pixels", "count", 2**27 + 1), "training_pixels.count"),
    "count-beyond-grid": (
        lambda h: h["training_pixels"].update(width=2, height=2),
        "training_pixels.count is 5, more than the 2 x 2 pixels",
    ),
    "count-text": (_set("training_pixels", "count", "5"), "training_pixels.count"),
    "width-zero": (_set("training_pixels", "width", 0), "training_pixels.width"),
    "height-huge": (_set("training_pixels", "height", 2**40), "training_pixels.height"),
    "geotransform-short": (_set("training_pixels", "geotransform", [0, 1, 0, 0, -1]), "training_pixels.geotransform"),
    "geotransform-nan": (
        _set("training_pixels", "geotransform", [float("nan"), 1, 0, 0, 0, -1]),
        "training_pixels.geotransform[0]",
    ),
    "geotransform-text": (
        _set("training_pixels", "geotransform", [0, 1, 0, 0, 0, "-1"]),
        "training_pixels.geotransform[5]",
    ),
    "geotransform-huge": (
        _set("training_pixels", "geotransform", [10**400, 1, 0, 0, 0, -1]),
        "training_pixels.geotransform[0]",
    ),
    "crs-long": (_set("training_pixels", "crs", "x" * 100_001), "training_pixels.crs"),
    "record-list": (_set("training_pixels", [5, 60, 50]), "training_pixels"),
    "count-differs": (_set("training_pixels", "count", 6), "tensor training.pixels has shape (5, 2)"),
}


@pytest.mark.parametrize("name", list(_RECORD_CORRUPTIONS))
def test_a_wrong_training_pixel_header_names_the_field(recorded_model, tmp_path, name):
    edit, field = _RECORD_CORRUPTIONS[name]
    path = edited(recorded_model, tmp_path / f"{name}.ncglf2", edit)
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    message = str(info.value)
    assert message.startswith(f"not a valid model file {path}: ") and field in message, message


def _pixels(edit):
    def tensor_edit(tensors):
        tensors["training.pixels"] = edit(tensors["training.pixels"].clone())

    return tensor_edit


def _at(index, value, dtype=torch.int32):
    def edit(pixels):
        pixels = pixels.to(dtype)
        pixels.view(-1)[index] = value
        return pixels

    return edit


_RECORD_TENSORS = {
    "row-off-the-grid": (_pixels(_at(0, 50)), "holds the row 50, outside the 60 x 50 training grid"),
    "column-negative": (_pixels(_at(3, -1)), "holds the column -1"),
    "row-beyond-int32": (_pixels(_at(2, 2**40, torch.int64)), "holds the row 1099511627776"),
    "float-pixels": (_pixels(lambda p: p.float()), "tensor training.pixels holds F32 values"),
    "three-columns": (_pixels(lambda p: torch.zeros(5, 3, dtype=torch.int32)), "tensor training.pixels has shape"),
    "tensor-missing": (lambda t: t.pop("training.pixels"), "missing tensor(s) training.pixels"),
}


@pytest.mark.parametrize("name", list(_RECORD_TENSORS))
def test_a_wrong_training_pixel_tensor_is_refused(recorded_model, tmp_path, name):
    edit, text = _RECORD_TENSORS[name]
    path = edited(recorded_model, tmp_path / f"{name}.ncglf2", tensor_edit=edit)
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    message = str(info.value)
    assert message.startswith(f"not a valid model file {path}: ") and text in message, message


def test_training_pixels_without_their_header_are_refused(saved_model, tmp_path):
    stray = torch.zeros(5, 2, dtype=torch.int32)
    path = edited(saved_model, tmp_path / "stray.ncglf2", tensor_edit=lambda t: t.update({"training.pixels": stray}))
    with pytest.raises(ModelFileError, match=r"tensor\(s\) training\.pixels not part of the model"):
        load_model(path)


def test_save_model_refuses_training_pixels_off_their_grid(tmp_path):
    record = TrainingPixels(np.array([1, 50]), np.array([1, 2]), GRID)
    with pytest.raises(ModelFileError, match=r"cannot save the model .*training\.pixels holds the row 50"):
        save_model(tmp_path / "m.ncglf2", ModelBundle(_network(), _preprocessing(), CLASSES, training_pixels=record))
    assert not (tmp_path / "m.ncglf2").exists()
