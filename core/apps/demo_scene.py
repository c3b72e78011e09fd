"""A small synthetic HSI + LiDAR scene for demos, tutorials and end-to-end tests.

Users (and our tests) need a scene that behaves like a real campaign without
shipping gigabytes: a coastal town at 1 m in UTM 16N, built from real ASD field
spectra of the MUUFL Gulfport collection (``data/spectra.csv``), with roads,
sidewalks, buildings, lawns, trees, soil patches and a beach. Some classes are
alike in spectra but not in height (grass / tree, sidewalk / building roof,
asphalt road / dark roof), so a model has to use the DSM to separate them.

Everything is deterministic for a seed and vectorised over pixels; the loops
run over objects (buildings, trees) or ray-marching steps only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from osgeo import gdal, ogr, osr

from ..errors import InputError
from ..io.crs import gdal_errors
from ..io.outputs import atomic_path

__all__ = [
    "DemoScene",
    "DemoClass",
    "DEMO_CLASSES",
    "HARD_DEMO_CLASSES",
    "build_demo_scene",
    "read_spectra_table",
    "SPECTRA_CSV",
]

SPECTRA_CSV = Path(__file__).resolve().parent.parent / "data" / "spectra.csv"

EPSG = 32616  # UTM zone 16N, where the MUUFL Gulfport campus lies
ORIGIN = (294800.0, 3361000.0)  # upper-left corner, near Gulfport, Mississippi
HSI_NODATA = 0
DSM_NODATA = -9999.0
REFLECTANCE_SCALE = 10000.0

SUN_AZIMUTH_DEG = 135.0  # from north, clockwise: a morning sun in the south-east
SUN_ELEVATION_DEG = 55.0
SKY_FRACTION = 0.18  # share of diffuse skylight on flat ground at 550 nm


@dataclass(frozen=True)
class DemoClass:
    """A land-cover class: its name, display colour and the field materials it is made of.

    Each object blends its ``materials`` in a random proportion, then mixes in
    a share (drawn in ``admixture_range``) of ``admixture``: what a 1 m pixel
    really sees besides the main surface (lawn through canopy gaps, concrete
    in roofs, dust on asphalt). The admixtures are what make some classes
    alike in spectra, as they are in real scenes.
    """

    name: str
    color: tuple[int, int, int]
    materials: tuple[str, ...]
    admixture: str | None = None
    admixture_range: tuple[float, float] = (0.0, 0.0)


# Names in sorted order: the engine numbers text classes in sorted order, so
# these ids (1..K) are the ones a model trained on the polygons will use.
DEMO_CLASSES: tuple[DemoClass, ...] = (
    DemoClass("asphalt road", (100, 100, 100), ("Asphalt",), "Sidewalk", (0.0, 0.2)),
    DemoClass("bare soil", (165, 115, 65), ("Dirt",), "BeachSand", (0.0, 0.3)),
    # Flat roofs: gray membrane to bare concrete deck (the sidewalk's concrete).
    DemoClass("building roof", (205, 80, 60), ("Building",), "Sidewalk", (0.3, 1.0)),
    # There is no shingle measurement: shingles are asphalt with gray mineral granules.
    DemoClass("dark roof", (125, 40, 35), ("Asphalt",), "Building", (0.0, 0.35)),
    # Lawns hold clover, weeds and low shrubs; canopies show the lawn through gaps.
    DemoClass("grass", (130, 205, 85), ("GrassByBuilding", "GrassClumpInSun"), "LiveOakLeaves", (0.0, 0.45)),
    DemoClass("sand", (240, 222, 155), ("BeachSand",), "Dirt", (0.0, 0.15)),
    DemoClass("sidewalk", (205, 205, 205), ("Sidewalk",)),
    DemoClass("tree", (30, 110, 40), ("LiveOakLeaves", "FriendshipOak"), "GrassByBuilding", (0.05, 0.5)),
)
# The harder scene adds classes that differ from others only in height: shrubs
# are low trees, tall buildings high flat roofs.
HARD_DEMO_CLASSES: tuple[DemoClass, ...] = tuple(
    sorted(
        DEMO_CLASSES
        + (
            DemoClass("shrub", (120, 160, 60), ("LiveOakLeaves", "FriendshipOak"), "GrassByBuilding", (0.05, 0.5)),
            DemoClass("tall building", (230, 140, 120), ("Building",), "Sidewalk", (0.3, 1.0)),
        ),
        key=lambda c: c.name,
    )
)
# Spectral variability: whole objects (z ~ N(0, 1) along the field modes),
# single pixels (white), brightness per object and per pixel.
_OBJECT_MODE_SD = 0.8
_PIXEL_MODE_SD = 0.35
_OBJECT_BRIGHTNESS_SD = 0.06
_PIXEL_BRIGHTNESS_SD = 0.025
_PIXEL_BLEND_SD = 0.08


@dataclass
class DemoScene:
    """Paths and class table of a built demo scene."""

    hsi_path: str
    lidar_path: str
    train_labels_path: str
    test_labels_path: str
    classes_csv: str
    class_names: list[str]
    class_colors: list[tuple[int, ...]]
    class_ids: list[int]


def read_spectra_table(path: Path = SPECTRA_CSV) -> tuple[np.ndarray, dict[str, dict[str, np.ndarray]]]:
    """Band centres (nm) and per-material statistics (mean, std, mode1..) from the table."""
    wavelengths = None
    table: dict[str, dict[str, np.ndarray]] = {}
    for line in path.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        fields = line.split(",")
        if wavelengths is None:
            wavelengths = np.array(fields[2:], dtype=np.float64)
            continue
        table.setdefault(fields[0], {})[fields[1]] = np.array(fields[2:], dtype=np.float64)
    if wavelengths is None or not table:
        raise InputError(f"the spectra table {path} holds no data")
    return wavelengths, table


# ---------------------------------------------------------------------------
# Small raster helpers (whole-array numpy, no per-pixel loops)


def _shift(a: np.ndarray, dy: int, dx: int, fill) -> np.ndarray:
    """``a`` moved so that out[y, x] = a[y + dy, x + dx]; outside is ``fill``."""
    out = np.full_like(a, fill)
    h, w = a.shape[:2]
    if abs(dy) >= h or abs(dx) >= w:
        return out
    ys, yd = (slice(dy, h), slice(0, h - dy)) if dy >= 0 else (slice(0, h + dy), slice(-dy, h))
    xs, xd = (slice(dx, w), slice(0, w - dx)) if dx >= 0 else (slice(0, w + dx), slice(-dx, w))
    out[yd, xd] = a[ys, xs]
    return out


def _erode_same(values: np.ndarray, radius: int) -> np.ndarray:
    """True where the (2r+1)^2 window around a pixel holds only the pixel's own value."""
    same = np.ones(values.shape, dtype=bool)
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            same &= _shift(values, dy, dx, -1) == values
    return same


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Square dilation, separable."""
    out = mask.copy()
    for d in range(1, radius + 1):
        out |= _shift(mask, d, 0, False) | _shift(mask, -d, 0, False)
    rows = out.copy()
    for d in range(1, radius + 1):
        out |= _shift(rows, 0, d, False) | _shift(rows, 0, -d, False)
    return out


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, ...], scale: float) -> np.ndarray:
    """Gaussian random field(s) with unit std and correlation length ``scale`` pixels.

    ``shape`` is (H, W) or (H, W, C); fields are filtered in the Fourier domain.
    """
    h, w = shape[:2]
    white = rng.standard_normal(shape)
    fy = np.fft.fftfreq(int(h))[:, None]  # type: ignore[call-overload]  # numpy 1.24 stubs
    fx = np.fft.fftfreq(int(w))[None, :]  # type: ignore[call-overload]
    kernel = np.exp(-2.0 * (np.pi * scale) ** 2 * (fy**2 + fx**2))
    if white.ndim == 3:
        kernel = kernel[:, :, None]
    field = np.real(np.fft.ifft2(np.fft.fft2(white, axes=(0, 1)) * kernel, axes=(0, 1)))
    field -= field.mean(axis=(0, 1))
    return field / np.maximum(field.std(axis=(0, 1)), 1e-12)


def _blur3(cube: np.ndarray, sigma: float) -> np.ndarray:
    """Separable 3-tap Gaussian over the first two axes: the sensor's point spread."""
    side = np.exp(-0.5 / sigma**2)
    w0, w1 = 1.0 / (1.0 + 2.0 * side), side / (1.0 + 2.0 * side)
    padded = np.pad(cube, ((1, 1), (0, 0), (0, 0)), mode="edge")
    cube = w0 * padded[1:-1] + w1 * (padded[:-2] + padded[2:])
    padded = np.pad(cube, ((0, 0), (1, 1), (0, 0)), mode="edge")
    return w0 * padded[:, 1:-1] + w1 * (padded[:, :-2] + padded[:, 2:])


