"""Importing the reference checkpoint: renaming, refusals, safety."""

import zipfile

import pytest
import torch

from ncglf2.core import ModelFileError, load_reference_checkpoint
from ncglf2.core.nn.checkpoint import read_reference_state


def test_loads_in_eval_on_cpu(reference_files):
    checkpoint, _ = reference_files
    model = load_reference_checkpoint(checkpoint, num_classes=6)
    assert not model.training
    assert all(p.device.type == "cpu" for p in model.parameters())


def test_wrong_num_classes_names_the_sizes(reference_files):
    checkpoint, _ = reference_files
    with pytest.raises(ModelFileError) as info:
        load_reference_checkpoint(checkpoint, num_classes=15)
    text = str(info.value)
    assert "classifier.weight" in text and "(6, 64)" in text and "(15, 64)" in text
    assert "num_classes=6" in text


def test_wrong_patch_size_names_the_sizes(reference_files):
    checkpoint, _ = reference_files
    with pytest.raises(ModelFileError, match=r"patch_size=11.*asked for .*patch_size=9"):
        load_reference_checkpoint(checkpoint, num_classes=6, patch_size=9)


def test_wrong_channels(reference_files):
    checkpoint, _ = reference_files
    with pytest.raises(ModelFileError, match="hsi_channels=40"):
        load_reference_checkpoint(checkpoint, num_classes=6, hsi_channels=30)


def test_unexpected_and_missing_keys(reference_files, tmp_path):
    checkpoint, _ = reference_files
    state = read_reference_state(checkpoint)
    extra = dict(state, **{"mystery.weight": torch.zeros(3)})
    torch.save({"state_dict": extra}, tmp_path / "extra.pth")
    with pytest.raises(ModelFileError, match="unexpected parameter.*mystery.weight"):
        load_reference_checkpoint(tmp_path / "extra.pth", num_classes=6)
    fewer = {k: v for k, v in state.items() if k != "eca.conv.weight"}
    torch.save(fewer, tmp_path / "fewer.pth")
    with pytest.raises(ModelFileError, match="missing parameter.*channel_attention.conv.weight"):
        load_reference_checkpoint(tmp_path / "fewer.pth", num_classes=6)


def test_truncated_file(reference_files, tmp_path):
    checkpoint, _ = reference_files
    data = checkpoint.read_bytes()
    broken = tmp_path / "truncated.pth.tar"
    broken.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="damaged, truncated"):
        load_reference_checkpoint(broken, num_classes=6)


def test_missing_file(tmp_path):
    with pytest.raises(ModelFileError, match="not found"):
        load_reference_checkpoint(tmp_path / "nothing.pth", num_classes=6)


class _Payload:
    """Unpickling this would create the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('ran')",))


def test_hostile_pickle_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "code-ran"
    hostile = tmp_path / "hostile.pth"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "extra": _Payload(marker)}, hostile)
    assert zipfile.is_zipfile(hostile)
    with pytest.raises(ModelFileError, match=r"refused.*contains (builtins\.)?exec\b"):
        load_reference_checkpoint(hostile, num_classes=6)
    assert not marker.exists()
    # An unsafe loader runs it: the payload is real (it only writes the marker in tmp_path).
    with zipfile.ZipFile(hostile) as archive:
        name = next(n for n in archive.namelist() if n.endswith("data.pkl"))
        raw = archive.read(name)
    assert b"exec" in raw
    torch.load(hostile, weights_only=False)  # what an unsafe loader does with the same file
    assert marker.read_text() == "ran"


def test_safe_globals_are_scoped(reference_files):
    checkpoint, _ = reference_files
    load_reference_checkpoint(checkpoint, num_classes=6)  # torch registers its own defaults lazily
    before = {str(g) for g in torch.serialization.get_safe_globals()}  # torch keeps no fixed order
    load_reference_checkpoint(checkpoint, num_classes=6)
    after = {str(g) for g in torch.serialization.get_safe_globals()}
    assert after == before
    assert not any("numpy" in str(g) for g in after)
