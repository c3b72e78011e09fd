"""Classification streams: peak memory after 100 tiles equals that after 10; training's does not grow with labels."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from rasters import write_raster

SCRIPT = textwrap.dedent(
    """
    import json, resource, sys
    import numpy as np, torch
    from ncglf2.core.nn.model import NCGLF2, NetworkConfig
    from ncglf2.core.io.labels import ClassTable
    from ncglf2.core.io.model_file import ModelBundle
    from ncglf2.core.pipeline.preprocess import fit_preprocessing
    from ncglf2.core.io.stack import open_inputs
    from ncglf2.core.pipeline.inference import classify_raster

    hsi, dsm, out = sys.argv[1:4]
    torch.manual_seed(0)
    peaks = {}

    class Probe:
        tiles = 0
        def set_progress(self, percent):
            done = round(percent)  # 1 % per tile with 100 tiles
            if done in (10, 100):
                peaks[done] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        def is_canceled(self):
            return False
        def info(self, message):
            pass

    with open_inputs(hsi, [dsm]) as stack:
        prep = fit_preprocessing(stack, n_components=6)
        net = NCGLF2(NetworkConfig(num_classes=4, patch_size=5, hsi_channels=6, lidar_channels=1, width=16, depth=1)).eval()
        bundle = ModelBundle(net, prep, ClassTable([1, 2, 3, 4], list("abcd"), [(1, 2, 3)] * 4))
        classify_raster(bundle, stack, out, confidence=out + ".conf.tif", tile_size=40, batch_size=512, device="cpu", progress=Probe())
    print(json.dumps(peaks))
    """
)


@pytest.mark.slow
def test_peak_memory_is_flat(tmp_path):
    rng = np.random.default_rng(0)
    hsi = write_raster(tmp_path / "hsi.tif", (rng.random((16, 400, 400)) * 1000).astype(np.uint16))
    dsm = write_raster(tmp_path / "dsm.tif", rng.random((400, 400)).astype(np.float32))
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, hsi, dsm, str(tmp_path / "c.tif")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    peaks = json.loads(result.stdout.strip().splitlines()[-1])
    after_10, after_100 = peaks["10"], peaks["100"]
    assert after_100 <= after_10 * 1.03, f"peak RSS grew from {after_10} kB after 10 tiles to {after_100} kB after 100"


@pytest.mark.slow
def test_training_peak_memory_does_not_grow_with_labelled_pixels(tmp_path):
    from training_memory import measure

    few, many = measure([20_000, 200_000], folder=tmp_path)
    assert few["train_pixels"] == 17_000 and many["train_pixels"] == 169_999  # every labelled pixel but validation
    assert many["peak_rss_mb"] <= few["peak_rss_mb"] * 1.10, (
        f"peak RSS grew from {few['peak_rss_mb']:.0f} MB with 20 000 labelled pixels "
        f"to {many['peak_rss_mb']:.0f} MB with 200 000"
    )