# ---------------------------------------------------------------------------
# Layout: classes, object ids and heights


@dataclass
class _Layout:
    classes: np.ndarray  # index into ``table``
    objects: np.ndarray  # object id; 0 for continuous covers (grass, sand, roads, sidewalks)
    dsm: np.ndarray  # metres above sea level
    terrain: np.ndarray
    object_count: int
    table: tuple[DemoClass, ...] = DEMO_CLASSES


def _terrain(rng: np.random.Generator, size: int, yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    """Land rising gently away from the beach, with a few low hills."""
    height = 1.0 + 4.0 * (1.0 - yy / size) ** 1.5
    for _ in range(4):
        cy, cx = rng.uniform(0, 0.8 * size), rng.uniform(0, size)
        sigma = rng.uniform(0.12, 0.3) * size
        height += rng.uniform(0.8, 2.5) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma**2))
    return height


def _layout(rng: np.random.Generator, size: int, table: tuple[DemoClass, ...] = DEMO_CLASSES) -> _Layout:
    """Place roads, sidewalks, beach, parking lots, soil, buildings and trees (and shrubs, tall buildings)."""
    hard = "shrub" in (c.name for c in table)

    def index_of(name: str) -> int:
        return [c.name for c in table].index(name)

    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    terrain = _terrain(rng, size, yy, xx)
    classes = np.full((size, size), index_of("grass"), dtype=np.uint8)
    objects = np.zeros((size, size), dtype=np.int32)
    dsm = terrain.copy()
    next_id = 1

    # Coastal road with sidewalks, beach below it.
    beach = max(8.0, 0.13 * size)
    road_w, walk_w = 7, 3
    road_bottom = int(size - beach - 2)
    road_top = road_bottom - road_w
    sand_top = road_bottom + walk_w + 1.5 + 1.5 * np.sin(xx / rng.uniform(9, 15) + rng.uniform(0, 6))
    classes[yy >= sand_top] = index_of("sand")
    streets = np.zeros((size, size), dtype=bool)
    streets[road_top:road_bottom, :] = True
    # Inland streets: north-south every ~100 m, one east-west street on larger scenes.
    n_vertical = max(1, int(round(size / 110)))
    for k in range(n_vertical):
        centre = int((k + 0.5) * size / n_vertical + rng.uniform(-0.08, 0.08) * size / n_vertical)
        streets[:road_top, centre - road_w // 2 : centre - road_w // 2 + road_w] = True
    if size >= 150:
        y0 = int(0.3 * size + rng.uniform(-5, 5))
        streets[y0 : y0 + road_w, :] = True
    walks = _dilate(streets, walk_w) & ~streets
    walks &= yy < road_bottom + walk_w
    classes[walks] = index_of("sidewalk")
    classes[streets] = index_of("asphalt road")
    built = _dilate(streets | walks, 1) | (yy >= road_top - 3)  # keep lots off streets and beach

    def free(y0: int, y1: int, x0: int, x1: int, margin: int) -> bool:
        ya, yb, xa, xb = max(y0 - margin, 0), min(y1 + margin, size), max(x0 - margin, 0), min(x1 + margin, size)
        return y0 >= 0 and x0 >= 0 and y1 <= size and x1 <= size and not built[ya:yb, xa:xb].any()

    area = size * size
    # Parking lots and bare soil patches first, so that even small scenes hold them.
    for name, count, (lo, hi) in (
        ("asphalt road", max(1, area // 20000), (8, 20)),
        ("bare soil", max(4, area // 4000), (8, 18)),
    ):
        made = 0
        for _ in range(count * 40):
            if made >= count:
                break
            h, w = rng.integers(lo, hi, size=2)
            y0, x0 = int(rng.integers(0, size - h)), int(rng.integers(0, size - w))
            if not free(y0, y0 + h, x0, x0 + w, 1):
                continue
            window = (slice(y0, y0 + h), slice(x0, x0 + w))
            if name == "bare soil":  # an irregular ellipse rather than a box
                ry, rx = h / 2, w / 2
                r = ((yy[window] - y0 - ry + 0.5) / ry) ** 2 + ((xx[window] - x0 - rx + 0.5) / rx) ** 2
                shape = r <= 1.0 + 0.15 * rng.standard_normal(r.shape).clip(-1, 1)
            else:
                shape = np.ones((h, w), dtype=bool)
            classes[window][shape] = index_of(name)
            objects[window][shape] = next_id
            built[window] |= shape
            next_id += 1
            made += 1

    # Buildings: alternate gray (mostly flat) and dark (mostly pitched) roofs.
    target = max(4, area // 1700)
    placed = 0
    for attempt in range(target * 40):
        if placed >= target:
            break
        h, w = rng.integers(8, 23 if attempt < target * 20 else 13, size=2)  # smaller when space is short
        y0, x0 = int(rng.integers(0, size - h)), int(rng.integers(0, size - w))
        if not free(y0, y0 + h, x0, x0 + w, 2):
            continue
        dark = placed % 2 == 1 if placed < 4 else rng.random() < 0.45
        name = "dark roof" if dark else "building roof"
        # The harder scene: a third of the gray roofs are flat and tall, the others no higher than 9 m.
        tall = hard and not dark and (placed == 2 or rng.random() < 0.33)
        window = (slice(y0, y0 + h), slice(x0, x0 + w))
        base = terrain[window].max()
        if tall:
            name = "tall building"
            roof = np.full((h, w), base + rng.uniform(14.0, 30.0))
        elif hard and not dark:
            roof = np.full((h, w), base + rng.uniform(4.0, 9.0))
        elif rng.random() < (0.85 if dark else 0.2):  # gable roof, ridge along the long side
            eave = rng.uniform(4.0, 7.0)
            ridge = rng.uniform(2.0, 4.0)
            if w >= h:
                d = np.abs(yy[window] - (y0 + (h - 1) / 2)) / (h / 2)
            else:
                d = np.abs(xx[window] - (x0 + (w - 1) / 2)) / (w / 2)
            roof = base + eave + ridge * (1.0 - d)
        else:
            roof = np.full((h, w), base + rng.uniform(4.0, 15.0))
        classes[window] = index_of(name)
        objects[window] = next_id
        dsm[window] = roof
        built[window] = True
        next_id += 1
        placed += 1

    # Tree clusters over lawns and soil (crowns may overhang sidewalks, never roofs or roads).
    roof_names = ("building roof", "dark roof", "tall building") if hard else ("building roof", "dark roof")
    roofs = np.isin(classes, [index_of(n) for n in roof_names])
    blocked = _dilate(roofs, 1) | np.isin(classes, [index_of("asphalt road"), index_of("sand")])
    lawn_rows, lawn_cols = np.nonzero((classes == index_of("grass")) & ~_dilate(blocked, 3))
    target = max(12, area // 600)
    planted, in_cluster, cy, cx, shrubs = 0, 0, 0.0, 0.0, False
    for _ in range(target * 12):
        if planted >= target or lawn_rows.size == 0:
            break
        if in_cluster == 0:  # start a new cluster of 2-8 trees on open lawn
            pick = int(rng.integers(lawn_rows.size))
            cy, cx = lawn_rows[pick] + 0.5, lawn_cols[pick] + 0.5
            in_cluster = int(rng.integers(2, 9))
            shrubs = hard and rng.random() < 0.5  # the harder scene: clusters of shrubs, as green as trees
        in_cluster -= 1
        radius = rng.uniform(2.5, 4.5) if shrubs else rng.uniform(2.5, 6.0)
        ty, tx = cy + rng.normal(0, 5), cx + rng.normal(0, 5)
        y0, y1 = int(max(ty - radius - 1, 0)), int(min(ty + radius + 2, size))
        x0, x1 = int(max(tx - radius - 1, 0)), int(min(tx + radius + 2, size))
        if y1 <= y0 or x1 <= x0:
            continue
        window = (slice(y0, y1), slice(x0, x1))
        r = np.hypot(yy[window] - ty, xx[window] - tx) / radius
        crown = r <= 1.0
        if not crown.any() or (crown & blocked[window]).any():
            continue
        top = rng.uniform(0.8, 2.5) if shrubs else rng.uniform(max(5.0, 1.2 * radius), 20.0)
        canopy = terrain[window] + top * (0.65 + 0.35 * np.sqrt(np.clip(1.0 - r**2, 0.0, 1.0)))
        higher = crown & (canopy > dsm[window])  # overlapping crowns: the taller one shows
        classes[window][higher] = index_of("shrub" if shrubs else "tree")
        objects[window][higher] = next_id
        dsm[window][higher] = canopy[higher]
        next_id += 1
        planted += 1
    return _Layout(classes, objects, dsm, terrain, next_id, table)


# ---------------------------------------------------------------------------
# Radiometry


def _reflectance(
    rng: np.random.Generator, layout: _Layout, table: dict[str, dict[str, np.ndarray]], bands: int
) -> np.ndarray:
    """Per-pixel reflectance (H, W, B) drawn from each class's field statistics."""
    size = layout.classes.shape[0]
    modes = ("mode1", "mode2", "mode3")
    # Objects vary as a whole; continuous covers (lawns, roads, beach) vary smoothly.
    object_z = rng.normal(0.0, _OBJECT_MODE_SD, (layout.object_count, len(modes)))
    object_blend = rng.random((layout.object_count, 2))
    object_gain = rng.normal(1.0, _OBJECT_BRIGHTNESS_SD, layout.object_count)
    field_z = _OBJECT_MODE_SD * _smooth_noise(rng, (size, size, len(modes)), 8.0)
    field_blend = 0.5 + 0.5 * np.tanh(_smooth_noise(rng, (size, size, 2), 6.0))
    field_gain = 1.0 + _OBJECT_BRIGHTNESS_SD * _smooth_noise(rng, (size, size), 10.0)
    pixel_z = rng.normal(0.0, _PIXEL_MODE_SD, (size, size, len(modes)))
    pixel_blend = rng.normal(0.0, _PIXEL_BLEND_SD, (size, size, 2))
    pixel_gain = rng.normal(1.0, _PIXEL_BRIGHTNESS_SD, (size, size))

    is_object = layout.objects > 0
    z = np.where(is_object[..., None], object_z[layout.objects], field_z) + pixel_z
    blend = np.clip(np.where(is_object[..., None], object_blend[layout.objects], field_blend) + pixel_blend, 0.0, 1.0)
    gain = np.where(is_object, object_gain[layout.objects], field_gain) * pixel_gain

    def material(name: str, where: np.ndarray) -> np.ndarray:
        stats = table[name]
        basis = np.stack([stats[m] for m in modes])  # (modes, bands)
        return stats["mean"][None, :] + z[where] @ basis

    cube = np.zeros((size, size, bands), dtype=np.float64)
    for index, demo_class in enumerate(layout.table):
        where = layout.classes == index
        if not where.any():
            continue
        spectra = material(demo_class.materials[0], where)
        if len(demo_class.materials) > 1:
            share = blend[where][:, 0:1]
            spectra = share * spectra + (1.0 - share) * material(demo_class.materials[1], where)
        if demo_class.admixture is not None:
            lo, hi = demo_class.admixture_range
            share = lo + (hi - lo) * blend[where][:, 1:2]
            spectra = (1.0 - share) * spectra + share * material(demo_class.admixture, where)
        cube[where] = spectra * gain[where][:, None]
    return np.clip(cube, 0.002, None)


def _shading(layout: _Layout, wavelengths: np.ndarray) -> np.ndarray:
    """Illumination factor (H, W, B): slope shading, cast shadows and bluish skylight in shade."""
    dsm = layout.dsm
    azimuth, elevation = np.radians(SUN_AZIMUTH_DEG), np.radians(SUN_ELEVATION_DEG)
    # Surface normals from neighbours on the same surface, so walls do not tilt roof edges.
    surface = np.where(layout.objects > 0, layout.objects, -1 - layout.classes.astype(np.int32))
    grads = []
    for dy, dx in ((0, 1), (1, 0)):
        ahead, behind = _shift(dsm, dy, dx, np.nan), _shift(dsm, -dy, -dx, np.nan)
        ok_a = _shift(surface, dy, dx, -999) == surface
        ok_b = _shift(surface, -dy, -dx, -999) == surface
        diff = np.where(
            ok_a & ok_b, (ahead - behind) / 2, np.where(ok_a, ahead - dsm, np.where(ok_b, dsm - behind, 0.0))
        )
        grads.append(np.nan_to_num(diff))
    dzdx, dzdy = grads  # x east, y south
    # Unit vector to the sun in (east, south, up).
    sun = np.array([np.sin(azimuth) * np.cos(elevation), -np.cos(azimuth) * np.cos(elevation), np.sin(elevation)])
    cos_i = (-dzdx * sun[0] - dzdy * sun[1] + sun[2]) / np.sqrt(1.0 + dzdx**2 + dzdy**2)
    direct = np.clip(cos_i, 0.0, None) / sun[2]

    # Cast shadows: march towards the sun; a pixel is shaded if anything rises above the ray.
    shadow = np.zeros(dsm.shape, dtype=bool)
    step_x, step_y = sun[0] / np.hypot(sun[0], sun[1]), sun[1] / np.hypot(sun[0], sun[1])
    rise = np.tan(elevation)
    reach = int(np.ceil((dsm.max() - dsm.min()) / rise)) + 1
    for t in range(1, reach + 1):
        ahead = _shift(dsm, int(round(t * step_y)), int(round(t * step_x)), -np.inf)
        shadow |= ahead > dsm + t * rise + 0.3
    direct = np.where(shadow, 0.0, direct)

    sky = SKY_FRACTION * (wavelengths / 550.0) ** -2.0  # Rayleigh-like skylight spectrum
    sunlit = 1.0 - SKY_FRACTION
    return (sunlit * direct[..., None] + sky[None, None, :]) / (sunlit + sky[None, None, :])


def _sensor_noise_sd(wavelengths: np.ndarray) -> np.ndarray:
    """Noise (reflectance units) per band: worst at the blue and near-infrared ends."""
    return 0.002 * (
        1.0
        + 3.0 * np.exp(-(wavelengths - wavelengths[0]) / 30.0)
        + 4.0 * np.exp(-(wavelengths[-1] - wavelengths) / 40.0)
    )


# ---------------------------------------------------------------------------
# Labels


def _training_squares(
    rng: np.random.Generator, layout: _Layout, valid: np.ndarray, per_class: int
) -> list[tuple[int, int, int, int]]:
    """(class index, row, col, radius) of squares fully inside one object each.

    Continuous covers are cut into 32 m cells so that a lawn or a beach gives
    several separate places to digitise, as a user would.
    """
    size = layout.classes.shape[0]
    yy, xx = np.mgrid[0:size, 0:size]
    cells = (yy // 32) * ((size + 31) // 32) + xx // 32 + 1
    region = np.where(layout.objects > 0, layout.objects, -(cells * len(layout.table) + layout.classes)).astype(
        np.int64
    )
    region = np.where(valid, region, 0)
    squares = []
    inside_by_radius = {r: _erode_same(region, r) & valid for r in (3, 2, 1)}
    for index in range(len(layout.table)):
        places = np.unique(region[(layout.classes == index) & valid]).size
        # A class found in one place only gets a small polygon, leaving most of it to the reference.
        for radius in (3, 2, 1) if places > 1 else (1,):
            rows, cols = np.nonzero(inside_by_radius[radius] & (layout.classes == index))
            if rows.size:
                break
        if not rows.size:
            raise InputError(f"the demo scene is too small to hold the class {layout.table[index].name!r}")
        order = rng.permutation(rows.size)
        _, first = np.unique(region[rows[order], cols[order]], return_index=True)
        picks = order[first]
        # Leave at least half of the places to the held-out reference.
        picks = picks[rng.permutation(picks.size)][: min(per_class, (picks.size + 1) // 2)]
        squares += [(index, int(rows[p]), int(cols[p]), radius) for p in picks]
    return squares


def _polygon_ring(rng: np.random.Generator, row: int, col: int, radius: int) -> list[tuple[float, float]]:
    """An irregular hand-digitised-looking ring (pixel coords) inside the square's inscribed circle."""
    count = int(rng.integers(5, 9))
    angles = np.sort(rng.uniform(0, 2 * np.pi, count))
    reach = (radius + 0.5) * rng.uniform(0.7, 0.98, count)
    ys = row + 0.5 + reach * np.sin(angles)
    xs = col + 0.5 + reach * np.cos(angles)
    ring = list(zip(xs.tolist(), ys.tolist()))
    return ring + ring[:1]


# ---------------------------------------------------------------------------
# Writers


def srs_from_wkt() -> osr.SpatialReference:
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(EPSG)
    srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return srs


def _create_tiff(path: str, size: int, bands: int, data_type: int) -> gdal.Dataset:
    block = 128 if size >= 128 else 64
    options = ["TILED=YES", f"BLOCKXSIZE={block}", f"BLOCKYSIZE={block}", "COMPRESS=DEFLATE", "PREDICTOR=2"]
    if bands > 1:
        options.append("INTERLEAVE=PIXEL")
    ds = gdal.GetDriverByName("GTiff").Create(path, size, size, bands, data_type, options)
    ds.SetGeoTransform((ORIGIN[0], 1.0, 0.0, ORIGIN[1], 0.0, -1.0))
    ds.SetProjection(srs_from_wkt().ExportToWkt())
    return ds


def _write_hsi(path: str, cube: np.ndarray, wavelengths: np.ndarray) -> None:
    size, _, bands = cube.shape
    with atomic_path(path) as tmp:
        ds = _create_tiff(tmp, size, bands, gdal.GDT_UInt16)
        ds.SetMetadata({"reflectance_scale_factor": f"{REFLECTANCE_SCALE:g}", "wavelength_units": "nm"})
        for b in range(bands):
            band = ds.GetRasterBand(b + 1)
            band.SetDescription(f"{wavelengths[b]:.1f} nm")
            band.SetMetadata({"wavelength": f"{wavelengths[b]:.2f}", "wavelength_units": "nm"})
            band.SetNoDataValue(HSI_NODATA)
            band.WriteArray(cube[:, :, b])
        ds.FlushCache()
        ds = None


def _write_dsm(path: str, dsm: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        ds = _create_tiff(tmp, dsm.shape[0], 1, gdal.GDT_Float32)
        band = ds.GetRasterBand(1)
        band.SetDescription("DSM height (m)")
        band.SetNoDataValue(DSM_NODATA)
        band.WriteArray(dsm.astype(np.float32))
        ds.FlushCache()
        ds = None


def _write_labels_raster(path: str, labels: np.ndarray, table: tuple[DemoClass, ...]) -> None:
    with atomic_path(path) as tmp:
        ds = _create_tiff(tmp, labels.shape[0], 1, gdal.GDT_Byte)
        band = ds.GetRasterBand(1)
        band.SetDescription("reference class id")
        band.SetNoDataValue(0)
        colors = gdal.ColorTable()
        colors.SetColorEntry(0, (0, 0, 0, 0))
        for class_id, demo_class in enumerate(table, start=1):
            colors.SetColorEntry(class_id, (*demo_class.color, 255))
        band.SetRasterColorTable(colors)
        band.SetCategoryNames(["unlabelled"] + [c.name for c in table])
        band.WriteArray(labels)
        ds.FlushCache()
        ds = None


def _write_polygons(path: str, polygons: list[tuple[str, list[tuple[float, float]]]]) -> None:
    with atomic_path(path) as tmp:
        ds = ogr.GetDriverByName("GPKG").CreateDataSource(tmp)
        layer = ds.CreateLayer("train_labels", srs_from_wkt(), ogr.wkbPolygon)
        layer.CreateField(ogr.FieldDefn("class", ogr.OFTString))
        for name, ring_xy in polygons:
            ring = ogr.Geometry(ogr.wkbLinearRing)
            for x, y in ring_xy:
                ring.AddPoint_2D(x, y)
            polygon = ogr.Geometry(ogr.wkbPolygon)
            polygon.AddGeometry(ring)
            feature = ogr.Feature(layer.GetLayerDefn())
            feature.SetField("class", name)
            feature.SetGeometry(polygon)
            layer.CreateFeature(feature)
        ds = None


def _write_classes_csv(path: str, table: tuple[DemoClass, ...]) -> None:
    lines = ["id,name,color"]
    for class_id, demo_class in enumerate(table, start=1):
        lines.append(
            f"{class_id},{demo_class.name},#{demo_class.color[0]:02x}{demo_class.color[1]:02x}{demo_class.color[2]:02x}"
        )
    with atomic_path(path) as tmp:
        Path(tmp).write_text("\n".join(lines) + "\n")


# ---------------------------------------------------------------------------


def training_request(scene: DemoScene, out: str, params, report: str | None = None, overwrite: bool = False):
    """The train request of a demo scene: its polygons with their class table."""
    from ..requests import TrainRequest

    return TrainRequest(
        hsi=scene.hsi_path,
        lidar=(scene.lidar_path,),
        labels=scene.train_labels_path,
        out=out,
        class_field="class",
        class_csv=scene.classes_csv,
        report=report,
        overwrite=overwrite,
        params=params,
    )


def build_demo_scene(out_dir: str, size: int = 300, seed: int = 0, hard: bool = False) -> DemoScene:
    """Write the demo scene (HSI, DSM, training polygons, test raster, class table) into ``out_dir``.

    ``size`` is the side in pixels (1 m each); 96 is the smallest that holds
    every class in both the training polygons and the reference raster.
    ``hard`` adds shrubs and tall buildings, classes told from trees and
    roofs by their height only: a harder test of the fusion.
    """
    kinds = HARD_DEMO_CLASSES if hard else DEMO_CLASSES
    if size < 96:
        raise InputError(f"the demo scene size must be at least 96 pixels, got {size}")
    names = [c.name for c in kinds]
    assert names == sorted(names), "the demo classes must be in sorted name order"
    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(seed)
    wavelengths, table = read_spectra_table()
    used = {m for c in kinds for m in c.materials} | {c.admixture for c in kinds if c.admixture}
    missing = sorted(used - set(table))
    if missing:
        raise InputError(f"the spectra table {SPECTRA_CSV} lacks the materials {', '.join(missing)}")
    bands = wavelengths.size

    layout = _layout(rng, size, kinds)
    reflectance = _reflectance(rng, layout, table, bands) * _shading(layout, wavelengths)
    reflectance = _blur3(reflectance, 0.6)  # mixed pixels at edges
    noise_sd = _sensor_noise_sd(wavelengths)
    reflectance += rng.standard_normal(reflectance.shape) * (noise_sd + 0.01 * reflectance)
    cube = np.clip(np.round(reflectance * REFLECTANCE_SCALE), 1, 65535).astype(np.uint16)

    yy, xx = np.mgrid[0:size, 0:size]
    # Missing data: the HSI flight line misses the north-east corner; the LiDAR strip a western sliver.
    hsi_missing = xx >= size - 0.1 * size * (1.0 - yy / (0.35 * size))
    dsm_missing = (xx < 2) & (yy < 0.25 * size)
    cube[hsi_missing] = HSI_NODATA
    dsm = layout.dsm + rng.normal(0.0, 0.05, layout.dsm.shape)
    dsm = np.where(dsm_missing, DSM_NODATA, dsm)
    valid = ~hsi_missing & ~dsm_missing

    squares = _training_squares(rng, layout, valid, per_class=4)
    train_mask = np.zeros((size, size), dtype=bool)
    polygons = []
    for index, row, col, radius in squares:
        train_mask[row - radius : row + radius + 1, col - radius : col + radius + 1] = True
        ring = _polygon_ring(rng, row, col, radius)
        polygons.append((kinds[index].name, [(ORIGIN[0] + x, ORIGIN[1] - y) for x, y in ring]))
    # Reference pixels: object interiors (edge pixels are mixed), away from the training polygons.
    interior = _erode_same(np.where(valid, layout.classes.astype(np.int32), -1), 1) & valid
    test = np.where(interior & ~_dilate(train_mask, 1), layout.classes + 1, 0).astype(np.uint8)

    out = Path(out_dir)
    scene = DemoScene(
        hsi_path=str(out / "hsi.tif"),
        lidar_path=str(out / "dsm.tif"),
        train_labels_path=str(out / "train_labels.gpkg"),
        test_labels_path=str(out / "test_labels.tif"),
        classes_csv=str(out / "classes.csv"),
        class_names=names,
        class_colors=[c.color for c in kinds],
        class_ids=list(range(1, len(kinds) + 1)),
    )
    with gdal_errors():
        _write_hsi(scene.hsi_path, cube, wavelengths)
        _write_dsm(scene.lidar_path, dsm)
        _write_labels_raster(scene.test_labels_path, test, kinds)
        _write_polygons(scene.train_labels_path, polygons)
    _write_classes_csv(scene.classes_csv, kinds)
    return scene
