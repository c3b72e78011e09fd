"""Regenerate ``core/data/spectra.csv`` from the MUUFL Gulfport ASD field spectra.

The demo scene must build without the shared data folder, so the few numbers
it needs (per material: mean, standard deviation and the main modes of
variation of its field measurements, resampled to the demo sensor's 64 bands)
are kept in a small table inside the package. This script is how that table
was made; run it again if the band set or the material list changes::

    python tools/make_spectra_table.py [/path/to/muufl_asd_spectra] [out.csv]

Only the standard library and numpy are used.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = ROOT.parent / "shared" / "data" / "muufl_asd_spectra"
DEFAULT_OUTPUT = ROOT / "core" / "data" / "spectra.csv"

# The demo sensor: 64 bands, centres evenly spaced from 380 to 1050 nm,
# Gaussian response whose FWHM equals the band spacing (like most pushbroom
# imagers, whose bands overlap at half maximum).
BAND_COUNT = 64
FIRST_NM = 380.0
LAST_NM = 1050.0
MODE_COUNT = 3

# Material -> measurement files. Files left out are named with the reason so
# the choice can be reviewed: they mix other targets in or were taken in shade.
MATERIALS: dict[str, list[str]] = {
    "Asphalt": [
        "Asphalt/AsphaltBeachParkingLot01_10.txt",
        "Asphalt/AsphaltByHardy01_10.txt",
        # AsphaltBeachParkingLot11_20: brightness varies x3 within the file (paint, curbs).
    ],
    "Building": [
        "Building/Building01_10.txt",
        "Building/Building31_40.txt",
        "Building/building21_30.txt",
        # Building11_20: reflectance above 1 (specular white panel), not a roof.
    ],
    "Sidewalk": [
        "Sidewalk/SidewalkInSun.txt",
        # SidewalkInShade: diffuse illumination only; the scene models shade itself.
    ],
    "Dirt": ["Dirt/Dirt01_05.txt"],
    "BeachSand": [f"BeachSand/BeachSand{a:02d}_{a + 4:02d}.txt" for a in range(1, 40, 5)],
    "GrassByBuilding": ["GrassByBuilding/GrassByBuilding01_10.txt"],
    "GrassClumpInSun": ["GrassClumpInSun/GrassClumpInSun00_02.txt"],
    "LiveOakLeaves": [f"LiveOakLeaves/LiveOakLeaves{a:02d}_{a + 9:02d}.txt" for a in range(1, 70, 10)],
    "FriendshipOak": [
        "FriendshipOak/FriendshipOak01_10.txt",
        "FriendshipOak/FriendshipOak11_20.txt",
        "FriendshipOak/FriendshipOak21_30.txt",
        # FriendshipOakBark*: trunk bark, hidden under the crown from above.
    ],
}


def band_centres() -> np.ndarray:
    """Centre wavelengths (nm) of the demo sensor's bands."""
    return np.linspace(FIRST_NM, LAST_NM, BAND_COUNT)


