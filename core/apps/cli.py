"""The ``ncglf2`` command: train, classify, assess, import-reference, demo, bench."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
import traceback

from ..errors import Cancelled, NCGLF2Error
from ..requests import (
    DEFAULT_TILE_SIZE,
    DEVICES,
    KEEPS,
    OUTPUT_FORMATS,
    PRECISIONS,
    PROTOCOLS,
    SCHEDULES,
    VALIDATION_SPLITS,
    AssessRequest,
    ClassifyRequest,
    ImportRequest,
    TrainingParameters,
    TrainRequest,
)
from ..version import __version__

PAPER = TrainingParameters()  # the defaults the help texts show

EPILOG = """examples:
  ncglf2 train --hsi hsi.tif --lidar dsm.tif --labels ground_truth.gpkg --class-field class --out landcover.ncglf2 --report training.html
  ncglf2 classify --model landcover.ncglf2 --hsi hsi.tif --lidar dsm.tif --out landcover.tif --confidence confidence.tif
  ncglf2 assess --classification landcover.tif --reference checkpoints.gpkg --class-field class --model landcover.ncglf2 --out accuracy.html --json accuracy.json
  ncglf2 demo --out demo_output
"""


def _add_inputs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--hsi", required=True, metavar="RASTER", help="hyperspectral raster (any GDAL format: GeoTIFF, ENVI, VRT...)"
    )
    parser.add_argument(
        "--lidar",
        required=True,
        action="append",
        metavar="RASTER",
        help="LiDAR raster (DSM, nDSM, intensity...); repeat for more; every band is one channel; "
        "rasters on another grid are resampled bilinearly onto the HSI grid",
    )


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files")
    parser.add_argument("--debug", action="store_true", help="show a full traceback on errors")
    parser.add_argument(
        "--events",
        choices=("text", "jsonl"),
        default="text",
        help="jsonl: progress, log, the result and errors as JSON lines on standard output (the engine protocol)",
    )


def _add_protocol(parser: argparse.ArgumentParser) -> None:
    """The protocol and each of its choices; a choice given overrides the protocol's."""
    group = parser.add_argument_group("protocol", "the protocol sets every choice below that is not given")
    group.add_argument(
        "--protocol",
        choices=PROTOCOLS,
        default=PAPER.protocol,
        help=f"robust: symmetries, label smoothing, weight average, cosine schedule; paper: the published protocol "
        f"exactly; ensemble: 3 networks of 50 epochs, each on its own spatial split, the last epoch kept "
        f"(default {PAPER.protocol})",
    )
    group.add_argument(
        "--augment",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="train on each patch under a random one of its 8 turns and mirrors",
    )
    group.add_argument(
        "--label-smoothing", type=float, metavar="S", help="share of each target spread over the classes"
    )
    group.add_argument("--ema-decay", type=float, metavar="D", help="decay of the weight average (0: none)")
    group.add_argument("--schedule", choices=SCHEDULES, help="learning-rate schedule")
    group.add_argument("--warmup-epochs", type=int, metavar="N", help="linear warm-up of the cosine schedule")
    group.add_argument(
        "--patience", type=int, metavar="N", help="stop after N epochs without a better validation (0: never)"
    )
    group.add_argument(
        "--balanced-batches",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="draw batches with every class equally likely",
    )
    group.add_argument(
        "--keep",
        choices=KEEPS,
        help="the weights kept: the best validation epoch's, or the last epoch's (the validation then only reports)",
    )
    group.add_argument(
        "--members",
        type=int,
        metavar="K",
        help="train K networks from different seeds, their class probabilities averaged (K times the time); with "
        "the spatial split each network draws its own split with its own seed",
    )


def _protocol_options(args: argparse.Namespace) -> dict:
    names = (
        "validation_split",
        "augment",
        "label_smoothing",
        "ema_decay",
        "schedule",
        "warmup_epochs",
        "patience",
        "balanced_batches",
        "keep",
        "members",
    )
    return {"protocol": args.protocol, **{n: getattr(args, n) for n in names if getattr(args, n) is not None}}


