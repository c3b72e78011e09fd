"""The jobs a user runs: train, import the reference checkpoint, classify, assess.

One implementation of each, shared by the CLI, the Processing algorithms and
the dialog. Every job checks all of its inputs and outputs before it starts
working, and reports through the progress protocol.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .errors import InputError
from .io.labels import ClassTable
from .io.model_file import MODEL_SUFFIX, ModelBundle, TrainingPixels, load_model, model_bytes, write_model_bytes
from .io.outputs import OutputSet
from .nn.devices import describe_device
from .nn.model import NetworkConfig
from .nn.preprocessing import Preprocessing
from .pipeline.metrics import Assessment, AwayFromTraining
from .pipeline.preprocess import fit_preprocessing
from .pipeline.report import TrainingHistory, describe_spatial_split, validation_warnings
from .pipeline.sampling import Split, split_samples
from .pipeline.training import PatchCache, build_patch_cache, fit_ensemble, fit_own_splits
from .progress import Progress, SilentProgress, SubProgress
from .requests import (
    REFERENCE_PCA_COMPONENTS,
    AssessRequest,
    ClassifyRequest,
    ImportRequest,
    TrainingParameters,
    TrainRequest,
)

__all__ = [
    "TrainRequest",
    "ClassifyRequest",
    "AssessRequest",
    "ImportRequest",
    "TrainingParameters",
    "TrainOutcome",
    "train",
    "import_reference",
    "classify",
    "assess",
    "assess_outcome",
    "AssessOutcome",
    "report_paths",
]


def report_paths(html: str) -> dict[str, str]:
    """Files written beside an HTML report."""
    stem = os.path.splitext(html)[0]
    return {"html": html, "png": stem + "_curves.png", "json": stem + ".json"}


@dataclass
class TrainOutcome:
    model: str
    report: str | None
    validation: Assessment | None
    history: TrainingHistory
    classes: list[str]
    train_pixels: int
    validation_pixels: int
    test_pixels: int
    seconds: float


def _align_validation(validation, classes, source: str):
    """Give a separate validation layer the training layer's class ids (matched by name, else by id)."""
    from .io.labels import LabeledPixels

    by_name = {name: cid for cid, name in zip(classes.ids, classes.names)}
    mapping = {}
    for cid, name in zip(validation.classes.ids, validation.classes.names):
        if name in by_name:
            mapping[cid] = by_name[name]
        elif cid in classes.ids:
            mapping[cid] = cid
    present = set(np.unique(validation.class_ids).tolist())
    unknown = [n for c, n in zip(validation.classes.ids, validation.classes.names) if c not in mapping and c in present]
    if unknown:
        raise InputError(
            f"the validation labels {source} have classes the training labels lack: {', '.join(map(repr, unknown))}"
        )
    ids = remap_ids(validation.class_ids, mapping)
    return LabeledPixels(validation.rows, validation.cols, ids.astype(np.int32), classes, validation.groups)


def remap_ids(values: np.ndarray, mapping: dict[int, int]) -> np.ndarray:
    """``mapping[v]`` for every value (each one a key), int64; ids may be as large as 2^31 (no id-sized table)."""
    keys = np.array(sorted(mapping), dtype=np.int64)
    targets = np.array([mapping[k] for k in keys.tolist()], dtype=np.int64)
    return targets[np.searchsorted(keys, values)]


def class_indices(ids: np.ndarray, model_ids: list[int]) -> np.ndarray:
    """The network's class index (0..K-1) of each class id."""
    return remap_ids(ids, {cid: i for i, cid in enumerate(model_ids)})


