"""``ncglf2 bench``: how fast the network and the whole pipeline run on this machine.

Figures: inference patches/s at the paper's sizes (P 11, 40 + 1 channels,
15 classes) for the best batch size, effective GFLOP/s against the model's
FLOP count, training seconds per epoch of the paper protocol (20 samples x
15 classes, batch 64), and end-to-end classification pixels/s of a
generated scene (read + preprocess + infer + write) with peak memory.
"""

from __future__ import annotations

import os
import platform
import resource
import tempfile
import time

import numpy as np
import torch

from ..nn.model import NCGLF2, NetworkConfig
from ..pipeline.training import training_loss
from ..requests import TrainingParameters

__all__ = ["run_bench", "count_flops", "hardware_description"]

PAPER = NetworkConfig(num_classes=15, patch_size=11, hsi_channels=40, lidar_channels=1)
PAPER_TRAINING = TrainingParameters()  # the paper's loss weights
PUBLISHED_FLOPS = 188e6  # per patch, the reference computation at these sizes


def hardware_description(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA {torch.version.cuda})"
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{name}, {os.cpu_count()} logical cores"


def count_flops(config: NetworkConfig = PAPER) -> float:
    """FLOPs of one patch's forward pass (multiply-add = 2), counted by torch."""
    from torch.utils.flop_counter import FlopCounterMode

    from ..nn.native import torch_only

    network = NCGLF2(config).eval()
    x = torch.randn(4, config.in_channels, config.patch_size, config.patch_size)
    # torch cannot see inside the native kernels or fused primitives: count the same maths through its own operators.
    with torch.no_grad(), torch_only(), FlopCounterMode(display=False) as counter:
        network(x)
    return counter.get_total_flops() / 4


def _rate(fn, items: int, seconds: float) -> float:
    fn()  # warm-up
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    done, started = 0, time.perf_counter()
    while True:
        fn()
        done += items
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return done / elapsed


def inference_rates(device: torch.device, precision: str, batch_sizes, seconds: float) -> dict[int, float]:
    from ..pipeline.inference import predict_patches, prepare_network

    torch.manual_seed(0)
    network = prepare_network(NCGLF2(PAPER), device, precision)
    rates = {}
    for batch in batch_sizes:
        x = torch.randn(batch, PAPER.in_channels, 11, 11, device=device)
        with torch.inference_mode():
            rates[batch] = _rate(lambda x=x: predict_patches(network, x), batch, seconds)
    return rates


def shared_folder() -> str:
    """The project's shared files (reference checkpoint): ``$NCGLF2_SHARED``, else ``shared/`` beside the checkout."""
    plugin_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return os.environ.get("NCGLF2_SHARED") or os.path.join(os.path.dirname(plugin_root), "shared")