def _device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--device", default="auto", choices=DEVICES, help="where the network runs (default: auto = GPU when available)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ncglf2",
        description="Land-cover classification from hyperspectral + LiDAR rasters with the NCGLF2 fusion network.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"ncglf2 {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "train",
        help="train a model from rasters and labelled ground truth",
        description=(
            "Train NCGLF2 with the paper's protocol: 40 whitened PCA components + LiDAR, 11 x 11 patches, "
            "20 training pixels per class, 15 %% of the labelled pixels for validation, 80 epochs, "
            "keeping the weights of the best validation accuracy. Validation is spatial unless asked otherwise: "
            "whole polygons, regions of a class raster or blocks of points, with no training pixel closer to them "
            "than the patch size."
        ),
    )
    _add_inputs(p)
    p.add_argument(
        "--labels",
        required=True,
        metavar="LABELS",
        help="ground truth: a raster of class ids (0 = unlabelled) or a vector layer of points/polygons",
    )
    p.add_argument(
        "--class-field", metavar="FIELD", help="attribute holding the class (integer id or text name) of vector labels"
    )
    p.add_argument("--class-csv", metavar="CSV", help="optional class names and colours: lines 'id,name,#rrggbb'")
    p.add_argument("--validation", metavar="LABELS", help="separate validation labels (instead of a share of --labels)")
    p.add_argument("--out", required=True, metavar="MODEL.ncglf2", help="model file to write")
    p.add_argument("--report", metavar="REPORT.html", help="training report (curves, validation accuracy)")
    p.add_argument(
        "--epochs",
        type=int,
        help=f"training epochs of each network (default: the protocol's, {PAPER.epochs} for {PAPER.protocol})",
    )
    p.add_argument(
        "--samples-per-class",
        default=str(PAPER.samples_per_class),
        metavar="N|all",
        help=f"training pixels per class, or 'all' (default {PAPER.samples_per_class})",
    )
    p.add_argument(
        "--validation-fraction",
        type=float,
        default=PAPER.validation_fraction,
        help="share of each class's labelled pixels kept for validation (random split: of those left after the "
        f"training pixels; default {PAPER.validation_fraction})",
    )
    p.add_argument(
        "--validation-split",
        choices=VALIDATION_SPLITS,
        default=None,
        help="spatial: validation from whole polygons, regions or blocks, and no training patch overlapping a "
        "validation patch; random: the paper's random pixels, whose patches overlap the training patches "
        f"(optimistic; with --protocol paper, the published protocol exactly); ignored with --validation "
        f"(default {PAPER.validation_split})",
    )
    p.add_argument(
        "--batch-size", type=int, default=PAPER.batch_size, help=f"training batch size (default {PAPER.batch_size})"
    )
    p.add_argument(
        "--learning-rate",
        type=float,
        default=PAPER.learning_rate,
        help=f"Adam learning rate (default {PAPER.learning_rate:g})",
    )
    p.add_argument(
        "--patch-size",
        type=int,
        default=PAPER.patch_size,
        help=f"patch side in pixels, odd (default {PAPER.patch_size})",
    )
    p.add_argument(
        "--components",
        type=int,
        default=PAPER.pca_components,
        help=f"PCA components of the HSI (default {PAPER.pca_components})",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=PAPER.seed,
        help=f"random seed: the same seed repeats a run on CPU (default {PAPER.seed})",
    )
    _add_protocol(p)
    _device(p)
    _add_common(p)

    p = sub.add_parser(
        "classify",
        help="classify rasters with a model file",
        description=(
            "Classify every valid pixel, tile by tile (any raster size), into a GeoTIFF of class ids with a colour "
            "table, class names and a QGIS style (.qml) beside it."
        ),
    )
    p.add_argument("--model", required=True, metavar="MODEL.ncglf2")
    _add_inputs(p)
    p.add_argument("--out", required=True, metavar="CLASSES.tif", help="class map to write (GeoTIFF, nodata 0)")
    p.add_argument("--confidence", metavar="CONF.tif", help="also write the confidence (max class probability)")
    p.add_argument("--probabilities", metavar="PROBS.tif", help="also write one probability band per class")
    p.add_argument(
        "--margin",
        metavar="MARGIN.tif",
        help="also write the margin: the highest class probability minus the second (0 to 1; low = the model "
        "hesitates between two classes)",
    )
    p.add_argument(
        "--format",
        default=OUTPUT_FORMATS[0],
        choices=OUTPUT_FORMATS,
        help="GTiff: tiled GeoTIFFs; COG: Cloud Optimized GeoTIFFs with overviews (most frequent class for the "
        "class map, mean for the other rasters), to serve over HTTP or show quickly zoomed out (default GTiff)",
    )
    p.add_argument(
        "--tta",
        action="store_true",
        help="test-time augmentation: average the class probabilities over the 8 rotations and mirrors of each "
        "patch; costs 8 times the network's work",
    )
    p.add_argument(
        "--extent",
        nargs=4,
        type=float,
        metavar=("XMIN", "YMIN", "XMAX", "YMAX"),
        help="classify only this extent (HSI CRS)",
    )
    p.add_argument(
        "--tile-size", type=int, default=DEFAULT_TILE_SIZE, help=f"tile side in pixels (default {DEFAULT_TILE_SIZE})"
    )
    p.add_argument("--batch-size", type=int, default=None, help="patches per network call (default: automatic)")
    p.add_argument(
        "--precision",
        default=PRECISIONS[0],
        choices=PRECISIONS,
        help="bfloat16 is faster on CPUs with AVX512-BF16 and on recent GPUs (README, Speed); its labels agree with float32 on nearly every pixel",
    )
    p.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="classify the tiles on Dask distributed: local:N starts N worker processes on this machine, "
        "tcp://host:8786 uses the workers of a running scheduler (they must read the same files under the same "
        "paths; README, Scaling out); needs dask[distributed]",
    )
    _device(p)
    _add_common(p)

    p = sub.add_parser("assess", help="accuracy of a class map against reference labels")
    p.add_argument("--classification", required=True, metavar="CLASSES.tif")
    p.add_argument(
        "--reference", required=True, metavar="LABELS", help="reference labels: raster of class ids or vector layer"
    )
    p.add_argument("--class-field", metavar="FIELD", help="class attribute of vector reference labels")
    p.add_argument("--class-csv", metavar="CSV", help="optional class names and colours")
    p.add_argument("--out", required=True, metavar="REPORT.html")
    p.add_argument("--json", metavar="REPORT.json")
    p.add_argument("--csv", metavar="REPORT.csv", help="confusion matrix and per-class accuracy as CSV")
    p.add_argument(
        "--model",
        metavar="MODEL.ncglf2",
        help="the model that made the map: also report the accuracy on the reference pixels whose patch holds "
        "none of its training pixels (the honest figure)",
    )
    _add_common(p)

    p = sub.add_parser("import-reference", help="turn the published implementation's checkpoint into a model file")
    p.add_argument("checkpoint", metavar="CHECKPOINT")
    _add_inputs(p)
    p.add_argument(
        "--classes", required=True, type=int, metavar="N", help="number of classes the checkpoint was trained on"
    )
    p.add_argument("--patch-size", type=int, default=PAPER.patch_size)
    p.add_argument("--class-csv", metavar="CSV", help="optional class names and colours")
    p.add_argument("--out", required=True, metavar="MODEL.ncglf2")
    _add_common(p)

    p = sub.add_parser("demo", help="build the demo scene, train, classify and assess it")
    p.add_argument("--out", default="demo_output", metavar="FOLDER")
    p.add_argument("--size", type=int, default=300, help="scene side in pixels (default 300)")
    p.add_argument("--epochs", type=int, help="training epochs of each network (default: the protocol's)")
    p.add_argument("--seed", type=int, default=0)
    _device(p)
    p.add_argument("--debug", action="store_true")

    p = sub.add_parser("bench", help="measure inference, training and end-to-end speed")
    p.add_argument("--quick", action="store_true", help="short runs (for a smoke test)")
    p.add_argument("--device", default="all", choices=["all", "cpu", "cuda"])
    p.add_argument("--debug", action="store_true")
    return parser