def _valid_labels(stack, labels, source: str, samples_per_class: int | None, required: bool, progress: Progress):
    """The labels on pixels where the HSI and LiDAR hold data; one log line for those left out."""
    from .pipeline.sampling import check_after_dropping, drop_invalid
    from .pipeline.tiling import read_validity

    valid = read_validity(stack, labels.rows, labels.cols, progress)
    kept, dropped = drop_invalid(labels, valid)
    if dropped:
        name_of = dict(zip(labels.classes.ids, labels.classes.names))
        per_class = ", ".join(f"{name_of[cid]}: {n}" for cid, n in dropped.items())
        progress.info(
            f"{sum(dropped.values())} labelled pixels of {source} fall on nodata or NaN in the HSI or LiDAR "
            f"and are left out ({per_class})"
        )
    if required:
        check_after_dropping(kept, dropped, samples_per_class, source)
    return kept


def _read_training_labels(request: TrainRequest, stack, progress: Progress):
    """(training labels, separate validation labels or None), both without pixels on nodata."""
    from .io.labels import read_labels
    from .pipeline.sampling import validate_label_counts

    def read(path: str, layer):
        return read_labels(path, stack.grid, request.class_field, request.class_csv, layer=layer, log=progress.info)

    labels = read(request.labels, request.labels_layer)
    validate_label_counts(labels)
    spc = request.params.samples_per_class
    labels = _valid_labels(stack, labels, request.labels, spc, True, SubProgress(progress, 0, 2))
    validation = None
    if request.validation:
        raw = read(request.validation, request.validation_layer)
        validation = _align_validation(raw, labels.classes, request.validation)
        validation = _valid_labels(stack, validation, request.validation, spc, False, SubProgress(progress, 2, 3))
    return labels, validation


@dataclass
class _TrainingData:
    """What training needs from the rasters and labels: the split, the classes, the patches and their targets."""

    split: Split
    model_ids: list[int]
    names: list[str]
    colors: list[tuple[int, ...]]
    preprocessing: Preprocessing
    train_x: PatchCache
    train_y: torch.Tensor
    val_x: PatchCache
    val_ids: np.ndarray
    val_y: torch.Tensor
    train_pixels: tuple[np.ndarray, np.ndarray]  # (rows, cols) of the training pixels on the HSI's grid
    networks: list[tuple[np.ndarray, np.ndarray]] | None = None  # each network's positions in train_x and val_x


def _prepare_training(request: TrainRequest, stack, caches: ExitStack, progress: Progress) -> _TrainingData:
    """Labels without nodata, the split, the fitted preprocessing and the patch caches, logged as they come."""
    params = request.params
    labels, validation_labels = _read_training_labels(request, stack, progress)
    split = split_samples(
        labels,
        params.samples_per_class,
        params.validation_fraction,
        params.seed,
        separate_validation=validation_labels is not None,
        method=params.validation_split,
        patch_size=params.patch_size,
        networks=params.members or 1,
    )
    for note in split.notes:
        progress.info(f"warning: {note}")
    if split.method == "spatial":
        progress.info(describe_spatial_split(split.summary))
    train_ids = labels.class_ids[split.train]
    model_ids = [cid for cid in labels.classes.ids if np.any(train_ids == cid)]
    position = {cid: i for i, cid in enumerate(labels.classes.ids)}
    names = [labels.classes.names[position[c]] for c in model_ids]
    colors = [tuple(labels.classes.colors[position[c]]) for c in model_ids]
    counts = ", ".join(f"{n}: {int(np.count_nonzero(train_ids == c))}" for c, n in zip(model_ids, names))
    if validation_labels is not None:
        val_rows, val_cols, val_ids = (
            validation_labels.rows,
            validation_labels.cols,
            validation_labels.class_ids,
        )
        keep = np.isin(val_ids, model_ids)
        val_rows, val_cols, val_ids = val_rows[keep], val_cols[keep], val_ids[keep]
    else:
        val_rows, val_cols, val_ids = (
            labels.rows[split.validation],
            labels.cols[split.validation],
            labels.class_ids[split.validation],
        )
    progress.info(
        f"{len(model_ids)} classes; {split.train.size} training pixels ({counts}); "
        f"{val_ids.size} validation pixels; {split.test.size} held out"
    )
    progress.info("fitting the PCA and standardization")
    preprocessing = fit_preprocessing(
        stack, params.pca_components, params.max_fit_pixels, params.seed, SubProgress(progress, 3, 8)
    )
    progress.info(f"fitted on {preprocessing.pixel_count} valid pixels{' (sampled)' if preprocessing.sampled else ''}")
    train_x, val_x = (
        caches.enter_context(build_patch_cache(stack, preprocessing, rows, cols, params.patch_size, part))
        for rows, cols, part in (
            (labels.rows[split.train], labels.cols[split.train], SubProgress(progress, 8, 12)),
            (val_rows, val_cols, SubProgress(progress, 12, 15)),
        )
    )
    progress.info(
        f"patches cached in {(train_x.nbytes + val_x.nbytes) / 2**20:.0f} MB of temporary files in {tempfile.gettempdir()}"
    )
    train_y = torch.from_numpy(class_indices(train_ids, model_ids))
    val_y = torch.from_numpy(class_indices(val_ids, model_ids))
    train_pixels = (labels.rows[split.train], labels.cols[split.train])
    # Each network's fold as positions in the training and validation caches (all index arrays are sorted).
    networks = (
        [(np.searchsorted(split.train, t), np.searchsorted(split.validation, v)) for t, v in split.networks]
        if split.networks is not None and validation_labels is None
        else None
    )
    return _TrainingData(
        split, model_ids, names, colors, preprocessing, train_x, train_y, val_x, val_ids, val_y, train_pixels, networks
    )


