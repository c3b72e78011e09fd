"""Classification of rasters of any size, streamed tile by tile.

A reader thread reads and preprocesses the next tile while the network works
on the current one, and a writer thread stores finished tiles, so I/O overlaps
compute and memory stays bounded by a few tiles whatever the raster size.
Outputs go to temporary files that are renamed only when the run completes.
"""

from __future__ import annotations

import copy
import functools
import os
import queue
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from osgeo import gdal

from ..errors import InputError
from ..io.cog import CLASS_RESAMPLING, VALUE_RESAMPLING, write_cog
from ..io.model_file import ModelBundle
from ..io.outputs import OutputSet
from ..io.stack import WindowSource
from ..io.writers import checked_gdal_writes, close_datasets, create_geotiff, set_class_table, write_paletted_qml
from ..nn.allocator import keep_freed_memory
from ..nn.devices import resolve_device
from ..nn.symmetry import symmetry_average
from ..progress import Progress, SilentProgress, Throughput, check_canceled
from ..requests import OUTPUT_FORMATS, PRECISIONS
from .compatibility import input_mismatch, sample_pixels
from .tiling import Tile, cut_patches, read_tile_features, tile_windows

__all__ = [
    "classify_raster",
    "classify_tile",
    "TileResult",
    "ClassifyResult",
    "check_model_fits",
    "default_batch_size",
    "predict_patches",
    "patch_predictor",
]

FLOAT_NODATA = -1.0
DEFAULT_TILE_SIZE = 256


@dataclass
class ClassifyResult:
    classes: str
    style: str
    confidence: str | None
    probabilities: str | None
    pixels: int  # pixels classified
    seconds: float
    warnings: list[str] = field(default_factory=list)  # the inputs look unlike the training data
    margin: str | None = None


# Working memory of one 11 x 11 patch through the network in float32 (peak RSS growth
# for a batch of 1,024 on the CPU: about 850 KB), scaled with the patch area.
_BYTES_PER_PATCH = 900_000


def default_batch_size(device: torch.device, patch_size: int = 11) -> int:
    """Batches that keep a CPU's caches warm, or use about half of a GPU's free memory.

    On a GPU a batch that still runs out of memory is halved and redone (see BatchPlan).
    """
    if device.type != "cuda":
        return 64
    free, _ = torch.cuda.mem_get_info(device)
    per_patch = _BYTES_PER_PATCH * (patch_size / 11) ** 2
    size = int(free * 0.5 / per_patch)
    return max(256, min(16384, 1 << max(8, size.bit_length() - 1)))


def check_model_fits(bundle: ModelBundle, stack: WindowSource) -> None:
    """The rasters must have the band counts the model was trained on."""
    expected_hsi, expected_lidar = bundle.preprocessing.hsi_bands, bundle.config.lidar_channels
    if stack.hsi_bands != expected_hsi:
        raise InputError(
            f"the model expects an HSI with {expected_hsi} bands, but {stack.hsi_path} has {stack.hsi_bands}"
        )
    if stack.lidar_bands != expected_lidar:
        raise InputError(
            f"the model expects {expected_lidar} LiDAR channel(s), but the LiDAR raster(s) "
            f"{', '.join(stack.lidar_paths)} have {stack.lidar_bands} band(s) in all"
        )


def _background(items: Iterable, depth: int = 2) -> Generator:
    """Iterate ``items`` in a thread, ``depth`` ahead; exceptions reach the consumer."""
    box: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def run() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        box.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            box.put((done, None))
        except BaseException as error:  # handed to the consumer
            box.put((done, error))

    thread = threading.Thread(target=run, name="ncglf2-reader", daemon=True)
    thread.start()
    try:
        while True:
            item, error = box.get()
            if item is done:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                box.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.05)


class _Writer:
    """Writes finished tiles in a thread; ``close`` waits and re-raises its errors."""

    def __init__(self, write: Callable[..., None], depth: int = 2) -> None:
        self._write = write
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="ncglf2-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self._error is None:
                try:
                    self._write(*item)
                except BaseException as error:
                    self._error = error

    def put(self, *item) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(item)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error


