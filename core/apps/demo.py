"""The demo: a realistic scene from real field spectra, trained, classified and assessed.

Everything lands in one folder a QGIS user can open (``demo.qgz``): inputs,
model, styled classification, confidence, reports and a quicklook picture.
The folder is the demo's own: a new run replaces its files, each one only
once it is complete.
"""

from __future__ import annotations

import os
import time

import numpy as np

from ..errors import InputError
from ..progress import Progress, SilentProgress, SubProgress

__all__ = ["run_demo", "write_quicklook", "demo_project_layers"]


def write_quicklook(
    hsi_path: str, dsm_path: str, classes_path: str, reference_path: str, class_ids, names, colors, png_path: str
) -> None:
    """Four panels: true colour, DSM, classification, held-out reference."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    from ..io.grid import raster_grid
    from ..io.outputs import atomic_path
    from ..io.reading import read_raster_window

    grid = raster_grid(hsi_path)
    bands = _true_colour_bands(hsi_path)
    rgb = np.stack(
        [read_raster_window(hsi_path, 0, 0, grid.width, grid.height, band=b).astype(np.float32) for b in bands], -1
    )
    valid = rgb.min(axis=-1) > 0
    low, high = np.percentile(rgb[valid], [2, 98]) if valid.any() else (0.0, 1.0)
    rgb = np.clip((rgb - low) / max(high - low, 1e-6), 0, 1)
    dsm = read_raster_window(dsm_path, 0, 0, grid.width, grid.height).astype(np.float32)
    dsm = np.where(dsm < -1000, np.nan, dsm)
    lookup = np.zeros(max(class_ids) + 1, dtype=np.int64)
    lookup[list(class_ids)] = np.arange(1, len(class_ids) + 1)
    cmap = ListedColormap([(1, 1, 1, 0)] + [tuple(c / 255 for c in color) + (1,) for color in colors])
    panels = [
        ("True colour (640/550/470 nm)", rgb, {}),
        ("LiDAR DSM (m)", dsm, {"cmap": "terrain"}),
        (
            "NCGLF2 classification",
            lookup[read_raster_window(classes_path, 0, 0, grid.width, grid.height)],
            {"cmap": cmap, "vmin": 0, "vmax": len(class_ids), "interpolation": "nearest"},
        ),
        (
            "Held-out reference pixels",
            lookup[read_raster_window(reference_path, 0, 0, grid.width, grid.height)],
            {"cmap": cmap, "vmin": 0, "vmax": len(class_ids), "interpolation": "nearest"},
        ),
    ]
    figure = Figure(figsize=(16, 4.8), dpi=100)
    FigureCanvasAgg(figure)
    for i, (title, image, options) in enumerate(panels):
        axes = figure.add_subplot(1, 4, i + 1)
        shown = axes.imshow(image, **options)
        if i == 1:
            figure.colorbar(shown, ax=axes, fraction=0.046, pad=0.02)
        axes.set_title(title, fontsize=10)
        axes.set_axis_off()
    figure.legend(
        handles=[Patch(color=tuple(c / 255 for c in color), label=name) for name, color in zip(names, colors)],
        loc="lower center",
        ncol=min(len(names), 8),
        frameon=False,
        fontsize=9,
    )
    figure.subplots_adjust(left=0.01, right=0.99, top=0.93, bottom=0.12, wspace=0.08)
    with atomic_path(png_path) as temporary:
        figure.savefig(temporary, format="png")


#: The demo scene's side in pixels: its layout needs 96; beyond 20,000 it would take hours on a CPU.
MIN_DEMO_SIZE, MAX_DEMO_SIZE = 96, 20_000


def run_demo(
    out_dir: str = "demo_output",
    size: int = 300,
    epochs: int | None = None,
    seed: int = 0,
    device: str = "auto",
    progress: Progress | None = None,
) -> dict:
    """Build the scene, train with the paper protocol, classify it all, assess on held-out pixels."""
    from ..io.grid import raster_grid
    from ..io.qgis_project import write_qgis_project
    from ..jobs import assess, classify, train
    from ..requests import AssessRequest, ClassifyRequest, TrainingParameters
    from .demo_scene import build_demo_scene, training_request

    progress = progress or SilentProgress()
    params = TrainingParameters(epochs=epochs, seed=seed, device=device)  # every value checked before any work
    if not (isinstance(size, int) and MIN_DEMO_SIZE <= size <= MAX_DEMO_SIZE):
        raise InputError(f"the demo scene size must be from {MIN_DEMO_SIZE} to {MAX_DEMO_SIZE:,} pixels (got {size!r})")
    os.makedirs(out_dir, exist_ok=True)
    path = lambda name: os.path.join(out_dir, name)  # noqa: E731
    timings = {}

    started = time.perf_counter()
    progress.info(f"building the {size} x {size} demo scene from ASD field spectra in {out_dir}/")
    scene = build_demo_scene(out_dir, size=size, seed=seed)
    timings["scene"] = time.perf_counter() - started

    started = time.perf_counter()
    outcome = train(
        training_request(scene, path("model.ncglf2"), params, report=path("training_report.html"), overwrite=True),
        SubProgress(progress, 0, 60),
    )
    timings["train"] = time.perf_counter() - started

    started = time.perf_counter()
    result = classify(
        ClassifyRequest(
            model=path("model.ncglf2"),
            hsi=scene.hsi_path,
            lidar=(scene.lidar_path,),
            out=path("classification.tif"),
            confidence=path("confidence.tif"),
            device=device,
            overwrite=True,
        ),
        SubProgress(progress, 60, 97),
    )
    timings["classify"] = time.perf_counter() - started

    assessment = assess(
        AssessRequest(
            classification=path("classification.tif"),
            reference=scene.test_labels_path,
            model=path("model.ncglf2"),  # the report adds the accuracy away from the training pixels
            out_html=path("accuracy_report.html"),
            json_path=path("accuracy_report.json"),
            csv_path=path("accuracy_report.csv"),
            overwrite=True,
        ),
        SubProgress(progress, 97, 99),
    )
    write_quicklook(
        scene.hsi_path,
        scene.lidar_path,
        path("classification.tif"),
        scene.test_labels_path,
        scene.class_ids,
        scene.class_names,
        scene.class_colors,
        path("quicklook.png"),
    )
    write_qgis_project(
        path("demo.qgz"),
        demo_project_layers(scene, path("classification.tif"), path("confidence.tif")),
        raster_grid(scene.hsi_path).crs_wkt,
        title="NCGLF2 demo: hyperspectral + LiDAR land cover",
    )
    progress.set_progress(100)
    summary = {
        "oa": assessment.oa,
        "aa": assessment.aa,
        "kappa": assessment.kappa,
        "test_pixels": assessment.n,
        "train_seconds": timings["train"],
        "classify_seconds": timings["classify"],
        "pixels": result.pixels,
        "scene_seconds": timings["scene"],
        "best_epoch": outcome.history.best_epoch,
    }
    print(
        f"demo: OA {100 * assessment.oa:.2f} %  AA {100 * assessment.aa:.2f} %  kappa {assessment.kappa:.4f} "
        f"on {assessment.n} held-out pixels\n"
        f"      training {timings['train']:.0f} s, classification of {result.pixels} pixels {timings['classify']:.0f} s; "
        f"open {os.path.join(out_dir, 'demo.qgz')} in QGIS"
    )
    return summary


def demo_project_layers(scene, classification: str, confidence: str) -> list:
    """The demo project's layers, bottom to top: the class map opens on top of the true-colour image."""
    from ..io.qgis_project import ProjectLayer

    classes = [
        (cid, name, tuple(color)) for cid, name, color in zip(scene.class_ids, scene.class_names, scene.class_colors)
    ]
    return [
        ProjectLayer(scene.hsi_path, "Hyperspectral (true colour)", "rgb", bands=_true_colour_bands(scene.hsi_path)),
        ProjectLayer(scene.lidar_path, "LiDAR DSM", "pseudocolor", visible=False),
        ProjectLayer(confidence, "Confidence", "gray", minimum=0.0, maximum=1.0, visible=False),
        ProjectLayer(scene.test_labels_path, "Held-out reference", "paletted", classes=classes, visible=False),
        ProjectLayer(scene.train_labels_path, "Training polygons", "vector", visible=False),
        ProjectLayer(classification, "NCGLF2 classification", "paletted", classes=classes),
    ]


def _true_colour_bands(hsi_path: str) -> tuple[int, int, int]:
    from ..io.reading import raster_band_centres

    centres = raster_band_centres(hsi_path)
    if centres is None:
        return (1, 2, 3)
    r, g, b = (int(np.argmin(np.abs(centres - nm))) + 1 for nm in (640.0, 550.0, 470.0))
    return (r, g, b)
