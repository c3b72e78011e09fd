"""Whether rasters look like the data a model was trained on, from a small sample read before work.

A model applied to the same scene stored at another scale (reflectance 0-1
against 0-10000, heights in centimetres against metres) or with its bands in
another order maps everything to one class without any error. The fitted
preprocessing turns training pixels into channels of mean 0 and spread 1; on
comparable data the channels stay of that size, on data of another scale or
band order they are orders of magnitude off.
"""

from __future__ import annotations

import numpy as np

from ..io.stack import WindowSource
from ..nn.preprocessing import Preprocessing

__all__ = ["sample_pixels", "input_mismatch"]

#: Root-mean-square channel size beyond which (or below whose inverse) the data is called far from the training data.
FAR = 8.0
#: Ratio of typical values beyond which (or below whose inverse) the data is taken to be at another scale.
SCALE = 5.0
#: Correlation of mean spectra below which the bands are taken to be in another order (same sensor: above 0.9).
MIN_CORRELATION = 0.5
_SAMPLE_SIDE = 64  # pixels per side of each sampled window
_SAMPLE_GRID = 4  # windows per side of the sampled area


def sample_pixels(stack: WindowSource, window: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Valid (hsi (B, n), lidar (L, n)) pixels of up to 16 small windows spread over ``window``."""
    wx, wy, ww, wh = window
    side_x, side_y = min(_SAMPLE_SIDE, ww), min(_SAMPLE_SIDE, wh)
    xs = np.unique(np.linspace(wx, wx + ww - side_x, _SAMPLE_GRID).astype(int))
    ys = np.unique(np.linspace(wy, wy + wh - side_y, _SAMPLE_GRID).astype(int))
    hsi_parts, lidar_parts = [], []
    for y in ys:  # a loop over at most 16 windows
        for x in xs:
            hsi, lidar, valid = stack.read_window(int(x), int(y), side_x, side_y)
            hsi_parts.append(hsi[:, valid])
            lidar_parts.append(lidar[:, valid])
    return np.concatenate(hsi_parts, axis=1), np.concatenate(lidar_parts, axis=1)


def _rms(channels: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(channels, dtype=np.float64))))


def _scale_ratio(sample_mean: np.ndarray, model_mean: np.ndarray) -> float | None:
    """How many times larger the sample's typical band value is than the training data's."""
    sample_size, model_size = float(np.median(np.abs(sample_mean))), float(np.median(np.abs(model_mean)))
    return sample_size / model_size if sample_size > 0 and model_size > 0 else None


def _shape_correlation(sample_mean: np.ndarray, model_mean: np.ndarray) -> float | None:
    """Pearson correlation of two mean spectra over the bands: near 1 for the same sensor and band order."""
    if sample_mean.size < 3 or np.ptp(sample_mean) == 0 or np.ptp(model_mean) == 0:
        return None
    return float(np.corrcoef(sample_mean, model_mean)[0, 1])


def _problems(raw: np.ndarray, channels: np.ndarray, model_mean: np.ndarray, spectral: bool) -> list[str]:
    """What is off with one input: its scale, its band order (spectra only), its spread after preprocessing."""
    problems = []
    mean = raw.mean(axis=1, dtype=np.float64)
    ratio = _scale_ratio(mean, model_mean)
    if ratio is not None and not 1 / SCALE <= ratio <= SCALE:
        problems.append(
            f"its values are about {ratio:,.3g} times those the model was trained on (another scale or unit?)"
        )
    correlation = _shape_correlation(mean, model_mean) if spectral else None
    if correlation is not None and correlation < MIN_CORRELATION:
        problems.append(
            f"its mean spectrum does not follow the training data's (correlation {correlation:.2f}; "
            "bands in another order, or another sensor?)"
        )
    size = _rms(channels)
    if not problems and not 1 / FAR <= size <= FAR:
        problems.append(
            f"after the model's preprocessing its pixels are {size:,.3g} times the training pixels' spread "
            "(about 1 is expected)"
        )
    return problems


def input_mismatch(
    preprocessing: Preprocessing, hsi: np.ndarray, lidar: np.ndarray, hsi_path: str, lidar_paths: list[str]
) -> list[str]:
    """Warnings, one per input whose sampled pixels are far from the model's training data."""
    if hsi.shape[1] == 0:
        return []
    channels = preprocessing.apply(hsi[:, :, None], lidar[:, :, None])[:, :, 0]
    k = preprocessing.n_components
    parts = [
        ("HSI", hsi_path, hsi, channels[:k], preprocessing.hsi_mean, True),
        ("LiDAR", ", ".join(lidar_paths), lidar, channels[k:], preprocessing.channel_mean[k:], False),
    ]
    warnings = []
    for role, path, raw, part, model_mean, spectral in parts:
        problems = _problems(raw, part, model_mean, spectral)
        if problems:
            warnings.append(
                f"warning: the {role} {path} does not look like the data the model was trained on: "
                + "; ".join(problems)
                + "; the classification will likely be wrong"
            )
    return warnings