def prepare_network(network: torch.nn.Module, device: torch.device, precision: str = "float32") -> torch.nn.Module:
    """The network in eval mode on ``device``; for bfloat16 a converted copy (the original is untouched)."""
    if precision not in PRECISIONS:
        raise InputError(f"precision must be one of {', '.join(PRECISIONS)} (got {precision!r})")
    if device.type == "cpu":
        keep_freed_memory()
    network = network.to(device).eval().to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    if precision == "bfloat16":
        network = copy.deepcopy(network).to(torch.bfloat16)
    return network


def predict_patches(network: torch.nn.Module, patches: torch.Tensor) -> torch.Tensor:
    """Class probabilities (N, K), float32, of patches on the network's device, in its precision."""
    dtype = next(network.parameters()).dtype
    logits, _ = network(patches.to(dtype))
    return torch.softmax(logits.float(), dim=1)


Predictor = Callable[[torch.Tensor], torch.Tensor]  # (N, C, P, P) patches -> (N, K) class probabilities


def patch_predictor(network: torch.nn.Module, tta: bool = False) -> Predictor:
    """The function from patches to class probabilities, chosen once per run: the network's softmax, or
    with ``tta`` its mean over the 8 symmetries of each patch (8 network calls per batch)."""
    if not tta:
        return functools.partial(predict_patches, network)
    return functools.partial(symmetry_average, functools.partial(predict_patches, network))


class BatchPlan:
    """The batch size in use; halved on a CUDA out-of-memory error and kept for later tiles."""

    def __init__(self, size: int, progress: Progress) -> None:
        self.size = size
        self.progress = progress

    def run(self, count: int, step: Callable[[slice], None]) -> None:
        """Call ``step`` on consecutive slices of ``count`` items; redo a slice that ran out of memory."""
        start = 0
        while start < count:
            check_canceled(self.progress)
            batch = slice(start, min(count, start + self.size))
            try:
                step(batch)
            except torch.OutOfMemoryError:
                if self.size <= 1:
                    raise
                self.size //= 2
                torch.cuda.empty_cache()
                self.progress.info(f"the GPU ran out of memory; retrying with batches of {self.size}")
                continue
            start = batch.stop


class _TileOutputs:
    """The output GeoTIFFs of one run, written tile by tile (from the writer thread), every write checked."""

    def __init__(
        self,
        classes: str,
        confidence: str | None,
        probabilities: str | None,
        grid,
        class_dtype: str,
        bundle: ModelBundle,
        origin: tuple[int, int],
        margin: str | None = None,
    ) -> None:
        self.origin = origin
        self.paths = {"classes": classes, "confidence": confidence, "probabilities": probabilities, "margin": margin}
        self.datasets: dict[str, gdal.Dataset] = {}
        # The band's name heads the class list in QGIS's legend.
        self.datasets[classes] = create_geotiff(classes, grid, 1, class_dtype, 0, ["land-cover class"])
        if class_dtype != "uint32":  # GeoTIFF colour tables stop at 16 bits; the .qml style still colours it
            set_class_table(self.datasets[classes], bundle.class_ids, bundle.class_names, bundle.class_colors)
        if confidence:
            self.datasets[confidence] = create_geotiff(
                confidence, grid, 1, "float32", FLOAT_NODATA, ["confidence (max probability)"]
            )
        if probabilities:
            self.datasets[probabilities] = create_geotiff(
                probabilities, grid, len(bundle.class_ids), "float32", FLOAT_NODATA, bundle.class_names
            )
        if margin:
            self.datasets[margin] = create_geotiff(
                margin, grid, 1, "float32", FLOAT_NODATA, ["margin (top-1 minus top-2 probability)"]
            )

    def write(
        self,
        tile: Tile,
        class_map: np.ndarray,
        conf: np.ndarray | None,
        probs: np.ndarray | None,
        margin: np.ndarray | None = None,
    ) -> None:
        x, y = tile.x - self.origin[0], tile.y - self.origin[1]
        outputs = (("classes", class_map), ("confidence", conf), ("probabilities", probs), ("margin", margin))
        for name, values in outputs:
            path = self.paths[name]
            if path is None or values is None:
                continue
            with checked_gdal_writes(path):
                dataset = self.datasets[path]
                if values.ndim == 2:
                    dataset.GetRasterBand(1).WriteArray(values, x, y)
                else:
                    dataset.WriteArray(values, x, y)

    def close(self) -> None:
        """Flush and close every file (GDAL writes the sidecars now, before the renames)."""
        close_datasets(self.datasets)