def _samples(value: str) -> int | None:
    if value.strip().lower() == "all":
        return None
    try:
        number = int(value)
    except ValueError:
        raise NCGLF2Error(f"--samples-per-class must be a number or 'all' (got {value!r})") from None
    return number


def job_request(args: argparse.Namespace):
    """The request of a job command (train, classify, assess, import-reference)."""
    if args.command == "train":
        return TrainRequest(
            hsi=args.hsi,
            lidar=args.lidar,
            labels=args.labels,
            out=args.out,
            class_field=args.class_field,
            validation=args.validation,
            class_csv=args.class_csv,
            report=args.report,
            overwrite=args.overwrite,
            params=TrainingParameters(
                epochs=args.epochs,
                batch_size=args.batch_size,
                learning_rate=args.learning_rate,
                samples_per_class=_samples(args.samples_per_class),
                validation_fraction=args.validation_fraction,
                patch_size=args.patch_size,
                pca_components=args.components,
                seed=args.seed,
                device=args.device,
                **_protocol_options(args),
            ),
        )
    if args.command == "classify":
        return ClassifyRequest(
            model=args.model,
            hsi=args.hsi,
            lidar=args.lidar,
            out=args.out,
            confidence=args.confidence,
            probabilities=args.probabilities,
            device=args.device,
            extent=tuple(args.extent) if args.extent else None,
            tile_size=args.tile_size,
            batch_size=args.batch_size,
            precision=args.precision,
            format=args.format,
            margin=args.margin,
            tta=args.tta,
            overwrite=args.overwrite,
            dask=args.dask,
        )
    if args.command == "assess":
        return AssessRequest(
            classification=args.classification,
            reference=args.reference,
            out_html=args.out,
            json_path=args.json,
            csv_path=args.csv,
            class_field=args.class_field,
            class_csv=args.class_csv,
            model=args.model,
            overwrite=args.overwrite,
        )
    if args.command == "import-reference":
        return ImportRequest(
            checkpoint=args.checkpoint,
            hsi=args.hsi,
            lidar=args.lidar,
            num_classes=args.classes,
            out=args.out,
            patch_size=args.patch_size,
            class_csv=args.class_csv,
            overwrite=args.overwrite,
        )
    return None