def train(request: TrainRequest, progress: Progress | None = None) -> TrainOutcome:
    """Fit the preprocessing, sample, train, save the model and write the report.

    Patches go through temporary files that vanish whatever happens, so
    memory does not grow with the number of labelled pixels.
    """
    from .io.stack import open_inputs
    from .pipeline.metrics import assess as assess_arrays

    progress = progress or SilentProgress()
    started = time.perf_counter()
    params = request.params
    outputs = [("model", request.out)]
    if request.report:
        outputs += [(f"report {k}", p) for k, p in report_paths(request.report).items()]
    # Model and reports are one set: all appear together or none (a failed report keeps the old model).
    staged = OutputSet(
        outputs,
        overwrite=request.overwrite,
        inputs=[request.hsi, *request.lidar, request.labels, request.validation or "", request.class_csv or ""],
        log=progress.info,
    )
    if not request.out.endswith(MODEL_SUFFIX):
        progress.info(f"note: model files usually end in {MODEL_SUFFIX}")

    with ExitStack() as caches:
        with open_inputs(request.hsi, list(request.lidar), log=progress.info) as stack:
            data = _prepare_training(request, stack, caches, progress)
            hsi_names = (stack.hsi_path, list(stack.lidar_paths))
            trained_on = TrainingPixels(*data.train_pixels, grid=stack.grid)
        config = NetworkConfig(
            num_classes=len(data.model_ids),
            patch_size=params.patch_size,
            hsi_channels=params.pca_components,
            lidar_channels=data.preprocessing.lidar_channels,
            width=params.width,
            depth=params.depth,
            heads=params.heads,
        )
        networks = f"{params.members} networks of " if params.members and params.members > 1 else ""
        progress.info(f"training {networks}{params.epochs} epochs on {describe_device(params.device)}")
        part = SubProgress(progress, 15, 99)
        if data.networks is not None:
            fit = fit_own_splits(
                config, data.train_x, data.train_y, data.val_x, data.val_y, data.networks, params, part
            )
        else:
            fit = fit_ensemble(config, data.train_x, data.train_y, data.val_x, data.val_y, params, part)

    model_ids, names, colors, split, val_ids = data.model_ids, data.names, data.colors, data.split, data.val_ids
    validation = None
    if val_ids.size and fit.validation_predictions is not None:
        # The best epoch's own predictions: the network that was kept, on the same patches (out of split for an ensemble's own splits).
        scored = fit.validation_predictions >= 0
        predicted_ids = np.asarray(model_ids)[fit.validation_predictions[scored]]
        validation = assess_arrays(val_ids[scored], predicted_ids, model_ids, names)
        chosen = f"best epochs {fit.best_epochs}" if fit.best_epochs else f"best epoch {fit.history.best_epoch}"
        progress.info(
            f"{chosen}: validation OA {100 * validation.oa:.2f} %, "
            f"AA {100 * validation.aa:.2f} %, kappa {validation.kappa:.4f}"
        )
    provenance = {
        "kind": "trained",
        "inputs": {
            "hsi": os.path.basename(hsi_names[0]),
            "lidar": [os.path.basename(p) for p in hsi_names[1]],
            "labels": os.path.basename(request.labels),
            "class_field": request.class_field,
            "validation": os.path.basename(request.validation) if request.validation else None,
        },
        "training": params.to_dict(),
        "samples": {"train": int(split.train.size), "validation": int(val_ids.size), "test": int(split.test.size)},
        "split": split.summary,
        "best_epoch": fit.history.best_epoch,
        "best_epochs": fit.best_epochs or [fit.history.best_epoch],
        "validation": validation.to_dict() if validation is not None else None,
        "training_seconds": round(fit.seconds, 2),
        "torch_version": torch.__version__,
    }
    warnings = validation_warnings(fit.history, validation, split.summary, params.keep or "best")
    for warning in warnings:
        progress.info(f"warning: {warning}")
    provenance["validation_warnings"] = warnings
    bundle = ModelBundle(
        fit.network, data.preprocessing, ClassTable(model_ids, names, colors), provenance, training_pixels=trained_on
    )
    content = model_bytes(bundle, request.out)  # refused before any file is touched
    with staged:
        write_model_bytes(staged.path(request.out), content)
        if request.report:
            _write_training_report(request, staged, fit.history, validation, provenance, colors, model_ids)
    progress.info(f"model written to {request.out}")
    if request.report:
        progress.info(f"training report written to {request.report}")
    progress.set_progress(100)
    return TrainOutcome(
        request.out,
        request.report,
        validation,
        fit.history,
        names,
        int(split.train.size),
        int(val_ids.size),
        int(split.test.size),
        time.perf_counter() - started,
    )


