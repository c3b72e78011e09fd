"""Accuracy of training protocols over paired seeds, side by side: the table behind the defaults.

Each protocol variant trains on the same scenes with the same seeds (paired),
through the real train job, and is scored on the same held-out reference
pixels of each scene (a fixed uniform sample of ``--test-pixels``, the same
for every run). Runs are appended to a JSON-lines file as
they finish, so an interrupted comparison resumes where it stopped.

    .venv/bin/python tools/accuracy_ab.py --variants paper,robust --seeds 8
    .venv/bin/python tools/accuracy_ab.py --table-only

Scenes: ``demo`` is the demo scene (seed 0); ``hard`` another seed of the
demo generator with shrubs and tall buildings, classes told apart from trees
and roofs by their height only.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from ncglf2.core.apps.demo_scene import build_demo_scene, training_request
from ncglf2.core.io.grid import raster_grid
from ncglf2.core.io.labels import read_labels
from ncglf2.core.io.model_file import load_model
from ncglf2.core.io.stack import open_inputs
from ncglf2.core.jobs import train
from ncglf2.core.nn.symmetry import symmetry_average
from ncglf2.core.pipeline.inference import predict_patches, prepare_network
from ncglf2.core.pipeline.metrics import assess
from ncglf2.core.pipeline.training import gather_patches
from ncglf2.core.requests import TrainingParameters

#: Scene name -> (generator seed, harder variant).
SCENES = {"demo": (0, False), "hard": (1, True)}

#: Named variants: training parameters over the paper protocol, and whether test-time augmentation scores them.
VARIANTS: dict[str, tuple[dict, bool]] = {
    "paper": ({"protocol": "paper"}, False),
    "reference": ({"protocol": "paper", "validation_split": "random"}, False),
    "robust": ({"protocol": "robust"}, False),
    "robust+tta": ({"protocol": "robust"}, True),
    "paper+augment": ({"protocol": "paper", "augment": True}, False),
    "paper+smoothing": ({"protocol": "paper", "label_smoothing": 0.1}, False),
    "paper+ema": ({"protocol": "paper", "ema_decay": 0.99}, False),
    "paper+cosine": ({"protocol": "paper", "schedule": "cosine", "warmup_epochs": 5}, False),
    "paper+balanced": ({"protocol": "paper", "balanced_batches": True}, False),
    "paper+spatial": ({"protocol": "paper", "validation_split": "spatial"}, False),
    "robust-augment": ({"protocol": "robust", "augment": False}, False),
    "robust-smoothing": ({"protocol": "robust", "label_smoothing": 0.0}, False),
    "robust-ema": ({"protocol": "robust", "ema_decay": 0.0}, False),
    "robust-cosine": ({"protocol": "robust", "schedule": "step", "warmup_epochs": 0}, False),
    "robust-balanced": ({"protocol": "robust", "balanced_batches": False}, False),
    "robust-random": ({"protocol": "robust", "validation_split": "random"}, False),
    "robust-160-early": ({"protocol": "robust", "epochs": 160, "patience": 40}, False),
    "robust-lr3": ({"protocol": "robust", "learning_rate": 1e-3}, False),
    "robust-lr3-random": ({"protocol": "robust", "learning_rate": 1e-3, "validation_split": "random"}, False),
    "ensemble4": ({"protocol": "paper", "members": 4, "epochs": 30}, False),
    "ensemble4-random": (
        {"protocol": "paper", "members": 4, "epochs": 30, "validation_split": "random"},
        False,
    ),
    "reference-lr5e-4": ({"protocol": "paper", "validation_split": "random", "learning_rate": 5e-4}, False),
    "ensemble3x50-random": (
        {"protocol": "paper", "members": 3, "epochs": 50, "validation_split": "random"},
        False,
    ),
    "ensemble": ({"protocol": "ensemble", "epochs": 50}, False),
    "robust-plain": ({"protocol": "robust", "balanced_batches": False, "label_smoothing": 0.0}, False),
    "paper+all": ({"protocol": "paper", "samples_per_class": None}, False),
    "robust-all": (
        {"protocol": "robust", "samples_per_class": None, "balanced_batches": False, "label_smoothing": 0.0},
        False,
    ),
    "robust-all-smooth": ({"protocol": "robust", "samples_per_class": None, "balanced_batches": False}, False),
    "robust-random-unbalanced": (
        {"protocol": "robust", "validation_split": "random", "balanced_batches": False},
        False,
    ),
}


def _scene(folder: Path, name: str, size: int):
    seed, hard = SCENES[name]
    where = folder / f"{name}-{size}"
    return build_demo_scene(str(where), size=size, seed=seed, hard=hard)


def _test_sample(scene, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, cols, class ids) of ``count`` reference pixels drawn uniformly, the same for every run.

    Uniform, so the overall accuracy estimates the one of the whole reference raster.
    """
    grid = raster_grid(scene.hsi_path)
    reference = read_labels(scene.test_labels_path, grid)
    index = np.sort(np.random.default_rng(12345).permutation(len(reference))[:count])
    return reference.rows[index], reference.cols[index], reference.class_ids[index]


