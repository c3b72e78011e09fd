"""The NCGLF2 network.

Tu, Ren, Li, Cao, Chen, Plaza, *Information Fusion* 104:102192, 2024.

A CNN stem per modality (scale information aggregation), a structure-aware
transformer for the low-frequency (base) features, an invertible network for
the high-frequency (detail) features, and channel attention over both. Written
for speed without changing the maths: batched everywhere, the rank-one
adjacency never materialised, and only the class token carried through the
last transformer stage (nothing else of it is ever read).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .native import dropout, fused_attention, inference_shortcut_applies, layer_norm, native_attention_serves

__all__ = ["NCGLF2", "NetworkConfig", "focal_loss"]


_FUSED_CONV = [torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_convolution_pointwise")]
_ACTIVATIONS = {"relu": ([], F.relu), "relu6": ([0.0, 6.0], F.relu6)}


def conv_activation(
    x: Tensor, weight: Tensor, bias: Tensor | None, padding: int, groups: int, activation: str
) -> Tensor:
    """conv2d (stride 1) then ReLU or ReLU6; in CPU inference one oneDNN call, saving a pass over memory."""
    scalars, function = _ACTIVATIONS[activation]
    if (
        _FUSED_CONV[0]
        and inference_shortcut_applies(x, weight, bias)
        and x.is_contiguous(memory_format=torch.channels_last)
    ):
        try:
            return torch.ops.mkldnn._convolution_pointwise(
                x, weight, bias, [padding] * 2, [1, 1], [1, 1], groups, "hardtanh" if scalars else "relu", scalars, ""
            )
        except (RuntimeError, NotImplementedError):  # a torch without this primitive: plain ops from now on
            _FUSED_CONV[0] = False
    return function(F.conv2d(x, weight, bias, padding=padding, groups=groups))


@dataclass(frozen=True)
class NetworkConfig:
    """Sizes that fix the shape of every parameter."""

    num_classes: int
    patch_size: int = 11
    hsi_channels: int = 40
    lidar_channels: int = 1
    width: int = 64
    depth: int = 2
    heads: int = 4

    def __post_init__(self) -> None:
        checks = [
            (self.num_classes >= 2, "num_classes must be at least 2"),
            (self.patch_size >= 3 and self.patch_size % 2 == 1, "patch_size must be odd and at least 3"),
            (self.hsi_channels >= 1, "hsi_channels must be at least 1"),
            (self.lidar_channels >= 1, "lidar_channels must be at least 1"),
            (self.width >= 2 and self.width % 2 == 0, "width must be even"),
            (self.depth >= 1, "depth must be at least 1"),
            (self.heads >= 1 and self.width % self.heads == 0, "width must be divisible by heads"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(f"{message} (got {self})")

    @property
    def in_channels(self) -> int:
        return self.hsi_channels + self.lidar_channels

    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------------------
# 1. Scale information aggregation


class ScaleAggregation(nn.Module):
    """Three conv/BN/ReLU branches (3, 5, 7) merged per channel by one 3x3 conv.

    The merge sees, for each output channel, the stack [sum, mean, max] of the
    three branches; the same 3->1 kernel serves every channel, so it runs as
    one convolution over a (N*D, 3, P, P) view.
    """

    def __init__(self, in_channels: int, width: int) -> None:
        super().__init__()
        self.branches = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(in_channels, width, k, padding=k // 2),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
            )
            for k in (3, 5, 7)
        )
        self.merge = nn.Conv2d(3, 1, 3, padding=1, bias=False)

    def _branch(self, branch: nn.Sequential, x: Tensor) -> Tensor:
        conv, norm = cast(nn.Conv2d, branch[0]), cast(nn.BatchNorm2d, branch[1])
        if norm.training:
            return branch(x)
        assert conv.bias is not None and norm.running_mean is not None and norm.running_var is not None
        # Inference: batch normalization folded into the convolution (in float32 at least).
        dtype = torch.promote_types(conv.weight.dtype, torch.float32)
        factor = norm.weight.to(dtype) * torch.rsqrt(norm.running_var.to(dtype) + norm.eps)
        weight = (conv.weight.to(dtype) * factor[:, None, None, None]).to(conv.weight.dtype)
        bias = ((conv.bias.to(dtype) - norm.running_mean.to(dtype)) * factor + norm.bias.to(dtype)).to(
            conv.weight.dtype
        )
        return conv_activation(
            x, weight.contiguous(memory_format=torch.channels_last), bias, int(conv.padding[0]), 1, "relu"
        )

    def forward(self, x: Tensor) -> Tensor:
        a, b, c = (self._branch(cast(nn.Sequential, branch), x) for branch in self.branches)
        total = a + b + c
        peak = torch.maximum(torch.maximum(a, b), c)
        # merge([sum, sum/3, max]) = conv(sum, w0 + w1/3) + conv(max, w2): one depthwise
        # convolution over (sum, max) with the shared kernels repeated per channel.
        n, d = total.shape[:2]
        w = self.merge.weight[0]
        kernels = torch.cat(((w[0] + w[1] / 3).expand(d, 3, 3), w[2].expand(d, 3, 3)))[:, None]
        merged = F.conv2d(torch.cat((total, peak), dim=1), kernels, padding=1, groups=2 * d)
        return merged[:, :d] + merged[:, d:]


# ---------------------------------------------------------------------------
# 2. Tokens


class TokenEmbedding(nn.Module):
    """3x3 conv to token width, flatten row-major, class token, positions."""

    def __init__(self, in_channels: int, width: int, patch_size: int) -> None:
        super().__init__()
        self.projection = nn.Conv2d(in_channels, width, 3, padding=1)
        self.class_token = nn.Parameter(torch.zeros(1, 1, width))
        self.positions = nn.Parameter(torch.zeros(1, patch_size * patch_size + 1, width))
        self.dropout = Dropout(0.5)

    def forward(self, x: Tensor) -> Tensor:
        tokens = self.projection(x).flatten(2).transpose(1, 2)
        cls = self.class_token.expand(tokens.shape[0], -1, -1)
        return self.dropout(torch.cat((cls, tokens), dim=1) + self.positions)


# ---------------------------------------------------------------------------
# 3. Structure information learning transformer


class Dropout(nn.Dropout):
    """``nn.Dropout``; CPU training draws its mask with the native generator."""

    def forward(self, x: Tensor) -> Tensor:
        return dropout(x, self.p, self.training)


class LayerNorm(nn.LayerNorm):
    """``nn.LayerNorm`` (same parameters and maths); CPU inference runs the native kernel."""

    def forward(self, x: Tensor) -> Tensor:
        out = layer_norm(x, self.weight, self.bias, self.eps)
        return super().forward(x) if out is None else out


class Attention(nn.Module):
    """Multi-head self-attention that also returns the class token's probabilities.

    The structure step needs only row 0 of the attention probabilities (taken
    before dropout). Which implementation yields them is chosen when the mode,
    device or precision changes (``train``, ``to``), not on every call:
    the native kernel in CPU inference, materialised probabilities in CPU
    training (the native generator draws the dropout mask), torch's fused
    kernel elsewhere. With ``class_token_only`` the output is computed for the
    class token alone.
    """

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.head_width = width // heads
        self.scale = 1.0 / math.sqrt(self.head_width)
        self.query = nn.Linear(width, width)
        self.key = nn.Linear(width, width)
        self.value = nn.Linear(width, width)
        self.out = nn.Linear(width, width)
        self.attn_dropout = 0.1
        self.out_dropout = Dropout(0.1)
        self.path = ""
        self._choose_path()

    def _choose_path(self) -> None:
        weight = self.query.weight
        if weight.device.type != "cpu":
            self.path = "torch_fused"
        elif self.training:
            self.path = "cpu_training"
        elif native_attention_serves(self.head_width, weight.dtype):
            self.path = "native"
        else:
            self.path = "torch_fused"

    def train(self, mode: bool = True) -> Attention:
        super().train(mode)
        self._choose_path()
        return self

    def _apply(self, fn, recurse=True):  # type: ignore[no-untyped-def]  # torch's own signature
        super()._apply(fn, recurse)
        self._choose_path()
        return self

    def extra_repr(self) -> str:
        return f"heads={self.heads}, head_width={self.head_width}, path={self.path}"

    def forward(self, x: Tensor, class_token_only: bool = False) -> tuple[Tensor, Tensor]:
        if class_token_only:
            return self._class_token(x)
        context, cls_probs = getattr(self, f"_{self.path}")(x)
        return self.out_dropout(self.out(context.to(x.dtype))), cls_probs.to(x.dtype)

    def _qkv_parameters(self) -> tuple[Tensor, Tensor]:
        weight = torch.cat((self.query.weight, self.key.weight, self.value.weight))
        bias = torch.cat((self.query.bias, self.key.bias, self.value.bias))
        return weight, bias

    def _native(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """CPU inference: one product for q, k and v; the kernel adds the bias as it reads them."""
        weight, bias = self._qkv_parameters()
        if not inference_shortcut_applies(x, weight, bias):  # gradients recorded, or torch_only
            return self._torch_fused(x)
        fused = fused_attention(F.linear(x, weight), self.heads, self.scale, bias)
        if fused is None:  # no tokens
            return self._torch_fused(x)
        return fused

    def _cpu_training(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """CPU training: dropout needs the probabilities anyway, so they are materialised here."""
        q, k, v = self._heads(x)
        probs = torch.softmax(q @ k.transpose(-1, -2) * self.scale, dim=-1)
        cls_probs = probs[:, :, 0]  # before dropout: feeds the structure step
        return self._merge(dropout(probs, self.attn_dropout, True) @ v), cls_probs

    def _torch_fused(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """torch's fused attention, plus the class token's row of the probabilities computed on its own."""
        q, k, v = self._heads(x)
        scores = (q[:, :, :1] * k).sum(-1, dtype=torch.promote_types(q.dtype, torch.float32))
        cls_probs = torch.softmax(scores * self.scale, dim=-1)
        context = F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.attn_dropout if self.training else 0.0, scale=self.scale
        )
        return self._merge(context), cls_probs

    def _heads(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        # On the CPU, torch's attention runs in float32 for reduced-precision models: at these
        # tiny head widths its fused float32 kernel beats a bfloat16 softmax there.
        weight, bias = self._qkv_parameters()
        qkv = _widened(F.linear(x, weight, bias))
        n, t, _ = qkv.shape
        q, k, v = (part.reshape(n, t, self.heads, self.head_width).transpose(1, 2) for part in qkv.chunk(3, -1))
        return q, k, v

    @staticmethod
    def _merge(context: Tensor) -> Tensor:
        n, h, t, e = context.shape
        return context.transpose(1, 2).reshape(n, t, h * e)

    def _class_token(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Attention output (N, 1, width) of the class token alone, without projecting every token.

        Per head, the class token's score against token j is x_j . (W_k^T q) plus
        q . b_k, a constant that the softmax cancels; its context is
        W_v (sum_j p_j x_j) + b_v sum_j p_j. So keys and values are never formed.
        """
        n, t, width = x.shape
        xs = x.float() if x.dtype in (torch.bfloat16, torch.float16) else x  # small: float32 on every device
        dtype = xs.dtype
        q = F.linear(xs[:, 0], self.query.weight.to(dtype), self.query.bias.to(dtype)).view(
            n, self.heads, self.head_width
        )
        key_weight = self.key.weight.to(dtype).view(self.heads, self.head_width, width)
        probe = torch.einsum("nhe,hew->nhw", q * self.scale, key_weight)  # (N, heads, width)
        cls_probs = torch.softmax(probe @ xs.transpose(1, 2), dim=-1)  # (N, heads, T)
        kept = dropout(cls_probs, self.attn_dropout, self.training)
        pooled = kept @ xs  # (N, heads, width)
        value_weight = self.value.weight.to(dtype).view(self.heads, self.head_width, width)
        context = torch.einsum("nhw,hew->nhe", pooled, value_weight)
        context = context + self.value.bias.to(dtype).view(self.heads, self.head_width) * kept.sum(-1, keepdim=True)
        context = context.reshape(n, 1, width).to(x.dtype)
        return self.out_dropout(self.out(context)), cls_probs.to(x.dtype)