def _write_training_report(
    request: TrainRequest, staged: OutputSet, record: TrainingHistory, validation, provenance: dict, colors, ids
) -> None:
    from .pipeline.report import write_training_report

    if request.report is None:
        return
    paths = report_paths(request.report)
    context = {
        "model": request.out,
        "date": _dt.datetime.now().isoformat(timespec="seconds"),
        "inputs": provenance["inputs"],
        "parameters": provenance["training"],
        "samples": provenance["samples"],
        "colors": {cid: color for cid, color in zip(ids, colors)},
    }
    write_training_report(
        record,
        staged.path(paths["html"]),
        staged.path(paths["png"]),
        validation=validation,
        context=context,
        png_link=paths["png"],
        split=provenance["split"],
    )
    with open(staged.path(paths["json"]), "w", encoding="utf-8") as out:
        json.dump(
            {
                "history": record.to_dict(),
                "validation": provenance["validation"],
                "split": provenance["split"],
                "warnings": provenance["validation_warnings"],
                "context": context,
            },
            out,
            indent=1,
            default=str,
        )


def import_reference(request: ImportRequest, progress: Progress | None = None) -> str:
    """Turn a checkpoint of the published implementation into a model file.

    The preprocessing is fitted on the given HSI/LiDAR pair as the reference
    does (40 whitened PCA components + LiDAR, standardized over all pixels).
    """
    from .io.labels import DEFAULT_PALETTE, read_class_csv
    from .io.stack import open_inputs
    from .nn.checkpoint import load_reference_checkpoint

    progress = progress or SilentProgress()
    checkpoint, hsi, lidar, num_classes, out = (
        request.checkpoint,
        request.hsi,
        list(request.lidar),
        request.num_classes,
        request.out,
    )
    staged = OutputSet(
        [("model", out)], overwrite=request.overwrite, inputs=[checkpoint, hsi, *lidar, request.class_csv or ""]
    )
    with open_inputs(hsi, lidar, log=progress.info) as stack:
        network = load_reference_checkpoint(
            checkpoint, num_classes, request.patch_size, REFERENCE_PCA_COMPONENTS, stack.lidar_bands
        )
        ids = list(range(1, num_classes + 1))
        names = [f"class {i}" for i in ids]
        colors = [tuple(DEFAULT_PALETTE[(i - 1) % len(DEFAULT_PALETTE)]) for i in ids]
        if request.class_csv:
            table = read_class_csv(request.class_csv)
            for i, cid in enumerate(ids):
                if cid in table:
                    names[i] = table[cid][0] or names[i]
                    color = table[cid][1]
                    colors[i] = tuple(color) if color else colors[i]
        progress.info(f"fitting the PCA ({REFERENCE_PCA_COMPONENTS} whitened components) and standardization")
        preprocessing = fit_preprocessing(
            stack, REFERENCE_PCA_COMPONENTS, request.max_fit_pixels, request.seed, progress
        )
        provenance = {
            "kind": "reference import",
            "inputs": {
                "checkpoint": os.path.basename(checkpoint),
                "hsi": os.path.basename(hsi),
                "lidar": [os.path.basename(p) for p in lidar],
            },
            "torch_version": torch.__version__,
        }
    content = model_bytes(ModelBundle(network, preprocessing, ClassTable(ids, names, colors), provenance), out)
    with staged:
        write_model_bytes(staged.path(out), content)
    progress.info(f"model written to {out}")
    return out