def read_asd_file(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Wavelengths (nm) and reflectance (measurements x wavelengths) of one ASD export.

    Each line holds ``wavelength, reflectance`` pairs separated by tabs, one
    pair per measurement.
    """
    rows = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line:
            continue
        rows.append([float(v) for pair in line.split("\t") for v in pair.split(",")])
    table = np.asarray(rows, dtype=np.float64)
    wavelengths = table[:, 0]
    if not np.allclose(table[:, 0::2], wavelengths[:, None]):
        raise ValueError(f"{path}: measurements do not share one wavelength grid")
    return wavelengths, table[:, 1::2].T


def gaussian_response(wavelengths: np.ndarray, centres: np.ndarray, fwhm: float) -> np.ndarray:
    """Band response matrix (bands x wavelengths), each row summing to one."""
    sigma = fwhm / (2.0 * np.sqrt(2.0 * np.log(2.0)))
    weights = np.exp(-0.5 * ((wavelengths[None, :] - centres[:, None]) / sigma) ** 2)
    return weights / weights.sum(axis=1, keepdims=True)


def drop_outliers(spectra: np.ndarray) -> np.ndarray:
    """Remove measurements far from the material's median (a hand in view, a bad scan)."""
    distance = np.linalg.norm(spectra - np.median(spectra, axis=0), axis=1)
    mad = np.median(np.abs(distance - np.median(distance)))
    keep = distance <= np.median(distance) + 4.0 * 1.4826 * max(mad, 1e-6)
    return spectra[keep]


def material_statistics(spectra: np.ndarray) -> dict[str, np.ndarray]:
    """Mean, std and the leading variation modes scaled to one standard deviation."""
    mean = spectra.mean(axis=0)
    centred = spectra - mean
    _, singular, vectors = np.linalg.svd(centred, full_matrices=False)
    scale = singular / np.sqrt(max(len(spectra) - 1, 1))
    stats = {"mean": mean, "std": spectra.std(axis=0, ddof=1)}
    for k in range(MODE_COUNT):
        if k < len(scale):
            mode = vectors[k] * scale[k]
            # Fix the arbitrary SVD sign so regenerated tables are identical.
            mode = mode if mode.sum() >= 0 else -mode
        else:
            mode = np.zeros_like(mean)
        stats[f"mode{k + 1}"] = mode
    return stats


def build_table(source: Path) -> tuple[np.ndarray, dict[str, dict[str, np.ndarray]], dict[str, str]]:
    """Resampled statistics for every material, plus a provenance note each."""
    centres = band_centres()
    fwhm = float(centres[1] - centres[0])
    table: dict[str, dict[str, np.ndarray]] = {}
    notes: dict[str, str] = {}
    for material, files in MATERIALS.items():
        resampled = []
        for name in files:
            wavelengths, reflectance = read_asd_file(source / name)
            if wavelengths[0] > centres[0] - 2 * fwhm or wavelengths[-1] < centres[-1] + fwhm:
                raise ValueError(f"{name}: {wavelengths[0]}-{wavelengths[-1]} nm does not cover the bands")
            resampled.append(reflectance @ gaussian_response(wavelengths, centres, fwhm).T)
        spectra = np.concatenate(resampled)
        kept = drop_outliers(spectra)
        table[material] = material_statistics(kept)
        notes[material] = f"{len(kept)} of {len(spectra)} measurements from {', '.join(files)}"
    return centres, table, notes


def canonical(values: np.ndarray) -> np.ndarray:
    """Values as printed with 5 decimals, without negative zeros.

    Components that are zero up to rounding come out of the SVD with a sign that
    depends on BLAS threading; adding 0.0 after rounding turns -0.0 into 0.0.
    """
    return np.round(np.asarray(values, dtype=np.float64), 5) + 0.0


def write_csv(path: Path, centres: np.ndarray, table: dict[str, dict[str, np.ndarray]], notes: dict[str, str]) -> None:
    """Write the table with its provenance and licence notice in ``#`` lines."""
    lines = [
        "# Reflectance (0-1) of field materials for the NCGLF2 demo scene.",
        "# Source: ASD FieldSpec spectra (325-1075 nm, 1 nm) of the MUUFL Gulfport collection,",
        "# University of Southern Mississippi Gulfpark campus, github.com/GatorSense/MUUFLGulfport.",
        "# Copyright (c) 2016 TigerSense. Used under the MIT License; see SPECTRA_LICENSE beside this file.",
        f"# Resampled to {len(centres)} bands, centres {centres[0]:.1f}-{centres[-1]:.1f} nm evenly spaced,",
        f"# Gaussian response with FWHM {centres[1] - centres[0]:.2f} nm. Regenerate with tools/make_spectra_table.py.",
        "# statistic: mean; std (per band); modeK = K-th principal direction of the measurements,",
        "# scaled to one standard deviation along it (mean + sum(z_k * modeK), z_k ~ N(0,1)).",
    ]
    lines += [f"# {material}: {note}" for material, note in notes.items()]
    lines.append("material,statistic," + ",".join(f"{c:.2f}" for c in centres))
    for material, stats in table.items():
        for statistic, values in stats.items():
            lines.append(f"{material},{statistic}," + ",".join(f"{v:.5f}" for v in canonical(values)))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(path)


def main(argv: list[str]) -> int:
    source = Path(argv[1]) if len(argv) > 1 else DEFAULT_SOURCE
    output = Path(argv[2]) if len(argv) > 2 else DEFAULT_OUTPUT
    centres, table, notes = build_table(source)
    write_csv(output, centres, table, notes)
    print(f"wrote {output} ({len(table)} materials, {len(centres)} bands)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