def _widened(t: Tensor) -> Tensor:
    """float32 for reduced-precision tensors on the CPU (softmax inputs); GPUs keep their fast bfloat16 kernels."""
    return t.float() if t.dtype in (torch.bfloat16, torch.float16) and t.device.type == "cpu" else t


class FeedForward(nn.Module):
    """A single linear layer with exact GELU (no second linear, as published)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.fc = nn.Linear(width, width)
        self.dropout = Dropout(0.5)
        nn.init.xavier_uniform_(self.fc.weight)
        nn.init.normal_(self.fc.bias, std=1e-6)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(F.gelu(self.fc(x)))


class Block(nn.Module):
    """Pre-norm transformer block."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.attention_norm = LayerNorm(width, eps=1e-6)
        self.attention = Attention(width, heads)
        self.mlp_norm = LayerNorm(width, eps=1e-6)
        self.mlp = FeedForward(width)

    def forward(self, x: Tensor, class_token_only: bool = False) -> tuple[Tensor, Tensor]:
        attended, cls_probs = self.attention(self.attention_norm(x), class_token_only)
        x = (x[:, :1] if class_token_only else x) + attended
        return x + self.mlp(self.mlp_norm(x)), cls_probs


class StructureGraph(nn.Module):
    """A graph embedding of the attention layout, to be added to the class token.

    The most attended patch position (among the above-average ones) becomes
    an anchor; every position gets its masked polar coordinates relative to
    it; a two-layer GCN over the rank-one adjacency m m^T propagates them,
    and the anchor's node feature is the class token's increment.
    """

    grid_rows: Tensor  # buffers: the row and column of every patch position
    grid_cols: Tensor

    def __init__(self, width: int, patch_size: int, hidden: int = 32) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.gcn1 = nn.Parameter(torch.empty(2, hidden))
        self.gcn2 = nn.Parameter(torch.empty(hidden, width))
        nn.init.uniform_(self.gcn1, -1 / math.sqrt(hidden), 1 / math.sqrt(hidden))
        nn.init.uniform_(self.gcn2, -1 / math.sqrt(width), 1 / math.sqrt(width))
        index = torch.arange(patch_size * patch_size)
        self.register_buffer("grid_rows", torch.div(index, patch_size, rounding_mode="floor"), persistent=False)
        self.register_buffer("grid_cols", index % patch_size, persistent=False)

    def forward(self, x: Tensor, cls_probs: Tensor) -> Tensor:
        """The increment (N, width) of the class token."""
        # cls_probs: (N, heads, T); patch part as (N, heads, P*P)
        attention = cls_probs[:, :, 1:]
        summed = attention.sum(dim=1)
        mask = (summed > summed.mean(dim=1, keepdim=True)).to(x.dtype)
        weights = (attention * mask[:, None]).mean(dim=1)  # m: (N, P*P)
        anchor = weights.argmax(dim=1)
        p = self.patch_size
        anchor_row = torch.div(anchor, p, rounding_mode="floor")
        anchor_col = anchor % p
        dr = (self.grid_rows[None] - anchor_row[:, None]).to(x.dtype) / p
        dc = (self.grid_cols[None] - anchor_col[:, None]).to(x.dtype) / p
        distance = torch.sqrt(dr * dr + dc * dc)
        angle = (torch.atan2(dc, dr) / math.pi + 1) / 2
        nodes = torch.stack((distance * mask, angle * mask), dim=-1)  # (N, P*P, 2)

        def propagate(z: Tensor) -> Tensor:  # (m m^T) @ z without the P^2 x P^2 matrix
            return weights[:, :, None] * (weights[:, None, :] @ z)

        h = dropout(F.leaky_relu(propagate(nodes @ self.gcn1), 0.2), 0.1, self.training)
        h = dropout(F.relu(h), 0.2, self.training)
        # Only the anchor row of the second layer is read.
        anchor_weight = weights.gather(1, anchor[:, None])  # (N, 1)
        g = anchor_weight * (weights[:, None, :] @ (h @ self.gcn2))[:, 0]
        return dropout(F.leaky_relu(g, 0.2), 0.1, self.training)


