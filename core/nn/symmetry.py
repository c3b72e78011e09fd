"""The 8 symmetries of a square patch: 4 rotations, each with or without a mirror.

Land cover seen from above has no up and no handedness, so a patch turned or
mirrored shows the same class. Training draws one symmetry per sample
(augmentation); classification can average the network over all eight
(test-time augmentation). Symmetry ``k`` mirrors left-right when ``k >= 4``,
then turns ``k % 4`` quarter turns counter-clockwise; it acts on the last two
dimensions, so on (C, P, P) patches and (N, C, P, P) batches alike.
"""

from __future__ import annotations

import torch

__all__ = ["SYMMETRIES", "apply_symmetry", "random_symmetries", "symmetry_average"]

#: The number of symmetries of a square.
SYMMETRIES = 8


def apply_symmetry(x: torch.Tensor, k: int) -> torch.Tensor:
    """``x`` under symmetry ``k`` (0 = unchanged), over its last two dimensions."""
    if not 0 <= k < SYMMETRIES:
        raise ValueError(f"a square has symmetries 0 to {SYMMETRIES - 1}, not {k}")
    if k >= 4:
        x = torch.flip(x, dims=(-1,))
    return torch.rot90(x, k % 4, dims=(-2, -1)) if k % 4 else x


def random_symmetries(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each patch of the (N, C, P, P) batch under its own random symmetry, drawn from ``generator``.

    One gather per symmetry present, not one call per patch.
    """
    chosen = torch.randint(0, SYMMETRIES, (x.shape[0],), generator=generator)
    out = torch.empty_like(x)
    for k in range(SYMMETRIES):  # a loop over the 8 symmetries, not over patches
        members = torch.nonzero(chosen == k).flatten()
        if members.numel():
            out[members.to(x.device)] = apply_symmetry(x[members.to(x.device)], k)
    return out


def symmetry_average(probabilities_of, x: torch.Tensor) -> torch.Tensor:
    """The mean of ``probabilities_of`` over the 8 symmetries of the batch ``x`` (test-time augmentation)."""
    total = probabilities_of(x)
    for k in range(1, SYMMETRIES):
        total = total + probabilities_of(apply_symmetry(x, k))
    return total / SYMMETRIES
