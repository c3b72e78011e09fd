"""The network's fitted input transform: PCA of the HSI bands and standardization of every channel.

It belongs to a model as much as its weights do (a model file stores it), so it lives
beside the network; fitting it on rasters is the pipeline's job."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Preprocessing"]


@dataclass
class Preprocessing:
    """Fitted statistics; ``apply`` maps raw bands to network channels."""

    hsi_mean: np.ndarray  # (B,)
    components: np.ndarray  # (k, B), rows are PCA axes
    explained_variance: np.ndarray  # (k,), ddof = 1
    channel_mean: np.ndarray  # (k + L,) of the whitened PCA + LiDAR channels
    channel_std: np.ndarray  # (k + L,), ddof = 0
    pixel_count: int
    sampled: bool = False

    @property
    def hsi_bands(self) -> int:
        return self.hsi_mean.shape[0]

    @property
    def n_components(self) -> int:
        return self.components.shape[0]

    @property
    def lidar_channels(self) -> int:
        return self.channel_mean.shape[0] - self.n_components

    @property
    def out_channels(self) -> int:
        return self.channel_mean.shape[0]

    def affine(self) -> tuple[np.ndarray, np.ndarray]:
        """(W, b) with ``channels = W @ concat(hsi, lidar) + b`` per pixel, float64.

        W is block diagonal: whitened PCA for the HSI, scaling for LiDAR.
        """
        k, bands, lidar = self.n_components, self.hsi_bands, self.lidar_channels
        scale = 1.0 / self.channel_std
        weight = np.zeros((k + lidar, bands + lidar))
        pca = self.components / np.sqrt(self.explained_variance)[:, None]
        weight[:k, :bands] = pca * scale[:k, None]
        weight[k:, bands:] = np.diag(scale[k:])
        offset = -self.channel_mean * scale
        offset[:k] -= weight[:k, :bands] @ self.hsi_mean
        return weight, offset

    def apply(self, hsi: np.ndarray, lidar: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
        """(B, h, w) + (L, h, w) raw bands -> (k + L, h, w) float32; invalid pixels become 0."""
        weight, offset = self.affine()
        h, w = hsi.shape[1:]
        raw = np.concatenate((hsi.reshape(hsi.shape[0], -1), lidar.reshape(lidar.shape[0], -1)), axis=0)
        raw = np.where(np.isfinite(raw), raw, 0).astype(np.float32, copy=False)
        out = weight.astype(np.float32) @ raw + offset.astype(np.float32)[:, None]
        if valid is not None:
            out[:, ~valid.reshape(-1)] = 0.0
        return out.reshape(-1, h, w)

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {
            "hsi_mean": self.hsi_mean,
            "components": self.components,
            "explained_variance": self.explained_variance,
            "channel_mean": self.channel_mean,
            "channel_std": self.channel_std,
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], pixel_count: int, sampled: bool) -> Preprocessing:
        return cls(
            **{k: np.asarray(v, dtype=np.float64) for k, v in arrays.items()}, pixel_count=pixel_count, sampled=sampled
        )