def output_sizes(
    pixels: int,
    class_dtype: str,
    classes: int,
    out: str,
    confidence: str | None,
    probabilities: str | None,
    margin: str | None = None,
    output_format: str = "GTiff",
) -> dict[str, tuple[int, int]]:
    """(at least, at most) bytes of each output raster, by path: DEFLATE may shrink it, never to nothing.

    Class maps compress well (large areas of one class), floats hardly; the
    lower bounds are what no real map goes below, so a refusal is never wrong.
    A COG is converted from a complete GeoTIFF, which stays until the copy is
    done: twice the room at least, plus a third of the copy for its overviews at most.
    """
    class_bytes = pixels * np.dtype(class_dtype).itemsize
    sizes = {out: (class_bytes // 64, class_bytes + 65536)}
    for single_band in (confidence, margin):
        if single_band:
            sizes[single_band] = (pixels, pixels * 4 + 65536)
    if probabilities:
        sizes[probabilities] = (pixels * classes, pixels * classes * 4 + 65536)
    if output_format == "COG":
        sizes = {path: (2 * low, high + high * 4 // 3) for path, (low, high) in sizes.items()}
    return sizes


def _raster_files(outputs: OutputSet, classes: str, output_format: str, progress: Progress) -> Callable[[str], str]:
    """The file each raster output is written to tile by tile: its temporary for a GeoTIFF; for a COG a
    working GeoTIFF that the output set converts into the temporary when the run has succeeded."""
    if output_format == "GTiff":
        return outputs.path

    def staged(final: str) -> str:
        resampling = CLASS_RESAMPLING if final == classes else VALUE_RESAMPLING

        def convert(working: str, temporary: str) -> None:
            progress.info(f"writing the Cloud Optimized GeoTIFF {final} (overviews: {resampling.lower()})")
            try:
                write_cog(working, temporary, resampling, canceled=progress.is_canceled)
            except OSError:
                check_canceled(progress)  # a stop asked for during the copy is a cancel, not a failure
                raise

        return outputs.stage(final, convert)

    return staged


def class_map_type(class_ids) -> str:
    """The narrowest unsigned type that holds every class id (0 means unclassified)."""
    top = int(max(class_ids))
    for dtype in ("uint8", "uint16", "uint32"):
        if top <= np.iinfo(dtype).max:
            return dtype
    raise InputError(f"class ids must be below 2^32 to be written into a class map (got {top})")


@dataclass
class TileResult:
    """One tile's outputs: class ids (0 where no data), and optionally confidence, class probabilities and margin."""

    classes: np.ndarray  # (H, W)
    confidence: np.ndarray | None  # (H, W), FLOAT_NODATA where no data
    probabilities: np.ndarray | None  # (K, H, W)
    pixels: int  # pixels classified
    margin: np.ndarray | None = None  # (H, W), FLOAT_NODATA where no data


#: Where a run's tiles are classified: called with every tile once all is checked and before any output is
#: written, it gives back each (tile, result) pair once, in any order.
TileResults = Callable[[list[Tile]], Iterator[tuple[Tile, TileResult]]]


def classify_tile(
    predict: Predictor,
    features: np.ndarray,
    valid: np.ndarray,
    lookup: torch.Tensor,
    patch_size: int,
    plan: BatchPlan,
    class_dtype: str,
    confidence: bool = False,
    probabilities: bool = False,
    on_batch: Callable[[float], None] | None = None,
    margin: bool = False,
) -> TileResult:
    """Classify the valid pixels of one tile from its preprocessed features (with their P//2 halo).

    ``predict`` is a :func:`patch_predictor`. ``features`` is (C, H + 2 halo,
    W + 2 halo), ``valid`` (H, W); ``lookup`` maps the network's class index to
    the class id, on the network's device. ``on_batch`` hears the share of the
    tile done after every batch.
    """
    height, width = valid.shape
    rows_np, cols_np = np.nonzero(valid)
    classes = np.zeros((height, width), dtype=class_dtype)
    conf = np.full((height, width), FLOAT_NODATA, np.float32) if confidence else None
    probs = np.full((int(lookup.numel()), height, width), FLOAT_NODATA, np.float32) if probabilities else None
    gaps = np.full((height, width), FLOAT_NODATA, np.float32) if margin else None
    count = rows_np.size
    if count == 0:
        return TileResult(classes, conf, probs, 0, gaps)
    device = lookup.device
    feature_tensor = torch.from_numpy(features).to(device, non_blocking=True)
    rows = torch.from_numpy(rows_np).to(device)
    cols = torch.from_numpy(cols_np).to(device)
    labels: list[torch.Tensor] = []
    maxima: list[torch.Tensor] = []
    all_probs: list[torch.Tensor] = []
    margins: list[torch.Tensor] = []

    def step(batch: slice) -> None:
        patches = cut_patches(feature_tensor, rows[batch], cols[batch], patch_size)
        p = predict(patches)
        best, index = p.max(dim=1)
        labels.append(lookup[index])
        maxima.append(best)
        if probabilities:
            all_probs.append(p)
        if margin:
            top = p.topk(2, dim=1).values
            margins.append(top[:, 0] - top[:, 1])
        if on_batch is not None:
            on_batch(batch.stop / count)

    plan.run(count, step)
    classes[rows_np, cols_np] = torch.cat(labels).cpu().numpy().astype(class_dtype)
    if conf is not None:
        conf[rows_np, cols_np] = torch.cat(maxima).cpu().numpy()
    if probs is not None:
        probs[:, rows_np, cols_np] = torch.cat(all_probs).cpu().numpy().T
    if gaps is not None:
        gaps[rows_np, cols_np] = torch.cat(margins).cpu().numpy()
    return TileResult(classes, conf, probs, count, gaps)


def classify_raster(
    bundle: ModelBundle,
    stack: WindowSource,
    out: str,
    confidence: str | None = None,
    probabilities: str | None = None,
    device: str = "auto",
    window: tuple[int, int, int, int] | None = None,
    tile_size: int = DEFAULT_TILE_SIZE,
    batch_size: int | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
    precision: str = "float32",
    output_format: str = "GTiff",
    inputs: Sequence[str] = (),
    margin: str | None = None,
    tta: bool = False,
    tile_results: TileResults | None = None,
) -> ClassifyResult:
    """Classify every valid pixel of ``stack`` (or of a pixel ``window``) into GeoTIFFs (or COGs: ``output_format``).

    Everything is checked before any work: band counts, output paths against
    each other and against the rasters and ``inputs`` (the model file), the
    window, the free space. A failed or cancelled run removes its temporary
    files and leaves existing outputs as they were; the class map, its style
    and the optional rasters appear together. ``margin`` is the top-1 minus
    top-2 probability raster; ``tta`` averages the probabilities over the 8
    symmetries of every patch (8 times the work). ``tile_results`` classifies
    the tiles elsewhere (on Dask workers, see ``cluster.py``); by default they
    are classified in this process.
    """
    progress = progress or SilentProgress()
    started = time.perf_counter()
    check_model_fits(bundle, stack)
    grid = stack.grid
    window = window or (0, 0, grid.width, grid.height)
    wx, wy, ww, wh = window
    if ww <= 0 or wh <= 0 or wx < 0 or wy < 0 or wx + ww > grid.width or wy + wh > grid.height:
        raise InputError(f"the window {window} is not inside the {grid.width} x {grid.height} raster")
    if output_format not in OUTPUT_FORMATS:
        raise InputError(f"output format must be one of {', '.join(OUTPUT_FORMATS)} (got {output_format!r})")
    style = os.path.splitext(out)[0] + ".qml"
    class_dtype = class_map_type(bundle.class_ids)
    outputs = OutputSet(
        [
            ("classification", out),
            ("style", style),
            ("confidence raster", confidence or ""),
            ("probability raster", probabilities or ""),
            ("margin raster", margin or ""),
        ],
        overwrite=overwrite,
        inputs=[stack.hsi_path, *stack.lidar_paths, *inputs],
        sizes=output_sizes(
            ww * wh, class_dtype, len(bundle.class_ids), out, confidence, probabilities, margin, output_format
        ),
        log=progress.info,
    )
    warnings = input_mismatch(
        bundle.preprocessing, *sample_pixels(stack, window), stack.hsi_path, list(stack.lidar_paths)
    )
    for warning in warnings:
        progress.info(warning)
    if tta:
        progress.info("test-time augmentation: each patch is classified in its 8 rotations and mirrors, averaged")
    out_grid = grid.window(*window)
    tiles = tile_windows(window, tile_size, grid.block_size)
    if tile_results is None:
        results = _classify_here(
            bundle,
            stack,
            tiles,
            progress,
            class_dtype,
            device=device,
            precision=precision,
            tta=tta,
            batch_size=batch_size,
            confidence=confidence is not None,
            probabilities=probabilities is not None,
            margin=margin is not None,
        )
    else:
        results = tile_results(tiles)  # connects and checks the workers: before any output is written

    with outputs:
        written = _raster_files(outputs, out, output_format, progress)
        tiles_out = _TileOutputs(
            written(out),
            written(confidence) if confidence else None,
            written(probabilities) if probabilities else None,
            out_grid,
            class_dtype,
            bundle,
            origin=(wx, wy),
            margin=written(margin) if margin else None,
        )
        writer = _Writer(tiles_out.write)
        classified = 0
        try:
            for tile, result in results:
                writer.put(tile, result.classes, result.confidence, result.probabilities, result.margin)
                classified += result.pixels
        finally:
            try:
                close = getattr(results, "close", None)  # a generator stops its reader or its cluster's tasks
                if close is not None:
                    close()
                writer.close()
            finally:
                tiles_out.close()
        if classified == 0:
            raise InputError(_nothing_to_classify(stack, window))
        write_paletted_qml(outputs.path(style), bundle.class_ids, bundle.class_names, bundle.class_colors)
    seconds = time.perf_counter() - started
    return ClassifyResult(out, style, confidence, probabilities, classified, seconds, warnings, margin)


def _classify_here(
    bundle: ModelBundle,
    stack: WindowSource,
    tiles: list[Tile],
    progress: Progress,
    class_dtype: str,
    *,
    device: str,
    precision: str,
    tta: bool,
    batch_size: int | None,
    confidence: bool,
    probabilities: bool,
    margin: bool,
) -> Iterator[tuple[Tile, TileResult]]:
    """The tiles classified in this process, in order: read one ahead in a thread, progress after every batch.

    The network is prepared now, so that a device that cannot be used is refused before any output is written.
    """
    torch_device = resolve_device(device)
    predict = patch_predictor(prepare_network(bundle.network, torch_device, precision), tta)
    plan = BatchPlan(batch_size or default_batch_size(torch_device, bundle.config.patch_size), progress)
    patch_size = bundle.config.patch_size
    halo = patch_size // 2
    lookup = torch.from_numpy(np.asarray(bundle.class_ids, dtype=np.int64)).to(torch_device)

    def run() -> Iterator[tuple[Tile, TileResult]]:
        meter = Throughput(progress, sum(tile.width * tile.height for tile in tiles), "pixels")
        pixels_before = 0  # pixels of the tiles already classified
        reads = _background((tile, *read_tile_features(stack, bundle.preprocessing, tile, halo)) for tile in tiles)
        try:
            for tile, features, valid in reads:
                check_canceled(progress)
                with torch.inference_mode():
                    result = classify_tile(
                        predict,
                        features,
                        valid,
                        lookup,
                        patch_size,
                        plan,
                        class_dtype,
                        confidence=confidence,
                        probabilities=probabilities,
                        on_batch=meter.within(pixels_before, tile.width * tile.height),
                        margin=margin,
                    )
                yield tile, result
                pixels_before += tile.width * tile.height
                meter.update(pixels_before)
        finally:
            reads.close()

    return run()


def _nothing_to_classify(stack: WindowSource, window: tuple[int, int, int, int]) -> str:
    """Why no pixel of the window could be classified: which inputs hold no value there."""
    wx, wy, ww, wh = window
    scope = "the raster" if (wx, wy, ww, wh) == (0, 0, stack.grid.width, stack.grid.height) else "the extent"
    return (
        f"no pixel of {scope} ({ww} x {wh} pixels) has a value in every band of {stack.hsi_path} and "
        f"{', '.join(stack.lidar_paths)}: a band is NaN or nodata everywhere there, or the rasters do not "
        "overlap; nothing was written"
    )
