"""Training: the paper's protocol, and what makes a model independent of luck.

The paper: focal loss plus the base/detail consistency term, Adam with a
step decay, shuffled batches, and the weights of the best validation
accuracy kept. The robust protocol adds random symmetries of each patch,
label smoothing, an exponential moving average of the weights, a cosine
schedule after a warm-up, class-balanced batches and early stopping; each is
a parameter, off in the paper's protocol, whose path is then the paper's
exactly. Patches stream a batch at a time from a feature cache on disk, so
memory does not grow with the number of labelled pixels; a loss that stops
being finite ends training before anything is saved.
"""

from __future__ import annotations

import copy
import math
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import BinaryIO, Protocol, cast

import numpy as np
import torch

from ..errors import NCGLF2Error
from ..io.stack import WindowSource
from ..nn.allocator import keep_freed_memory
from ..nn.devices import resolve_device
from ..nn.ensemble import Ensemble
from ..nn.model import NCGLF2, NetworkConfig, focal_loss
from ..nn.preprocessing import Preprocessing
from ..nn.symmetry import random_symmetries
from ..progress import Progress, SilentProgress, SubProgress, check_canceled
from ..requests import TrainingParameters
from .report import TrainingHistory
from .sampling import member_seed
from .tiling import cut_block_patches, cut_patches, iter_batches, read_tile_features, tiles_holding

__all__ = [
    "TrainingParameters",
    "TrainingDiverged",
    "Patches",
    "TensorPatches",
    "PatchCache",
    "gather_patches",
    "build_patch_cache",
    "fit_network",
    "fit_ensemble",
    "fit_own_splits",
    "PatchSubset",
    "member_seed",
    "warm_ema",
    "FitResult",
    "training_loss",
]

#: Read tiles of this side: the same tiles, so the same preprocessed values, for every way patches are cut.
READ_TILE = 512
#: Keeping the last epoch, the validation is measured every this many epochs (and at the last).
REPORT_EVERY = 5
#: Sides of the cached feature blocks to choose from; each divides the read tile.
_BLOCK_SIDES = (8, 16, 32, 64, 128, 256, 512)


class TrainingDiverged(NCGLF2Error):
    """The loss stopped being a finite number: the network would be useless, so nothing is saved."""


class Patches(Protocol):
    """Training or validation patches, handed out a batch at a time."""

    def __len__(self) -> int: ...

    def take(self, index: torch.Tensor) -> torch.Tensor:
        """(len(index), C, P, P) float32 patches of the samples at ``index`` (a CPU int64 tensor)."""
        ...


class TensorPatches:
    """Patches already in memory, an (N, C, P, P) tensor."""

    def __init__(self, patches: torch.Tensor) -> None:
        self.patches = patches

    def __len__(self) -> int:
        return self.patches.shape[0]

    def take(self, index: torch.Tensor) -> torch.Tensor:
        return self.patches[index]


class PatchSubset:
    """The patches of another :class:`Patches` at some of its positions, read from it a batch at a time."""

    def __init__(self, patches: Patches, positions: np.ndarray | torch.Tensor) -> None:
        self.patches = patches
        self.positions = torch.as_tensor(positions, dtype=torch.int64)

    def __len__(self) -> int:
        return self.positions.shape[0]

    def take(self, index: torch.Tensor) -> torch.Tensor:
        return self.patches.take(self.positions[index])


