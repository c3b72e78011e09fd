"""Ensembles: the mean of the networks' probabilities, in one model file, trained network by network."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from ncglf2.core import ModelFileError
from ncglf2.core.errors import InputError
from ncglf2.core.io.labels import ClassTable
from ncglf2.core.io.model_file import ModelBundle, load_model, save_model
from ncglf2.core.nn.ensemble import Ensemble
from ncglf2.core.nn.model import NCGLF2, NetworkConfig
from ncglf2.core.nn.preprocessing import Preprocessing
from ncglf2.core.pipeline.inference import predict_patches
from ncglf2.core.pipeline.sampling import member_seed
from ncglf2.core.pipeline.training import TensorPatches, fit_ensemble, fit_network, fit_own_splits
from ncglf2.core.requests import MAX_MEMBERS, TrainingParameters

CONFIG = NetworkConfig(num_classes=3, patch_size=5, hsi_channels=4, lidar_channels=1, width=8, depth=1, heads=2)
SIZES = {"patch_size": 5, "pca_components": 4, "width": 8, "depth": 1, "heads": 2, "device": "cpu"}
CLASSES = ClassTable([1, 2, 5], ["water", "trees", "roads"], [(0, 0, 255), (0, 128, 0), (128, 128, 128)])


def _members(count: int) -> list[NCGLF2]:
    members = []
    for seed in range(count):
        torch.manual_seed(seed)
        network = NCGLF2(CONFIG).train()
        with torch.no_grad():
            network(torch.randn(16, 5, 5, 5))  # batch-norm statistics that moved
        members.append(network.eval())
    return members


def _preprocessing() -> Preprocessing:
    rng = np.random.default_rng(0)
    axes, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    return Preprocessing(
        hsi_mean=rng.uniform(100, 1000, 6),
        components=axes[:4],
        explained_variance=np.array([9.0, 5.0, 2.0, 1.0]),
        channel_mean=rng.normal(0, 0.1, 5),
        channel_std=rng.uniform(0.5, 2, 5),
        pixel_count=500,
    )


def _data(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 3
    return torch.randn(n, 5, 5, 5, generator=generator) + y[:, None, None, None].float(), y


def test_the_ensemble_predicts_the_mean_of_its_networks_probabilities():
    members = _members(3)
    patches = torch.randn(20, 5, 5, 5, generator=torch.Generator().manual_seed(9))
    with torch.no_grad():
        expected = torch.stack([predict_patches(m, patches) for m in members]).mean(0)
        got = predict_patches(Ensemble(members).eval(), patches)
    assert torch.allclose(got, expected, atol=1e-6, rtol=0)
    assert not torch.allclose(got, predict_patches(members[0], patches), atol=1e-3)


def test_an_ensemble_needs_two_networks_of_one_configuration():
    with pytest.raises(ValueError, match="2 to"):
        Ensemble(_members(1))
    other = NCGLF2(
        NetworkConfig(num_classes=4, patch_size=5, hsi_channels=4, lidar_channels=1, width=8, depth=1, heads=2)
    )
    with pytest.raises(ValueError, match="one configuration"):
        Ensemble([*_members(1), other])


def test_an_ensemble_model_file_round_trips_every_network(tmp_path):
    path = tmp_path / "ensemble.ncglf2"
    save_model(path, ModelBundle(Ensemble(_members(2)), _preprocessing(), CLASSES))
    with safe_open(str(path), framework="pt") as archive:
        header = json.loads(archive.metadata()["ncglf2"])
        keys = set(archive.keys())
    assert header["format_version"] == 3 and header["ensemble"] == {"members": 2}
    assert {k.split(".")[2] for k in keys if k.startswith("network.members.")} == {"0", "1"}
    bundle = load_model(path)
    assert bundle.members == 2
    patches = torch.randn(8, 5, 5, 5, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        assert torch.equal(
            predict_patches(bundle.network, patches), predict_patches(Ensemble(_members(2)).eval(), patches)
        )


def test_a_single_network_is_still_written_in_the_oldest_format_that_holds_it(tmp_path):
    path = save_model(tmp_path / "one.ncglf2", ModelBundle(_members(1)[0], _preprocessing(), CLASSES))
    with safe_open(str(path), framework="pt") as archive:
        header = json.loads(archive.metadata()["ncglf2"])
    assert header["format_version"] == 1 and "ensemble" not in header
    assert load_model(path).members == 1


@pytest.mark.parametrize(
    ("members", "message"),
    [
        (3, "missing tensor"),
        (1, "ensemble.members"),
        (MAX_MEMBERS + 1, "ensemble.members"),
        (10**9, "ensemble.members"),
    ],
)
def test_an_ensemble_header_that_disagrees_with_its_tensors_is_refused(tmp_path, members, message):
    path = tmp_path / "ensemble.ncglf2"
    save_model(path, ModelBundle(Ensemble(_members(2)), _preprocessing(), CLASSES))
    with safe_open(str(path), framework="pt") as archive:
        header = json.loads(archive.metadata()["ncglf2"])
        tensors = {key: archive.get_tensor(key) for key in archive.keys()}
    header["ensemble"]["members"] = members
    save_file(tensors, str(path), metadata={"ncglf2": json.dumps(header)})
    with pytest.raises(ModelFileError, match=message):
        load_model(path)


def test_the_ensembles_first_network_is_the_single_network_of_its_seed():
    x, y = _data(40, 0)
    val_x, val_y = _data(20, 1)
    params = TrainingParameters(protocol="paper", epochs=3, batch_size=16, seed=4, **SIZES)
    single = fit_network(CONFIG, x, y, val_x, val_y, params)
    both = fit_ensemble(CONFIG, x, y, val_x, val_y, TrainingParameters(**{**params.to_dict(), "members": 2}))
    assert isinstance(both.network, Ensemble) and len(both.best_epochs) == 2
    first, second = (m.state_dict() for m in both.network.members)
    assert all(torch.equal(first[k], v) for k, v in single.network.state_dict().items())
    assert not all(torch.equal(first[k], second[k]) for k in first)
    with torch.no_grad():
        expected = predict_patches(both.network, val_x).argmax(1).numpy()
    assert np.array_equal(both.validation_predictions, expected)
    assert both.best_validation_accuracy == pytest.approx(float((expected == val_y.numpy()).mean()))


def test_an_ensembles_validation_is_the_mean_of_the_networks_that_validated_each_pixel():
    x, y = _data(60, 0)
    val_x, val_y = _data(30, 1)
    splits = [(np.arange(0, 40), np.arange(0, 18)), (np.arange(20, 60), np.arange(12, 30))]  # 12-17: both
    params = TrainingParameters(protocol="paper", epochs=3, batch_size=16, seed=2, members=2, **SIZES)
    fit = fit_own_splits(CONFIG, TensorPatches(x), y, TensorPatches(val_x), val_y, splits, params)
    assert isinstance(fit.network, Ensemble) and len(fit.best_epochs) == 2
    first = fit_network(CONFIG, x[:40], y[:40], val_x[:18], val_y[:18], params)  # network 1 alone, seed kept
    assert all(torch.equal(first.network.state_dict()[k], v) for k, v in fit.network.members[0].state_dict().items())
    with torch.no_grad():
        one, two = (predict_patches(m, val_x) for m in fit.network.members)
    expected = torch.cat([one[:12], one[12:18] + two[12:18], two[18:]]).argmax(1).numpy()
    assert fit.validation_predictions is not None
    assert np.array_equal(fit.validation_predictions, expected)
    assert fit.best_validation_accuracy == pytest.approx(float((expected == val_y.numpy()).mean()))


def test_the_networks_of_nearby_seeds_never_share_a_seed():
    seeds = [member_seed(seed, member) for seed in range(16) for member in range(MAX_MEMBERS)]
    assert len(set(seeds)) == len(seeds)


@pytest.mark.parametrize("members", [0, MAX_MEMBERS + 1, 2.5, True])
def test_an_impossible_number_of_networks_is_refused(members):
    with pytest.raises(InputError, match="members"):
        TrainingParameters(members=members)
