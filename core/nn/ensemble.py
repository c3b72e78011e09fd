"""An ensemble of networks of one shape, trained from different seeds, whose class probabilities are averaged.

One network trained on a few dozen pixels per class lands where its seed
sends it: a few points of overall accuracy either way. The mean of the class
probabilities of K such networks forgets most of that luck. The ensemble
behaves as one network to everything that applies a model: its first output
is the logarithm of the mean probability, so a softmax over it gives the mean
probability back.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ..requests import MAX_MEMBERS
from .model import NCGLF2, NetworkConfig

__all__ = ["Ensemble"]


class Ensemble(nn.Module):
    """K :class:`NCGLF2` networks of one configuration; ``forward`` returns (log mean probability, mean consistency)."""

    def __init__(self, members: Sequence[NCGLF2]) -> None:
        super().__init__()
        if not 2 <= len(members) <= MAX_MEMBERS:
            raise ValueError(f"an ensemble holds 2 to {MAX_MEMBERS} networks (got {len(members)})")
        configs = {member.config for member in members}
        if len(configs) != 1:
            raise ValueError("the networks of an ensemble must share one configuration")
        self.config: NetworkConfig = members[0].config
        self.members = nn.ModuleList(members)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        outputs = [member(x) for member in self.members]  # one call per network, each over the whole batch
        probabilities = torch.stack([torch.softmax(logits.float(), dim=1) for logits, _ in outputs]).mean(0)
        consistency = torch.stack([c.float() for _, c in outputs]).mean(0)
        return torch.log(probabilities.clamp_min(torch.finfo(torch.float32).tiny)), consistency