class StructureTransformer(nn.Module):
    """SIL-Trans: ``depth`` steps of block -> structure graph -> LayerNorm."""

    def __init__(self, width: int, depth: int, heads: int, patch_size: int) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(Block(width, heads) for _ in range(depth))
        self.structure = StructureGraph(width, patch_size)
        self.norm = LayerNorm(width, eps=1e-6)

    def forward(self, x: Tensor, class_token_only: bool = False) -> Tensor:
        """With ``class_token_only`` returns (N, 1, width): the last step's class token."""
        last = len(self.blocks) - 1
        for i, block in enumerate(self.blocks):
            x, cls_probs = block(x, class_token_only and i == last)
            increment = self.structure(x, cls_probs)
            if x.requires_grad:
                x = torch.cat((x[:, :1] + increment[:, None], x[:, 1:]), dim=1)
            else:  # the block's fresh output is ours: change the class token in place
                x[:, 0] += increment
            x = self.norm(x)
        return x


# ---------------------------------------------------------------------------
# 5. Invertible detail network


class InvertedResidual(nn.Module):
    """1x1 expand, ReLU6, reflect-padded depthwise 3x3, ReLU6, 1x1 project."""

    def __init__(self, channels: int, expansion: int = 2) -> None:
        super().__init__()
        hidden = channels * expansion
        self.expand = nn.Conv2d(channels, hidden, 1, bias=False)
        self.depthwise = nn.Conv2d(hidden, hidden, 3, groups=hidden, bias=False)
        self.project = nn.Conv2d(hidden, channels, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        x = conv_activation(x, self.expand.weight, None, 0, 1, "relu6")
        x = conv_activation(F.pad(x, (1, 1, 1, 1), mode="reflect"), self.depthwise.weight, None, 0, x.shape[1], "relu6")
        return self.project(x)


class CouplingNode(nn.Module):
    """One affine coupling step with a learned 1x1 channel mix before it."""

    def __init__(self, width: int) -> None:
        super().__init__()
        half = width // 2
        self.mix = nn.Conv2d(width, width, 1)
        self.phi = InvertedResidual(half)
        self.rho = InvertedResidual(half)
        self.eta = InvertedResidual(half)

    def forward(self, x: Tensor) -> Tensor:
        z1, z2 = self.mix(x).chunk(2, dim=1)
        z1 = z1.contiguous(memory_format=torch.channels_last)  # one copy of the slice, not one per use
        z2 = z2 + self.phi(z1)
        z1 = torch.addcmul(self.eta(z2), z1, torch.exp(self.rho(z2)))
        return torch.cat((z1, z2), dim=1)


class DetailNetwork(nn.Module):
    """A stack of coupling nodes."""

    def __init__(self, width: int, nodes: int) -> None:
        super().__init__()
        self.nodes = nn.Sequential(*(CouplingNode(width) for _ in range(nodes)))

    def forward(self, x: Tensor) -> Tensor:
        return self.nodes(x)


# ---------------------------------------------------------------------------
# 6. Fusion head


class ChannelAttention1d(nn.Module):
    """ECA: a 3-tap convolution across the feature vector gates each feature."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(1, 1, 3, padding=1)

    def forward(self, f: Tensor) -> Tensor:
        return f * torch.sigmoid(self.conv(f[:, None]))[:, 0]


class NCGLF2(nn.Module):
    """NCGLF2 HSI + LiDAR fusion classifier of the centre pixel of a patch.

    Input ``(N, hsi_channels + lidar_channels, P, P)``; returns
    ``(logits (N, K), consistency ())`` where consistency is the batch's
    base/detail agreement term used by the training loss.
    """

    def __init__(self, config: NetworkConfig) -> None:
        super().__init__()
        self.config = config
        w, p = config.width, config.patch_size
        self.hsi_stem = ScaleAggregation(config.hsi_channels, w)
        self.lidar_stem = ScaleAggregation(config.lidar_channels, w)
        self.embedding = TokenEmbedding(w, w, p)
        self.base = StructureTransformer(w, config.depth, config.heads, p)
        self.base_fusion = StructureTransformer(2 * w, 1, config.heads, p)
        self.detail = DetailNetwork(w, 2)
        self.detail_fusion = DetailNetwork(2 * w, 1)
        self.token_norm = LayerNorm(2 * w, eps=1e-5)
        self.token_head = nn.Linear(2 * w, w // 2)
        self.detail_head = nn.Linear(2 * w, w // 2)
        self.channel_attention = ChannelAttention1d()
        self.classifier = nn.Linear(w, config.num_classes)
        self.classifier_norm = nn.BatchNorm1d(config.num_classes)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        # Channels-last keeps the oneDNN convolutions (depthwise ones above all) free of reorders.
        # Each modality becomes a channels-last tensor of its own: a channel slice of one is not.
        c1 = self.config.hsi_channels
        s1 = self.hsi_stem(x[:, :c1].contiguous(memory_format=torch.channels_last))
        s2 = self.lidar_stem(x[:, c1:].contiguous(memory_format=torch.channels_last))

        # The embedding, base transformer and detail network are shared by both
        # modalities and act on each sample alone: run them once on both halves.
        n = x.shape[0]
        both = torch.cat((s1, s2), dim=0)
        b1, b2 = self.base(self.embedding(both)).split(n)
        cls = self.base_fusion(torch.cat((b1, b2), dim=-1), class_token_only=True)[:, 0]
        t = self.token_head(self.token_norm(cls))

        d1, d2 = self.detail(both).split(n)
        d = self.detail_fusion(torch.cat((d1, d2), dim=1))
        c = self.detail_head(d.mean(dim=(2, 3)))

        f = self.channel_attention(torch.cat((t, c), dim=1))
        logits = self.classifier_norm(F.elu(self.classifier(f)))

        base_gap = torch.mean((b1 - b2) ** 2)
        detail_gap = torch.mean((d1 - d2) ** 2)
        return logits, detail_gap**2 / (base_gap + 1.01)


def focal_loss(logits: Tensor, target: Tensor, gamma: float = 2.0) -> Tensor:
    """Mean focal loss without class weights."""
    log_p = F.log_softmax(logits, dim=1).gather(1, target[:, None])[:, 0]
    return (-((1 - log_p.exp()) ** gamma) * log_p).mean()