def _score(model_path: str, scene, sample, tta: bool) -> dict:
    rows, cols, ids = sample
    bundle = load_model(model_path)
    network = prepare_network(bundle.network, torch.device("cpu"))
    with open_inputs(scene.hsi_path, [scene.lidar_path]) as stack:
        patches = gather_patches(stack, bundle.preprocessing, rows, cols, bundle.config.patch_size)
    with torch.no_grad():
        chunks = [
            (symmetry_average(lambda x: predict_patches(network, x), part) if tta else predict_patches(network, part))
            for part in torch.split(patches.contiguous(memory_format=torch.channels_last), 512)
        ]
    predicted = np.asarray(bundle.class_ids)[torch.cat(chunks).argmax(1).numpy()]
    names = bundle.class_names
    result = assess(ids, predicted, bundle.class_ids, names)
    return {
        "oa": result.oa,
        "aa": result.aa,
        "kappa": result.kappa,
        "test_pixels": int(ids.size),
        "producers": {name: round(float(p), 4) for name, p in zip(result.names, result.producers)},
    }


def run_one(scene, scene_name: str, size: int, variant: str, seed: int, epochs: int, sample) -> dict:
    overrides, tta = VARIANTS[variant]
    options = {"epochs": epochs, "seed": seed, "device": "cpu", **overrides}
    params = TrainingParameters(**options)
    with tempfile.TemporaryDirectory(prefix="ncglf2-ab-") as work:
        model = os.path.join(work, "model.ncglf2")
        started = time.perf_counter()
        outcome = train(training_request(scene, model, params))
        seconds = time.perf_counter() - started
        scores = _score(model, scene, sample, tta)
    return {
        "scene": scene_name,
        "size": size,
        "variant": variant,
        "seed": seed,
        "epochs": epochs,
        "epochs_run": len(outcome.history.epochs),
        "best_epoch": outcome.history.best_epoch,
        "train_seconds": round(seconds, 2),
        "validation_oa": outcome.validation.oa if outcome.validation is not None else None,
        **scores,
    }


def _key(record: dict) -> tuple:
    return (record["scene"], record["size"], record["variant"], record["seed"], record["epochs"])


def _epochs(variant: str, runs: list[dict], budget: int) -> str:
    """Epochs run of the budget, per network times the networks for an ensemble."""
    overrides = VARIANTS.get(variant, ({}, False))[0]
    members = TrainingParameters(**overrides).members or 1  # the protocol's when the variant leaves it
    budget = overrides.get("epochs", budget)
    run = statistics.mean(r["epochs_run"] for r in runs)
    return f"{members} x {run:.0f} of {budget}" if members > 1 else f"{run:.0f} of {budget}"


def table(records: list[dict]) -> str:
    """The comparison table, one row per scene and variant, in Markdown."""
    lines = [
        "| scene | protocol | seeds | mean OA | worst | best | std | AA | kappa | epochs | train s (median) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    groups: dict[tuple, list[dict]] = {}
    for r in records:
        groups.setdefault((r["scene"], r["variant"], r["epochs"]), []).append(r)
    for (scene, variant, budget), runs in sorted(groups.items()):
        oa = [100 * r["oa"] for r in runs]
        std = statistics.stdev(oa) if len(oa) > 1 else float("nan")
        lines.append(
            f"| {scene} | {variant} | {len(runs)} | {statistics.mean(oa):.2f} | {min(oa):.2f} | {max(oa):.2f} | "
            f"{std:.2f} | {100 * statistics.mean(r['aa'] for r in runs):.2f} | "
            f"{statistics.mean(r['kappa'] for r in runs):.4f} | {_epochs(variant, runs, budget)} | "
            f"{statistics.median(r['train_seconds'] for r in runs):.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", default="paper,robust", help=f"comma-separated, of: {', '.join(VARIANTS)}")
    parser.add_argument("--scenes", default="demo,hard", help=f"comma-separated, of: {', '.join(SCENES)}")
    parser.add_argument("--seeds", type=int, default=8, help="training seeds 0..N-1 (default 8)")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=80)
    parser.add_argument("--size", type=int, default=300, help="scene side in pixels (default 300, the demo's)")
    parser.add_argument("--test-pixels", type=int, default=8000, help="reference pixels scored (default 8000)")
    parser.add_argument("--results", default="accuracy_ab/results.jsonl", help="runs, appended as they finish")
    parser.add_argument("--table-only", action="store_true", help="print the table of the runs so far")
    parser.add_argument("--threads", type=int, help="torch threads (one per process when several run side by side)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    results = Path(args.results)
    results.parent.mkdir(parents=True, exist_ok=True)
    records = [json.loads(line) for line in results.read_text().splitlines()] if results.exists() else []
    if not args.table_only:
        done = {_key(r) for r in records}
        folder = results.parent / "scenes"
        for scene_name in args.scenes.split(","):
            scene = _scene(folder, scene_name, args.size)
            sample = _test_sample(scene, args.test_pixels)
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                for variant in args.variants.split(","):
                    if variant not in VARIANTS:
                        parser.error(f"unknown variant {variant!r}")
                    if (scene_name, args.size, variant, seed, args.epochs) in done:
                        continue
                    record = run_one(scene, scene_name, args.size, variant, seed, args.epochs, sample)
                    records.append(record)
                    with results.open("a") as stream:
                        stream.write(json.dumps(record) + "\n")
                    print(
                        f"{scene_name} {variant} seed {seed}: OA {100 * record['oa']:.2f} %, "
                        f"{record['epochs_run']} epochs, {record['train_seconds']:.0f} s",
                        flush=True,
                    )
    print(table(records))
    return 0


if __name__ == "__main__":
    sys.exit(main())