class PatchCache:
    """Patches cut on demand from preprocessed feature blocks in a temporary file, so memory holds one batch.

    The file holds (K, S, S, C) float32 blocks: the channels of a ``side`` x
    ``side`` square of pixels plus the patch halo around it, channels last. It has no name
    on disk and vanishes when closed or when the process ends, however it
    ends. It is mapped for each batch only, so the pages read do not stay in
    the process.
    """

    def __init__(
        self,
        file: BinaryIO,
        block_count: int,
        channels: int,
        span: int,
        patch_size: int,
        slots: np.ndarray,
        rows: np.ndarray,
        cols: np.ndarray,
    ) -> None:
        self.file = file
        self.shape = (block_count, span, span, channels)
        self.patch_size = patch_size
        self.slots, self.rows, self.cols = (torch.from_numpy(a) for a in (slots, rows, cols))

    def __len__(self) -> int:
        return self.slots.shape[0]

    @property
    def nbytes(self) -> int:
        return 4 * math.prod(self.shape)

    def take(self, index: torch.Tensor) -> torch.Tensor:
        if index.numel() == 0 or self.shape[0] == 0:
            return torch.empty((index.numel(), self.shape[3], self.patch_size, self.patch_size))
        mapped = np.memmap(self.file, dtype=np.float32, mode="c", shape=self.shape)  # copy-on-write, never written
        blocks = torch.from_numpy(mapped)
        return cut_block_patches(
            blocks, self.slots[index].long(), self.rows[index].long(), self.cols[index].long(), self.patch_size
        )

    def close(self) -> None:
        """Delete the file (closing it does)."""
        self.file.close()

    def __enter__(self) -> PatchCache:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def _block_side(width: int, rows: np.ndarray, cols: np.ndarray, halo: int) -> int:
    """The block side that stores the fewest values: small blocks for scattered pixels, large for dense areas."""

    def stored(side: int) -> int:
        per_row = (width + side - 1) // side
        blocks = np.unique(rows.astype(np.int64) // side * per_row + cols // side).size
        return blocks * (side + 2 * halo) ** 2

    return min(_BLOCK_SIDES, key=stored)


def build_patch_cache(
    stack: WindowSource,
    preprocessing: Preprocessing,
    rows: np.ndarray,
    cols: np.ndarray,
    patch_size: int,
    progress: Progress | None = None,
    block_side: int | None = None,
    folder: str | None = None,
) -> PatchCache:
    """Preprocess the tiles that hold the pixels once and keep the blocks around them in a temporary file.

    The patches equal those of :func:`gather_patches`: the same tiles are read
    and preprocessed, and the blocks are copied from them unchanged. The file
    goes in ``folder``, by default the system's temporary folder.
    """
    progress = progress or SilentProgress()
    halo = patch_size // 2
    side = block_side or _block_side(stack.grid.width, rows, cols, halo)
    if READ_TILE % side:
        raise ValueError(f"the block side {side} must divide the read tile {READ_TILE}")
    span = side + 2 * halo
    slots = np.zeros(rows.size, dtype=np.int32)
    local_rows = np.zeros(rows.size, dtype=np.int16)
    local_cols = np.zeros(rows.size, dtype=np.int16)
    groups = list(tiles_holding(stack.grid.width, stack.grid.height, rows, cols, READ_TILE))
    count = 0
    out = tempfile.TemporaryFile(prefix="ncglf2-patches-", dir=folder)
    try:
        for i, (tile, members) in enumerate(groups):
            check_canceled(progress)
            features, _ = read_tile_features(stack, preprocessing, tile, halo)
            r, c = rows[members] - tile.y, cols[members] - tile.x
            blocks_across = (tile.width + side - 1) // side
            keys, inverse = np.unique((r // side) * blocks_across + c // side, return_inverse=True)
            block_y, block_x = np.divmod(keys.astype(np.int64), blocks_across)
            # Zeros below and right of a tile narrower than whole blocks; no patch reaches them.
            pad_y = (tile.height + side - 1) // side * side - tile.height
            pad_x = blocks_across * side - tile.width
            padded = torch.from_numpy(np.pad(features, ((0, 0), (0, pad_y), (0, pad_x))))
            view = padded.unfold(1, span, side).unfold(2, span, side)  # (C, blocks down, blocks across, S, S)
            blocks = view[:, torch.from_numpy(block_y), torch.from_numpy(block_x)].permute(1, 2, 3, 0).contiguous()
            out.write(blocks.numpy().data)
            slots[members] = count + inverse.reshape(-1)
            local_rows[members] = r - block_y[inverse.reshape(-1)] * side
            local_cols[members] = c - block_x[inverse.reshape(-1)] * side
            count += keys.size
            progress.set_progress(100.0 * (i + 1) / len(groups))
        out.flush()
    except BaseException:
        out.close()
        raise
    return PatchCache(out, count, preprocessing.out_channels, span, patch_size, slots, local_rows, local_cols)


def gather_patches(
    stack: WindowSource,
    preprocessing: Preprocessing,
    rows: np.ndarray,
    cols: np.ndarray,
    patch_size: int,
    progress: Progress | None = None,
    tile_size: int = READ_TILE,
) -> torch.Tensor:
    """(N, C, P, P) patches around the given pixels in memory, reading only the tiles that hold them.

    Memory grows with the number of pixels: for a few samples; training on
    many streams them through :func:`build_patch_cache`.
    """
    progress = progress or SilentProgress()
    out = torch.empty((rows.size, preprocessing.out_channels, patch_size, patch_size), dtype=torch.float32)
    groups = list(tiles_holding(stack.grid.width, stack.grid.height, rows, cols, tile_size))
    for i, (tile, members) in enumerate(groups):
        check_canceled(progress)
        features, _ = read_tile_features(stack, preprocessing, tile, patch_size // 2)
        r = torch.from_numpy(rows[members] - tile.y)
        c = torch.from_numpy(cols[members] - tile.x)
        out[torch.from_numpy(members)] = cut_patches(torch.from_numpy(features), r, c, patch_size)
        progress.set_progress(100.0 * (i + 1) / len(groups))
    return out


@dataclass
class FitResult:
    network: NCGLF2 | Ensemble  # the best epoch's weights, eval mode, on the CPU
    history: TrainingHistory  # of the first network of an ensemble
    best_validation_accuracy: float | None = None
    validation_predictions: np.ndarray | None = None  # the best epoch's class indices of the validation patches
    seconds: float = 0.0
    best_epochs: list[int] = field(default_factory=list)  # each network's, for an ensemble


def smoothed_focal_loss(logits: torch.Tensor, target: torch.Tensor, gamma: float, smoothing: float) -> torch.Tensor:
    """Focal loss against targets that keep ``1 - smoothing`` on the class and spread the rest evenly.

    Each class's term is weighted as the focal loss weighs the true class, so
    with no smoothing this is the focal loss itself.
    """
    log_p = torch.nn.functional.log_softmax(logits, dim=1)
    soft = torch.full_like(log_p, smoothing / logits.shape[1])
    soft.scatter_add_(1, target[:, None], torch.full_like(log_p[:, :1], 1.0 - smoothing))
    return (-(soft * (1 - log_p.exp()) ** gamma * log_p).sum(1)).mean()


def training_loss(
    logits: torch.Tensor, target: torch.Tensor, consistency: torch.Tensor, params: TrainingParameters
) -> torch.Tensor:
    """The paper's objective: weighted focal loss plus the base/detail consistency term."""
    if params.label_smoothing:
        focal = smoothed_focal_loss(logits, target, params.focal_gamma, params.label_smoothing)  # type: ignore[arg-type]
    else:
        focal = focal_loss(logits, target, params.focal_gamma)
    return params.focal_weight * focal + params.consistency_weight * consistency


def learning_rate_schedule(optimiser: torch.optim.Optimizer, params: TrainingParameters):
    """The paper's step decay, or a linear warm-up then a cosine decay to zero, stepped once per epoch."""
    if params.schedule == "step":
        step = params.lr_step_epochs or max(1, _epochs(params) // 5)
        return torch.optim.lr_scheduler.StepLR(optimiser, step_size=step, gamma=params.lr_gamma)
    warmup = min(params.warmup_epochs or 0, _epochs(params) - 1)
    decay = _epochs(params) - warmup

    def factor(epoch: int) -> float:
        if epoch < warmup:
            return (epoch + 1) / (warmup + 1)
        return 0.5 * (1.0 + math.cos(math.pi * (epoch - warmup) / decay))

    return torch.optim.lr_scheduler.LambdaLR(optimiser, factor)


def _epoch_order(train_y: torch.Tensor, params: TrainingParameters, generator: torch.Generator) -> torch.Tensor:
    """The samples of one epoch: a shuffle, or as many draws with every class equally likely."""
    n = train_y.numel()
    if not params.balanced_batches:
        return torch.randperm(n, generator=generator)
    counts = torch.bincount(train_y)
    weights = 1.0 / counts[train_y].double()
    return torch.multinomial(weights, n, replacement=True, generator=generator)


def _diverged(where: str, what: str, params: TrainingParameters) -> TrainingDiverged:
    return TrainingDiverged(
        f"training diverged at {where}: {what} with learning rate {params.learning_rate:g}; "
        "nothing was saved: lower the learning rate (or check the input rasters for extreme values) and train again"
    )


def _evaluate(
    network: torch.nn.Module, x: Patches, y: torch.Tensor, params: TrainingParameters, device: torch.device
) -> tuple[float, float, np.ndarray]:
    """(loss, accuracy, predicted indices) in eval mode, in batches."""
    network.eval()
    predictions, loss_sum = [], 0.0
    with torch.no_grad():
        for batch in iter_batches(len(x), 256):
            index = torch.arange(batch.start, batch.stop)
            logits, consistency = network(x.take(index).to(device))
            loss = training_loss(logits, y[batch].to(device), consistency, params)
            loss_sum += float(loss) * (batch.stop - batch.start)
            predictions.append(logits.argmax(1).cpu())
    predicted = torch.cat(predictions).numpy()
    return loss_sum / len(x), float((predicted == y.numpy()).mean()), predicted


def _epochs(params: TrainingParameters) -> int:
    """The epochs of each network: always set once the parameters exist (the protocol fills what was left out)."""
    assert params.epochs is not None
    return params.epochs


def _as_patches(x: Patches | torch.Tensor) -> Patches:
    return TensorPatches(x) if isinstance(x, torch.Tensor) else x


def _finite(state: dict[str, torch.Tensor]) -> bool:
    return all(bool(torch.isfinite(t).all()) for t in state.values() if t.is_floating_point())


def warm_ema(decay: float) -> Callable[..., None]:
    """The weight average's update, its decay growing with the step n as (1 + n) / (10 + n) up to ``decay``.

    A fixed decay of 0.99 over the few hundred steps of a small training set
    still holds a tenth of the random initial weights at the end (0.99^240);
    the growing decay forgets them within the first few dozen steps.
    """

    @torch.no_grad()
    def update(averaged: Sequence[torch.Tensor], current: Sequence[torch.Tensor], steps: torch.Tensor | int) -> None:
        n = int(steps)
        weight = 1.0 - min(decay, (1.0 + n) / (10.0 + n))
        if torch.is_floating_point(averaged[0]):
            torch._foreach_lerp_(list(averaged), list(current), weight)
        else:  # counters (batch normalization's batches seen) follow the network
            for mine, theirs in zip(averaged, current):
                mine.copy_(theirs)

    return update


def fit_network(
    config: NetworkConfig,
    train_x: Patches | torch.Tensor,
    train_y: torch.Tensor,
    val_x: Patches | torch.Tensor,
    val_y: torch.Tensor,
    params: TrainingParameters,
    progress: Progress | None = None,
) -> FitResult:
    """Train from patches; returns the network with the best validation accuracy (eval mode, CPU).

    Patches come a batch at a time (from memory or a :class:`PatchCache`), so
    memory does not grow with the number of samples.

    Raises:
        TrainingDiverged: a training or validation loss is not finite (the
            learning rate is too high, or inputs hold extreme values).
    """
    progress = progress or SilentProgress()
    train_x, val_x = _as_patches(train_x), _as_patches(val_x)
    device = resolve_device(params.device)
    if device.type == "cpu":
        keep_freed_memory()
    torch.manual_seed(params.seed)
    network = NCGLF2(config).to(device).to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # torch stubs lack it
    optimiser = torch.optim.Adam(network.parameters(), lr=params.learning_rate)
    scheduler = learning_rate_schedule(optimiser, params)
    shuffle = torch.Generator().manual_seed(params.seed)
    symmetries = torch.Generator().manual_seed(params.seed + 1) if params.augment else None
    # The average is what is validated and kept: it forgets the noise of the last few steps.
    average = (
        torch.optim.swa_utils.AveragedModel(network, multi_avg_fn=warm_ema(params.ema_decay), use_buffers=True)
        if params.ema_decay
        else None
    )
    kept = average.module if average is not None else network
    columns: dict[str, list] = {
        k: [] for k in ("epochs", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "learning_rate")
    }
    best_accuracy, best_loss, best_state, best_epoch = -1.0, float("inf"), None, 0
    best_predictions: np.ndarray | None = None
    n, validating = len(train_x), len(val_x) > 0
    batches = (n + params.batch_size - 1) // params.batch_size
    started = time.perf_counter()
    train_y_device = train_y.to(device)
    for epoch in range(1, _epochs(params) + 1):
        network.train()
        order = _epoch_order(train_y, params, shuffle)
        loss_sum, correct = 0.0, 0
        for number, batch in enumerate(iter_batches(n, params.batch_size), 1):
            check_canceled(progress)
            index = order[batch]
            if index.numel() < 2:  # batch normalization cannot train on one sample
                continue
            patches = train_x.take(index).to(device)
            if symmetries is not None:
                patches = random_symmetries(patches, symmetries)
            logits, consistency = network(patches)
            target = train_y_device[index.to(device)]
            loss = training_loss(logits, target, consistency, params)
            loss_value = float(loss.detach())
            if not math.isfinite(loss_value):
                raise _diverged(f"epoch {epoch}, batch {number} of {batches}", f"the loss is {loss_value}", params)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            if average is not None:
                average.update_parameters(network)
            loss_sum += loss_value * index.numel()
            correct += int((logits.argmax(1) == target).sum())
        learning_rate = optimiser.param_groups[0]["lr"]
        scheduler.step()
        predicted = None
        last = epoch == _epochs(params)
        # Keeping the last epoch, the validation only reports: every few epochs for the curves, and at the end.
        if validating and (params.keep == "best" or last or epoch % REPORT_EVERY == 0):
            val_loss, val_accuracy, predicted = _evaluate(kept, val_x, val_y, params, device)
            if not math.isfinite(val_loss):
                raise _diverged(f"the validation of epoch {epoch}", f"the loss is {val_loss}", params)
        elif validating:
            val_loss, val_accuracy = float("nan"), float("nan")
        else:
            val_loss, val_accuracy = float("nan"), correct / n
        for key, value in zip(columns, (epoch, loss_sum / n, correct / n, val_loss, val_accuracy, learning_rate)):
            columns[key].append(value)
        # Ties in accuracy (common on small validation sets) go to the lower validation loss.
        better = val_accuracy > best_accuracy or (val_accuracy == best_accuracy and val_loss < best_loss)
        if (params.keep == "last" and last) or (params.keep == "best" and better):
            best_accuracy, best_loss, best_epoch = val_accuracy, val_loss, epoch
            best_state = copy.deepcopy(kept.state_dict())
            best_predictions = predicted
        shown = "–" if math.isnan(val_accuracy) else f"{100 * val_accuracy:.1f} %"
        progress.info(
            f"epoch {epoch}/{params.epochs}: loss {loss_sum / n:.4f}, train accuracy {100 * correct / n:.1f} %, "
            f"validation accuracy {shown}"
        )
        progress.set_progress(100.0 * epoch / _epochs(params))
        if validating and params.keep == "best" and params.patience and epoch - best_epoch >= params.patience:
            progress.info(
                f"stopping early: no better validation in the {params.patience} epochs since epoch {best_epoch}"
            )
            break
    if best_state is None or not _finite(best_state):
        # The last step can break the weights with no later loss to show it when nothing is validated.
        raise _diverged(f"epoch {best_epoch}", "the weights are no longer finite numbers", params)
    network.load_state_dict(best_state)
    return FitResult(
        network.cpu().eval(),
        TrainingHistory(**columns, best_epoch=best_epoch),
        best_accuracy if validating else None,
        best_predictions,
        time.perf_counter() - started,
    )


def fit_ensemble(
    config: NetworkConfig,
    train_x: Patches | torch.Tensor,
    train_y: torch.Tensor,
    val_x: Patches | torch.Tensor,
    val_y: torch.Tensor,
    params: TrainingParameters,
    progress: Progress | None = None,
) -> FitResult:
    """``params.members`` networks, each as :func:`fit_network` with its own seed, averaged into one model.

    Each network keeps its own best epoch on the validation pixels; the
    accuracy and predictions returned are the ensemble's on them. One member
    is :func:`fit_network` itself.
    """
    progress = progress or SilentProgress()
    count = params.members or 1
    if count == 1:
        return fit_network(config, train_x, train_y, val_x, val_y, params, progress)
    fits = []
    for member in range(count):
        progress.info(f"network {member + 1} of {count} of the ensemble")
        part = SubProgress(progress, 100 * member / count, 100 * (member + 1) / count)
        member_params = replace(params, seed=member_seed(params.seed, member))
        fits.append(fit_network(config, train_x, train_y, val_x, val_y, member_params, part))
    ensemble = Ensemble([cast(NCGLF2, fit.network) for fit in fits]).eval()
    best_epochs = [fit.history.best_epoch for fit in fits]
    accuracy, predicted = None, None
    if len(val_x) > 0:
        _, accuracy, predicted = _evaluate(ensemble, _as_patches(val_x), val_y, params, torch.device("cpu"))
        progress.info(
            f"ensemble of {count}: validation accuracy {100 * accuracy:.1f} % "
            f"(the networks alone: {', '.join(f'{100 * (f.best_validation_accuracy or 0):.1f}' for f in fits)} %)"
        )
    return FitResult(ensemble, fits[0].history, accuracy, predicted, sum(f.seconds for f in fits), best_epochs)


def _probabilities(network: torch.nn.Module, x: Patches) -> torch.Tensor:
    """(N, classes) softmax probabilities in eval mode on the CPU, in batches."""
    network.eval()
    with torch.no_grad():
        return torch.cat(
            [torch.softmax(network(x.take(torch.arange(b.start, b.stop)))[0], dim=1) for b in iter_batches(len(x), 256)]
        )


def fit_own_splits(
    config: NetworkConfig,
    train_x: Patches,
    train_y: torch.Tensor,
    val_x: Patches,
    val_y: torch.Tensor,
    splits: Sequence[tuple[np.ndarray, np.ndarray]],
    params: TrainingParameters,
    progress: Progress | None = None,
) -> FitResult:
    """One network a split, averaged into one model; split k holds the positions network k trains and validates on.

    Each network keeps its epoch by its own validation. The accuracy and
    predictions returned are out of split: each validation pixel as predicted
    by the mean probabilities of the networks that validated on it, none of
    which trained next to it; an honest estimate of a smaller ensemble. A
    position no network validates on is predicted -1.
    """
    progress = progress or SilentProgress()
    fits = []
    at = [(torch.as_tensor(t, dtype=torch.int64), torch.as_tensor(v, dtype=torch.int64)) for t, v in splits]
    for member, (train_at, val_at) in enumerate(at):
        progress.info(f"network {member + 1} of {len(splits)} of the ensemble, on its own split")
        part = SubProgress(progress, 100 * member / len(splits), 100 * (member + 1) / len(splits))
        member_params = replace(params, seed=member_seed(params.seed, member))
        fits.append(
            fit_network(
                config,
                PatchSubset(train_x, train_at),
                train_y[train_at],
                PatchSubset(val_x, val_at),
                val_y[val_at],
                member_params,
                part,
            )
        )
    votes = torch.zeros(len(val_x), config.num_classes)
    for fit, (_, val_at) in zip(fits, at):
        if len(val_at):
            votes[val_at] += _probabilities(fit.network, PatchSubset(val_x, val_at))
    scored = (votes.sum(1) > 0).numpy()
    predicted = np.where(scored, votes.argmax(1).numpy(), -1)
    accuracy = float((predicted[scored] == val_y.numpy()[scored]).mean()) if scored.any() else None
    if accuracy is not None:
        progress.info(
            f"ensemble of {len(splits)}: validation accuracy {100 * accuracy:.1f} % out of split "
            f"(each network on its own: {', '.join(f'{100 * (f.best_validation_accuracy or 0):.1f}' for f in fits)} %)"
        )
    return FitResult(
        Ensemble([cast(NCGLF2, fit.network) for fit in fits]).eval(),
        fits[0].history,
        accuracy,
        predicted if accuracy is not None else None,
        sum(f.seconds for f in fits),
        [fit.history.best_epoch for fit in fits],
    )
