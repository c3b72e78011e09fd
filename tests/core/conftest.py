import pytest
from scenes import build_tiny_scene, tiny_parameters

from ncglf2.core.jobs import train
from ncglf2.core.requests import TrainRequest


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """(scene, model path, folder): the tiny scene and a small model trained on it, shared by read-only tests."""
    folder = tmp_path_factory.mktemp("tiny_model")
    scene = build_tiny_scene(folder)
    model = str(folder / "model.ncglf2")
    train(TrainRequest(hsi=scene.hsi, lidar=[scene.dsm], labels=scene.labels, out=model, params=tiny_parameters()))
    return scene, model, folder