def run_events(args: argparse.Namespace) -> int:
    """A job with its progress, log, result and errors as JSON lines on standard output (the engine protocol)."""
    from ..engine.child import engine_facts, protect_event_stream, run_and_report
    from ..engine.protocol import EventWriter

    writer = EventWriter(protect_event_stream())
    cancel = threading.Event()
    with _signals_cancel(cancel):
        try:
            request = job_request(args)
        except NCGLF2Error as error:
            writer.error(error)
            return 2
        writer.emit("engine", **engine_facts())
        return run_and_report(request, writer, cancel)


def run(args: argparse.Namespace) -> int:
    from ..progress import ConsoleProgress

    if getattr(args, "events", "text") == "jsonl":
        return run_events(args)
    progress = ConsoleProgress()
    request = job_request(args)
    if request is not None:
        from ..engine.child import run_job

        result = run_job(request, progress)
        if args.command == "train" and result["validation"] is not None:
            v = result["validation"]
            print(f"validation: OA {100 * v['oa']:.2f} %  AA {100 * v['aa']:.2f} %  kappa {v['kappa']:.4f}")
        elif args.command == "assess":
            print(
                f"OA {100 * result['oa']:.2f} %  AA {100 * result['aa']:.2f} %  kappa {result['kappa']:.4f}  ({result['n']} pixels)"
            )
            away = result["away_from_training"]
            if away is not None:
                print(
                    f"away from the training pixels (honest): OA {100 * away['oa']:.2f} %  AA {100 * away['aa']:.2f} %  "
                    f"kappa {away['kappa']:.4f}  ({away['n']} pixels)"
                )
    elif args.command == "demo":
        from .demo import run_demo

        run_demo(args.out, size=args.size, epochs=args.epochs, seed=args.seed, device=args.device, progress=progress)
    elif args.command == "bench":
        from .bench import run_bench

        run_bench(quick=args.quick, device=args.device)
    return 0


@contextlib.contextmanager
def _signals_cancel(cancel):
    """SIGTERM and Ctrl-C set ``cancel``: the job stops at its next check and cleans up."""

    def on_signal(signum, frame):
        cancel.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _terminate_as_interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # A scheduler's or service manager's stop (SIGTERM) ends the run as Ctrl-C does: outputs removed.
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate_as_interrupt) if in_main_thread else None
    try:
        return _run_reporting(args)
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


def _run_reporting(args: argparse.Namespace) -> int:
    """``run`` with every failure as one line on standard error and an exit status."""
    try:
        return run(args)
    except Cancelled as error:
        print(f"ncglf2: {error}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("ncglf2: interrupted; no output was written", file=sys.stderr)
        return 130
    except NCGLF2Error as error:
        if getattr(args, "debug", False):
            traceback.print_exc()
        print(f"ncglf2 {args.command}: error: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # an unexpected failure: one line unless --debug
        if getattr(args, "debug", False):
            traceback.print_exc()
        else:
            print(
                f"ncglf2 {args.command}: unexpected {type(error).__name__}: {error} (run with --debug for details)",
                file=sys.stderr,
            )
        return 1


if __name__ == "__main__":
    sys.exit(main())
