"""Job requests: frozen, keyword-only, checked once with the parameter's name, and a lossless JSON round trip."""

import dataclasses
import json
import math
import subprocess
import sys

import pytest

from ncglf2.core import InputError
from ncglf2.core.requests import (
    DEFAULT_TILE_SIZE,
    AssessRequest,
    ClassifyRequest,
    ImportRequest,
    TrainingParameters,
    TrainRequest,
    request_from_json,
)

EXAMPLES = [
    TrainRequest(
        hsi="h.tif",
        lidar=["d.tif", "i.tif"],
        labels="l.gpkg",
        out="m.ncglf2",
        class_field="class",
        report="r.html",
        labels_layer="samples",
        params=TrainingParameters(
            epochs=5, samples_per_class=None, learning_rate=3e-4, device="cuda:1", validation_split="random"
        ),
    ),
    ClassifyRequest(
        model="m.ncglf2",
        hsi="h.tif",
        lidar=["d.tif"],
        out="c.tif",
        confidence="k.tif",
        extent=(1.5, 2.0, 10.25, 20.0),
        batch_size=512,
        precision="bfloat16",
        format="COG",
        margin="g.tif",
        tta=True,
        overwrite=True,
    ),
    AssessRequest(
        classification="c.tif",
        reference="t.gpkg",
        out_html="a.html",
        json_path="a.json",
        class_field="kind",
        reference_layer="points",
        model="m.ncglf2",
    ),
    ImportRequest(
        checkpoint="best.pth.tar",
        hsi="h.tif",
        lidar=["d.tif"],
        num_classes=6,
        out="t.ncglf2",
        class_csv="classes.csv",
        seed=3,
    ),
]


@pytest.mark.parametrize("request_", EXAMPLES, ids=lambda r: r.JOB)
def test_json_round_trip_gives_the_same_request(request_):
    text = request_.to_json()
    assert json.loads(text)["job"] == request_.JOB
    assert type(request_).from_json(text) == request_
    assert request_from_json(text) == request_
    assert hash(request_) == hash(request_from_json(text))  # frozen all the way down


def test_the_validation_split_travels_as_json_and_defaults_to_spatial():
    assert TrainingParameters().validation_split == "spatial"
    request = EXAMPLES[0]
    data = json.loads(request.to_json())
    assert data["params"]["validation_split"] == "random"
    assert request_from_json(request.to_json()).params.validation_split == "random"
    data["params"]["validation_split"] = "checkerboard"
    with pytest.raises(InputError, match="validation split must be one of spatial, random"):
        request_from_json(json.dumps(data))


def test_requests_are_frozen_and_keyword_only():
    request = EXAMPLES[1]
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.out = "other.tif"
    with pytest.raises(TypeError):
        ClassifyRequest("m.ncglf2", "h.tif", ["d.tif"], "c.tif")
    assert request.lidar == ("d.tif",) and request.tile_size == DEFAULT_TILE_SIZE


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: TrainingParameters(epochs=0), "epochs must be at least 1"),
        (lambda: TrainingParameters(learning_rate=math.nan), "learning rate must be a finite number"),
        (lambda: TrainingParameters(learning_rate=-1e-3), "learning rate must be positive"),
        (lambda: TrainingParameters(seed=-1), "seed must be between 0"),
        (lambda: TrainingParameters(batch_size=1), "batch size must be at least 2"),
        (lambda: TrainingParameters(patch_size=10), "patch size must be odd"),
        (lambda: TrainingParameters(epochs=2.5), "epochs must be a whole number"),
        (lambda: TrainingParameters(device="tpu"), "device must be one of auto, cpu, cuda"),
        (
            lambda: TrainingParameters(validation_split="blocks"),
            r"validation split must be one of spatial, random \(got 'blocks'\)",
        ),
        (lambda: TrainRequest(hsi="h.tif", lidar=[], labels="l.tif", out="m.ncglf2"), "at least one LiDAR raster"),
        (lambda: TrainRequest(hsi="", lidar=["d.tif"], labels="l.tif", out="m.ncglf2"), "hsi must be a file path"),
        (lambda: ClassifyRequest(model="m", hsi="h", lidar=["d"], out="c", tile_size=0), "tile size must be"),
        (lambda: ClassifyRequest(model="m", hsi="h", lidar=["d"], out="c", batch_size=0), "batch size must be"),
        (
            lambda: ClassifyRequest(model="m", hsi="h", lidar=["d"], out="c", precision="int8"),
            "precision must be one of",
        ),
        (
            lambda: ClassifyRequest(model="m", hsi="h", lidar=["d"], out="c", format="cog"),
            r"output format must be one of GTiff, COG \(got 'cog'\)",
        ),
        (lambda: ClassifyRequest(model="m", hsi="h", lidar=["d"], out="c", extent=(0, 0, 0, 5)), "is empty"),
        (lambda: ClassifyRequest(model="m", hsi="h", lidar=["d"], out="c", extent=(0, 0, math.inf, 5)), "four finite"),
        (lambda: ImportRequest(checkpoint="c", hsi="h", lidar=["d"], num_classes=1, out="o"), "number of classes"),
        (lambda: AssessRequest(classification="c", reference="r", out_html=""), "HTML report must be a file path"),
        (
            lambda: AssessRequest(classification="c", reference="r", out_html="a", model=" "),
            "model must be a file path",
        ),
        (lambda: ClassifyRequest(model="m", hsi="h", lidar=["d"], out="c", margin=""), "margin output must be"),
        (lambda: ClassifyRequest(model="m", hsi="h", lidar=["d"], out="c", tta="yes"), "tta must be true or false"),
    ],
)
def test_bad_values_are_refused_with_the_parameters_name(make, message):
    with pytest.raises(InputError, match=message):
        make()


@pytest.mark.parametrize(
    "address", ["local:1", "local:64", "tcp://scheduler:8786", "tls://10.0.0.7:8786", "tcp://[::1]:8786", None]
)
def test_dask_takes_a_local_cluster_or_a_scheduler_address(address):
    request = ClassifyRequest(model="m", hsi="h", lidar=["d"], out="c", dask=address)
    assert type(request).from_json(request.to_json()).dask == address


@pytest.mark.parametrize(
    "address",
    ["local:0", "local:", "local:two", "local:-1", "tcp://scheduler", "http://scheduler:8786", "tcp://h:0",
     "tcp://h:70000", "scheduler:8786", "tcp://a b:1", "", 4],
)  # fmt: skip
def test_dask_refuses_anything_else_with_the_forms_it_takes(address):
    with pytest.raises(InputError, match=r"dask must be local:N .* tcp://host:port or tls://host:port \(got "):
        ClassifyRequest(model="m", hsi="h", lidar=["d"], out="c", dask=address)


def test_bad_json_is_refused_clearly():
    with pytest.raises(InputError, match="not valid JSON"):
        ClassifyRequest.from_json("{not json")
    with pytest.raises(InputError, match="must name its job"):
        request_from_json('{"job": "paint"}')
    with pytest.raises(InputError, match="has no field colour"):
        request_from_json('{"job": "assess", "classification": "c", "reference": "r", "out_html": "a", "colour": 1}')
    with pytest.raises(InputError, match="cannot be read from a 'train' request"):
        ClassifyRequest.from_json(EXAMPLES[0].to_json())
    broken = json.loads(EXAMPLES[0].to_json())
    broken["params"]["epochs"] = -3
    with pytest.raises(InputError, match="epochs must be at least 1"):
        request_from_json(json.dumps(broken))


def test_requests_and_their_defaults_load_without_torch():
    code = "import sys; import ncglf2.core.requests as r; r.TrainingParameters(); print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