def bf16_agreement(device: torch.device, demo_dir: str = "demo_output") -> list[tuple[float, str]]:
    """Share of float32 labels that bfloat16 keeps: on the demo's trained model and scene
    (when ``make demo`` has run) and on the reference checkpoint's own inputs (when present)."""
    from ..pipeline.inference import predict_patches, prepare_network

    results = []
    model_path = os.path.join(demo_dir, "model.ncglf2")
    if os.path.isfile(model_path) and os.path.isfile(os.path.join(demo_dir, "hsi.tif")):
        from ..io.model_file import load_model
        from ..io.stack import open_inputs
        from ..pipeline.tiling import Tile, cut_patches, read_tile_features

        bundle = load_model(model_path)
        p = bundle.config.patch_size
        with open_inputs(os.path.join(demo_dir, "hsi.tif"), [os.path.join(demo_dir, "dsm.tif")]) as stack:
            tile = Tile(0, 0, min(160, stack.grid.width), min(160, stack.grid.height))
            features, valid = read_tile_features(stack, bundle.preprocessing, tile, p // 2)
        rows, cols = (torch.from_numpy(a) for a in np.nonzero(valid))
        x = cut_patches(torch.from_numpy(features), rows, cols, p)
        labels = []
        for precision in ("float32", "bfloat16"):
            network = prepare_network(bundle.network, device, precision)
            with torch.inference_mode():
                labels.append(
                    torch.cat(
                        [
                            predict_patches(network, x[i : i + 256].to(device)).argmax(1).cpu()
                            for i in range(0, len(x), 256)
                        ]
                    )
                )
        results.append((float((labels[0] == labels[1]).float().mean()), f"demo model on {len(x)} demo-scene pixels"))
    reference = os.path.join(shared_folder(), "reference")
    checkpoint = os.path.join(reference, "upstream_trento_best_model.pth.tar")
    vectors = os.path.join(reference, "ref_trento_checkpoint.npz")
    if os.path.isfile(checkpoint) and os.path.isfile(vectors):
        from ..nn.checkpoint import load_reference_checkpoint

        network = load_reference_checkpoint(checkpoint, 6)
        data = np.load(vectors)
        for name in ("smooth", "random"):
            x = torch.from_numpy(data[f"inputs_{name}"]).float().to(device)
            with torch.inference_mode():
                full = predict_patches(prepare_network(network, device, "float32"), x).argmax(1)
                half = predict_patches(prepare_network(network, device, "bfloat16"), x).argmax(1)
            results.append(
                (float((full == half).float().mean()), f"reference checkpoint on its {len(x)} {name} inputs")
            )
    return results


def training_epoch_seconds(device: torch.device, epochs: int) -> float:
    """Seconds per epoch: 300 patches (20 x 15 classes), batch 64, Adam, focal + consistency loss."""
    torch.manual_seed(0)
    network = NCGLF2(PAPER).to(device).train()
    optimiser = torch.optim.Adam(network.parameters(), lr=1e-4)
    x = torch.randn(300, 41, 11, 11, device=device)
    y = torch.arange(300, device=device) % 15
    times = []
    for _ in range(epochs + 1):
        started = time.perf_counter()
        order = torch.randperm(300, device=device)
        for s in range(0, 300, 64):
            index = order[s : s + 64]
            logits, consistency = network(x[index])
            loss = training_loss(logits, y[index], consistency, PAPER_TRAINING)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - started)
    return float(np.median(times[1:]))


def bench_scene(folder: str, size: tuple[int, int], bands: int) -> tuple[str, str]:
    """A generated HSI (tiled, compressed, ``bands`` bands) and DSM of ``size`` (rows, columns) in ``folder``."""
    from osgeo import gdal

    height, width = size
    rng = np.random.default_rng(0)
    hsi_path, dsm_path = os.path.join(folder, "hsi.tif"), os.path.join(folder, "dsm.tif")
    options = ["TILED=YES", "COMPRESS=DEFLATE", "INTERLEAVE=BAND"]
    hsi = gdal.GetDriverByName("GTiff").Create(hsi_path, width, height, bands, gdal.GDT_UInt16, options)
    base = rng.integers(500, 5000, size=(bands, 1, width), dtype=np.uint16)
    for b in range(bands):
        hsi.GetRasterBand(b + 1).WriteArray(
            np.repeat(base[b], height, axis=0) + rng.integers(0, 300, (height, width), dtype=np.uint16)
        )
    hsi = None
    dsm = gdal.GetDriverByName("GTiff").Create(dsm_path, width, height, 1, gdal.GDT_Float32, options)
    dsm.GetRasterBand(1).WriteArray(rng.random((height, width), dtype=np.float32) * 20)
    dsm = None
    return hsi_path, dsm_path