def classify(request: ClassifyRequest, progress: Progress | None = None, client: Any = None):
    """Load a model file and classify an HSI/LiDAR pair (optionally a map extent of it).

    With ``request.dask`` (``local:N`` or a scheduler's address), or a
    ``distributed.Client`` as ``client`` (used instead of the address), the
    tiles are classified on Dask workers; the map is the same.
    """
    from .io.stack import open_inputs
    from .pipeline.inference import classify_raster

    progress = progress or SilentProgress()
    bundle = load_model(request.model)
    with open_inputs(request.hsi, list(request.lidar), log=progress.info) as stack, ExitStack() as scope:
        window = stack.grid.window_from_extent(*request.extent) if request.extent else None
        tile_results = None
        if client is not None or request.dask:
            from .pipeline.cluster import ClusterTiles

            tile_results = scope.enter_context(ClusterTiles(request, stack, client=client, progress=progress))
        else:
            progress.info(f"classifying on {describe_device(request.device)}")
        result = classify_raster(
            bundle,
            stack,
            request.out,
            confidence=request.confidence,
            probabilities=request.probabilities,
            device=request.device,
            window=window,
            tile_size=request.tile_size,
            batch_size=request.batch_size,
            overwrite=request.overwrite,
            progress=progress,
            precision=request.precision,
            output_format=request.format,
            inputs=[request.model],
            margin=request.margin,
            tta=request.tta,
            tile_results=tile_results,
        )
    progress.info(
        f"classified {result.pixels} pixels in {result.seconds:.1f} s ({result.pixels / max(result.seconds, 1e-9):.0f} pixels/s)"
    )
    return result


def assess(request: AssessRequest, progress: Progress | None = None) -> Assessment:
    """Compare a class map with reference labels (raster or vector) and write the reports; the accuracy on
    all reference pixels (:func:`assess_outcome` also has the one away from the training pixels)."""
    return assess_outcome(request, progress).assessment