def end_to_end(
    device: torch.device, size: tuple[int, int], bands: int, precision: str
) -> tuple[float, float, int, int]:
    """(pixels/s, seconds, peak RSS in MB, its growth over the start) of classifying a generated scene from files to files."""
    from ..io.labels import ClassTable
    from ..io.model_file import ModelBundle
    from ..io.stack import open_inputs
    from ..pipeline.inference import classify_raster
    from ..pipeline.preprocess import fit_preprocessing

    with tempfile.TemporaryDirectory(prefix="ncglf2-bench-") as folder:
        hsi_path, dsm_path = bench_scene(folder, size, bands)
        torch.manual_seed(0)
        _reset_peak_rss()
        before = _status_mb("VmRSS")
        with open_inputs(hsi_path, [dsm_path]) as stack:
            prep = fit_preprocessing(stack, 40)
            classes = ClassTable(list(range(1, 16)), [f"c{i}" for i in range(15)], [(0, 0, 0)] * 15)
            bundle = ModelBundle(NCGLF2(PAPER).eval(), prep, classes)
            result = classify_raster(
                bundle, stack, os.path.join(folder, "out.tif"), device=str(device), precision=precision
            )
        peak = _status_mb("VmHWM")
    return result.pixels / result.seconds, result.seconds, int(peak), int(peak - before)


def _no_op(value: int) -> int:
    """A task that does nothing: its round trip is what the cluster itself costs per tile."""
    return value


def dask_figures(size: tuple[int, int], bands: int, tile_size: int, workers: int = 2, rounds: int = 100) -> dict:
    """Tiles per second of one generated scene classified in this process and on a LocalCluster of ``workers``
    processes of one thread (warm: the workers hold the model), and the cluster's own cost per tile: the round
    trip of a task that does nothing, one at a time and many in flight, and of a 1-pixel tile."""
    import dataclasses

    from ..io.labels import ClassTable
    from ..io.model_file import ModelBundle, save_model
    from ..io.stack import open_inputs
    from ..jobs import classify
    from ..pipeline.cluster import import_distributed
    from ..pipeline.preprocess import fit_preprocessing
    from ..pipeline.tile_job import classify_window
    from ..pipeline.tiling import Tile, tile_windows
    from ..requests import ClassifyRequest

    distributed = import_distributed()
    with tempfile.TemporaryDirectory(prefix="ncglf2-bench-dask-") as folder:
        hsi, dsm = bench_scene(folder, size, bands)
        with open_inputs(hsi, [dsm]) as stack:
            preprocessing = fit_preprocessing(stack, 40)
            tiles = len(tile_windows((0, 0, size[1], size[0]), tile_size, stack.grid.block_size))
        torch.manual_seed(0)
        classes = ClassTable(list(range(1, 16)), [f"c{i}" for i in range(15)], [(0, 0, 0)] * 15)
        model = save_model(
            os.path.join(folder, "bench.ncglf2"), ModelBundle(NCGLF2(PAPER).eval(), preprocessing, classes)
        )
        request = ClassifyRequest(
            model=model, hsi=hsi, lidar=[dsm], out=os.path.join(folder, "here.tif"), device="cpu", tile_size=tile_size
        )
        here = classify(request)
        with (
            distributed.LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
            ) as cluster,
            distributed.Client(cluster) as client,
        ):
            classify(dataclasses.replace(request, out=os.path.join(folder, "warm.tif")), client=client)
            spread = classify(dataclasses.replace(request, out=os.path.join(folder, "spread.tif")), client=client)
            started = time.perf_counter()
            for i in range(rounds):
                client.submit(_no_op, i, pure=False).result()
            one_by_one = (time.perf_counter() - started) / rounds
            started = time.perf_counter()
            client.gather(client.map(_no_op, range(10 * rounds), pure=False))
            in_flight = (time.perf_counter() - started) / (10 * rounds)
            started = time.perf_counter()
            for i in range(rounds // 4):
                client.submit(classify_window, request, Tile(i % size[1], 0, 1, 1), pure=False).result()
            pixel_tile = (time.perf_counter() - started) / (rounds // 4)
    return {
        "tiles": tiles,
        "tiles_per_s_here": tiles / here.seconds,
        "tiles_per_s_cluster": tiles / spread.seconds,
        "task_round_trip_s": one_by_one,
        "task_overhead_in_flight_s": in_flight,
        "pixel_tile_round_trip_s": pixel_tile,
    }


def tile_write_seconds(tile_size: int = 256, tiles: int = 16, classes: int = 15) -> tuple[float, float]:
    """Seconds the run's one writer spends per tile of ``tile_size`` pixels on a side: (class map and
    confidence, the same with the probability of each of ``classes`` classes): the client's share of a
    distributed run, which does not shrink with more workers."""
    from ..io.grid import Grid
    from ..io.labels import ClassTable
    from ..io.model_file import ModelBundle
    from ..pipeline.inference import _TileOutputs
    from ..pipeline.tiling import Tile

    side = tile_size * int(np.ceil(np.sqrt(tiles)))
    grid = Grid(side, side, (0.0, 1.0, 0.0, float(side), 0.0, -1.0), "")
    table = ClassTable(list(range(1, classes + 1)), [f"c{i}" for i in range(classes)], [(0, 0, 0)] * classes)
    bundle = ModelBundle(NCGLF2(PAPER).eval(), None, table)  # type: ignore[arg-type]  # only its classes are read
    rng = np.random.default_rng(0)
    labels = rng.integers(1, classes + 1, (tile_size, tile_size)).astype(np.uint8)
    probabilities = rng.dirichlet(np.ones(classes), (tile_size, tile_size)).astype(np.float32).transpose(2, 0, 1)
    seconds = []
    with tempfile.TemporaryDirectory(prefix="ncglf2-bench-write-") as folder:
        for with_probabilities in (False, True):
            name = os.path.join(folder, f"map{int(with_probabilities)}")
            outputs = _TileOutputs(
                name + ".tif",
                name + "_confidence.tif",
                name + "_probabilities.tif" if with_probabilities else None,
                grid,
                "uint8",
                bundle,
                origin=(0, 0),
            )
            started = time.perf_counter()
            for index in range(tiles):
                y, x = divmod(index, side // tile_size)
                tile = Tile(x * tile_size, y * tile_size, tile_size, tile_size)
                outputs.write(tile, labels, probabilities.max(0), probabilities if with_probabilities else None)
            outputs.close()
            seconds.append((time.perf_counter() - started) / tiles)
    return seconds[0], seconds[1]


def _reset_peak_rss() -> None:
    """Start a new peak-memory window (Linux: writing 5 to clear_refs resets VmHWM)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
            refs.write("5")
    except OSError:
        pass


def _status_mb(field: str) -> float:
    """A memory figure of /proc/self/status in MB (VmHWM: peak since the last reset)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_bench(quick: bool = False, device: str = "all") -> dict:
    """Print the figures for the CPU, and for CUDA when present."""
    devices = []
    if device in ("all", "cpu"):
        devices.append(torch.device("cpu"))
    if device in ("all", "cuda") and torch.cuda.is_available():
        devices.append(torch.device("cuda"))
    executed = count_flops()
    flops = PUBLISHED_FLOPS
    seconds = 1.0 if quick else 4.0
    results = {}
    import datetime
    import socket

    stamp = datetime.datetime.now().astimezone().isoformat(timespec="minutes")
    print(
        f"NCGLF2 benchmark - {stamp} on {socket.gethostname()}; torch {torch.__version__}, "
        f"{torch.get_num_threads()} CPU threads"
    )
    print("absolute figures hold for this host only; the ratios compare runs on it in this same run")
    print(
        f"network at P 11, 40 + 1 channels, 15 classes: {flops / 1e6:.0f} MFLOP per patch as published "
        f"(effective GFLOP/s below use it); this implementation executes {executed / 1e6:.0f} MFLOP"
    )
    for dev in devices:
        print(f"\n[{dev.type}] {hardware_description(dev)}")
        figures = {}
        cpu = dev.type == "cpu"
        if cpu:
            from ..nn.native import kernel_status

            print(f"CPU kernels: {kernel_status()}")
        batches: tuple[int, ...] = (32, 64, 128, 256) if cpu else (1024, 4096, 8192, 16384)
        if quick:
            batches = batches[:2]
        for precision in ("float32", "bfloat16"):
            rates = inference_rates(dev, precision, batches, seconds)
            if precision == "float32":
                rates32 = rates
            best = max(rates, key=lambda b: rates[b])
            figures[f"inference_{precision}"] = rates[best]
            listing = ", ".join(f"{b}: {r:,.0f}" for b, r in rates.items())
            print(
                f"inference {precision:8s}: {rates[best]:9,.0f} patches/s at batch {best} "
                f"({rates[best] * flops / 1e9:,.0f} GFLOP/s effective)   [by batch: {listing}]"
            )
        if cpu:
            from ..nn.native import torch_only

            best32 = max(rates32, key=lambda b: rates32[b])
            with torch_only():
                plain = inference_rates(dev, "float32", (best32,), seconds)[best32]
            figures["inference_float32_plain_torch"] = plain
            print(
                f"inference float32 through plain PyTorch operators (no native kernels or fusions): {plain:,.0f} "
                f"patches/s at batch {best32}; the native paths are {rates32[best32] / plain:.2f}x, bfloat16 "
                f"{figures['inference_bfloat16'] / plain:.2f}x that"
            )
        for agreement, source in bf16_agreement(dev):
            figures.setdefault("bf16_agreement", agreement)
            print(f"bfloat16 labels equal to float32: {100 * agreement:.2f} % ({source})")
        epoch = training_epoch_seconds(dev, 1 if quick else 3)
        figures["train_epoch_s"] = epoch
        print(
            f"training, paper protocol (300 patches, batch 64): {epoch:.2f} s per epoch, {80 * epoch:.0f} s for 80 epochs"
        )
        size = (128, 128) if quick else ((256, 256) if cpu else (349, 1905))
        bands = 64 if cpu else 144
        for precision in ("float32", "bfloat16"):
            if precision == "bfloat16" and figures["inference_bfloat16"] < 0.5 * figures["inference_float32"]:
                # Emulated bfloat16 (no AVX512-BF16 or AMX): the scene would take half an hour to say so.
                print("end to end bfloat16: left out, bfloat16 inference is under half of float32's on this device")
                continue
            rate, took, peak, growth = end_to_end(dev, size, bands, precision)
            figures[f"end_to_end_{precision}"] = rate
            print(
                f"end to end {precision:8s}: {rate:9,.0f} pixels/s ({size[0]} x {size[1]} x {bands} bands, {took:.1f} s incl. "
                f"read/preprocess/write; {100 * rate / figures[f'inference_{precision}']:.0f} % of model-only); "
                f"peak RSS {peak} MB, {growth:+d} MB over the process before the run"
            )
        if cpu:
            _print_dask_row(figures, quick)
        results[dev.type] = figures
    return results


def _print_dask_row(figures: dict, quick: bool) -> None:
    """The tile-parallel row: this process against a LocalCluster of 2 worker processes, and the cost per tile."""
    import importlib.util

    if importlib.util.find_spec("distributed") is None:
        print('Dask: not installed here (pip install "dask[distributed]"); no tile-parallel figures')
        return
    size, tile = ((64, 64), 32) if quick else ((128, 128), 32)
    dask = dask_figures(size, 64, tile, rounds=40 if quick else 200)
    dask["write_s"], dask["write_with_probabilities_s"] = tile_write_seconds(tiles=4 if quick else 16)
    figures.update({f"dask_{key}": value for key, value in dask.items()})
    print(
        f"tiles of {tile} x {tile} ({dask['tiles']} of a {size[0]} x {size[1]} x 64-band scene): "
        f"{dask['tiles_per_s_here']:.2f} tiles/s in this process, {dask['tiles_per_s_cluster']:.2f} tiles/s on "
        f"Dask local:2 (2 processes x 1 thread, warm); per tile the cluster costs "
        f"{1000 * dask['task_round_trip_s']:.1f} ms for a no-op round trip one at a time, "
        f"{1000 * dask['task_overhead_in_flight_s']:.2f} ms with many in flight, "
        f"{1000 * dask['pixel_tile_round_trip_s']:.1f} ms for a 1-pixel tile (read, network, result); "
        f"the one writer takes {1000 * dask['write_s']:.1f} ms per 256 x 256 tile of class map and confidence, "
        f"{1000 * dask['write_with_probabilities_s']:.1f} ms with 15 probability bands"
    )