def assess_outcome(request: AssessRequest, progress: Progress | None = None) -> AssessOutcome:
    """:func:`assess`, with the accuracy away from the model's training pixels when ``request.model`` is given."""
    from .io.crs import gdal_errors
    from .io.grid import open_raster, raster_grid
    from .io.labels import read_labels
    from .io.reading import check_whole_class_ids, class_map_holds_floats, read_class_map_info
    from .pipeline.metrics import ConfusionAccumulator
    from .pipeline.proximity import near_pixels
    from .pipeline.report import write_accuracy_report

    progress = progress or SilentProgress()
    classification, reference, class_field = request.classification, request.reference, request.class_field
    staged = OutputSet(
        [
            ("HTML report", request.out_html),
            ("JSON report", request.json_path or ""),
            ("CSV report", request.csv_path or ""),
        ],
        overwrite=request.overwrite,
        inputs=[classification, reference, request.class_csv or "", request.model or ""],
        log=progress.info,
    )
    floating = class_map_holds_floats(classification)
    grid = raster_grid(classification)
    trained = _training_pixels_on(request.model, grid) if request.model else None
    if isinstance(trained, AwayFromTraining):  # the model holds no usable record
        progress.info(trained.describe())
    map_ids, map_names, map_colors = read_class_map_info(classification)
    labels = read_labels(
        reference, grid, class_field, request.class_csv, layer=request.reference_layer, log=progress.info
    )
    # Reference classes given by name (a text field) are matched to the map's category names.
    by_name = {name: cid for cid, name in zip(map_ids, map_names)}
    ref_ids = labels.class_ids.astype(np.int64)
    names_known = all(n in by_name for n in labels.classes.names)
    if names_known and map_names and labels.classes.names != [f"class {i}" for i in labels.classes.ids]:
        ref_ids = remap_ids(
            ref_ids, {cid: by_name[name] for cid, name in zip(labels.classes.ids, labels.classes.names)}
        )
    class_ids = sorted(set(map_ids) | set(np.unique(ref_ids).tolist()))
    name_of = dict(zip(labels.classes.ids, labels.classes.names))
    name_of.update({cid: n for cid, n in zip(map_ids, map_names)})
    names = [name_of.get(c, f"class {c}") for c in class_ids]
    accumulator = ConfusionAccumulator(class_ids)
    order = np.argsort(labels.rows, kind="stable")
    rows, cols, ref_ids = labels.rows[order], labels.cols[order], ref_ids[order]
    away = None  # per reference pixel: whether its patch holds no training pixel
    if isinstance(trained, _Trained):
        away = ~near_pixels(rows, cols, trained.rows, trained.cols, trained.patch_size // 2)
        away_accumulator = ConfusionAccumulator(class_ids)
    strip = max(1, grid.block_size[1]) * max(1, 4_000_000 // max(1, grid.width * grid.block_size[1]))
    mapped_ids: set[int] = set()  # the map's ids at the reference pixels
    dataset = open_raster(classification, "classification")  # opened once for all strips
    band = dataset.GetRasterBand(1)
    for y in range(0, grid.height, strip):
        lo, hi = np.searchsorted(rows, [y, y + strip])
        if hi > lo:
            with gdal_errors():
                block = band.ReadAsArray(0, y, grid.width, min(strip, grid.height - y))
            mapped = block[rows[lo:hi] - y, cols[lo:hi]]
            if floating:
                check_whole_class_ids(mapped, classification, rows[lo:hi], cols[lo:hi])
            mapped_ids.update(np.unique(mapped[np.isfinite(mapped) & (mapped != 0)]).astype(np.int64).tolist())
            accumulator.update(ref_ids[lo:hi], mapped)
            if away is not None:
                keep = away[lo:hi]
                away_accumulator.update(ref_ids[lo:hi][keep], mapped[keep])
        progress.set_progress(100.0 * min(grid.height, y + strip) / grid.height)
    band = dataset = None
    _check_common_classes(classification, reference, map_ids, map_names, mapped_ids, ref_ids)
    assessment = accumulator.result(names)
    honest = trained if isinstance(trained, AwayFromTraining) else None
    if isinstance(trained, _Trained):
        kept = away_accumulator.pixels
        honest = AwayFromTraining(
            away_accumulator.result(names) if kept else None,
            patch_size=trained.patch_size,
            training_pixels=trained.count,
            excluded=assessment.n - kept,
        )
    colors = {cid: c for cid, c in zip(map_ids, map_colors)}
    context = {
        "classification": classification,
        "reference": reference,
        "class_field": class_field,
        "date": _dt.datetime.now().isoformat(timespec="seconds"),
        "colors": colors,
    }
    if request.model:
        context["model"] = request.model
    with staged:
        write_accuracy_report(
            assessment,
            staged.path(request.out_html),
            staged.path(request.json_path) if request.json_path else None,
            staged.path(request.csv_path) if request.csv_path else None,
            context=context,
            away=honest,
        )
    progress.info(f"all reference pixels: {_scores_line(assessment)}")
    if honest is not None and honest.assessment is not None:
        progress.info(f"away from the training pixels (the honest figure): {_scores_line(honest.assessment)}")
        progress.info(f"  {honest.describe()}")
    elif honest is not None and not honest.unavailable:
        progress.info(
            f"no accuracy away from the training pixels: all {honest.excluded} assessed reference pixels lie "
            f"within {honest.radius} pixels of one"
        )
    return AssessOutcome(assessment, honest)


def _scores_line(assessment) -> str:
    low, high = assessment.oa_ci95
    return (
        f"OA {100 * assessment.oa:.2f} % (95 % CI {100 * low:.2f}-{100 * high:.2f}), "
        f"AA {100 * assessment.aa:.2f} %, kappa {assessment.kappa:.4f} on {assessment.n} pixels"
    )


@dataclass
class AssessOutcome:
    """The accuracy on all reference pixels and, when the model was given, away from its training pixels."""

    assessment: Assessment
    away: AwayFromTraining | None = None


@dataclass
class _Trained:
    """A model's training pixels on the class map's grid (off it too), and its patch size."""

    rows: np.ndarray
    cols: np.ndarray
    patch_size: int
    count: int


def _training_pixels_on(model: str, grid) -> _Trained | AwayFromTraining:
    """The training pixels of ``model`` on ``grid``, or (as an AwayFromTraining without figures) why there are none."""
    from .pipeline.proximity import pixels_on_grid

    bundle = load_model(model)
    patch_size = bundle.config.patch_size
    record = bundle.training_pixels
    if record is None:
        return AwayFromTraining(
            None,
            patch_size=patch_size,
            unavailable=f"the model {model} does not record its training pixels (it was imported, or written by "
            "an older version); retrain it to get this figure",
        )
    placed = pixels_on_grid(record.rows, record.cols, record.grid, grid)
    if isinstance(placed, str):
        return AwayFromTraining(None, patch_size=patch_size, training_pixels=record.count, unavailable=placed)
    return _Trained(placed[0], placed[1], patch_size, record.count)


def _id_list(ids: set[int] | list[int], shown: int = 12) -> str:
    ordered = sorted(ids)
    text = ", ".join(str(i) for i in ordered[:shown])
    return text + (f" and {len(ordered) - shown} more" if len(ordered) > shown else "")


def _check_common_classes(
    classification: str,
    reference: str,
    map_ids: list[int],
    map_names: list[str],
    mapped_ids: set[int],
    reference_ids: np.ndarray,
) -> None:
    """Refuse a map and a reference that share no class id: every pixel would be an error, OA 0 % says nothing.

    The map's ids are those it names (its categories) and those it holds at the
    reference pixels. A map that holds nothing but 0 there is left to the
    accuracy's own "no pixel can be assessed".
    """
    in_reference = set(np.unique(reference_ids).astype(np.int64).tolist())
    if not mapped_ids or in_reference & (set(map_ids) | mapped_ids):
        return
    names = f" (its class names: {', '.join(map_names[:12])})" if map_names else ""
    raise InputError(
        f"the class map {classification} and the reference {reference} have no class id in common: the map holds "
        f"{_id_list(mapped_ids)} at the reference pixels{names}, the reference has {_id_list(in_reference)}; "
        "give a reference with the map's class ids, or with class names that match the map's in a text field"
    )
