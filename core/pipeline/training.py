"""Training with the paper's protocol, every value a parameter.

Focal loss plus the base/detail consistency term, Adam with a step decay,
shuffled batches, and the weights of the best validation accuracy kept.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import numpy as np
import torch

from ..io.stack import WindowSource
from ..nn.allocator import keep_freed_memory
from ..nn.devices import resolve_device
from ..nn.model import NCGLF2, NetworkConfig, focal_loss
from ..progress import Progress, SilentProgress, check_canceled
from ..requests import TrainingParameters
from .report import TrainingHistory
from .tiling import Tile, cut_patches, iter_batches, read_tile_features

__all__ = ["TrainingParameters", "gather_patches", "fit_network", "FitResult", "training_loss"]


def gather_patches(
    stack: WindowSource,
    preprocessing,
    rows: np.ndarray,
    cols: np.ndarray,
    patch_size: int,
    progress: Progress | None = None,
    tile_size: int = 512,
) -> torch.Tensor:
    """(N, C, P, P) patches around the given pixels, reading only the tiles that hold them."""
    progress = progress or SilentProgress()
    n = rows.size
    channels = preprocessing.out_channels
    out = torch.empty((n, channels, patch_size, patch_size), dtype=torch.float32)
    if n == 0:
        return out
    halo = patch_size // 2
    tile_of = (rows // tile_size) * ((stack.grid.width + tile_size - 1) // tile_size) + cols // tile_size
    order = np.argsort(tile_of, kind="stable")
    tiles, starts = np.unique(tile_of[order], return_index=True)
    bounds = np.append(starts, n)
    per_row = (stack.grid.width + tile_size - 1) // tile_size
    for i, tile_index in enumerate(tiles):  # a loop over tiles that hold samples
        check_canceled(progress)
        ty, tx = divmod(int(tile_index), per_row)
        tile = Tile(
            tx * tile_size,
            ty * tile_size,
            min(tile_size, stack.grid.width - tx * tile_size),
            min(tile_size, stack.grid.height - ty * tile_size),
        )
        members = order[bounds[i] : bounds[i + 1]]
        features, _ = read_tile_features(stack, preprocessing, tile, halo)
        r = torch.from_numpy(rows[members] - tile.y)
        c = torch.from_numpy(cols[members] - tile.x)
        out[torch.from_numpy(members)] = cut_patches(torch.from_numpy(features), r, c, patch_size)
        progress.set_progress(100.0 * (i + 1) / len(tiles))
    return out


@dataclass
class FitResult:
    network: NCGLF2  # the best epoch's weights, eval mode, on the CPU
    history: TrainingHistory
    best_validation_accuracy: float | None = None
    validation_predictions: np.ndarray | None = None  # the best epoch's class indices of the validation patches
    seconds: float = 0.0


def training_loss(
    logits: torch.Tensor, target: torch.Tensor, consistency: torch.Tensor, params: TrainingParameters
) -> torch.Tensor:
    """The paper's objective: weighted focal loss plus the base/detail consistency term."""
    return (
        params.focal_weight * focal_loss(logits, target, params.focal_gamma) + params.consistency_weight * consistency
    )


def _evaluate(
    network: NCGLF2, x: torch.Tensor, y: torch.Tensor, params: TrainingParameters, device: torch.device
) -> tuple[float, float, np.ndarray]:
    """(loss, accuracy, predicted indices) in eval mode, in batches."""
    network.eval()
    predictions, loss_sum = [], 0.0
    with torch.no_grad():
        for batch in iter_batches(x.shape[0], 256):
            logits, consistency = network(x[batch].to(device))
            loss = training_loss(logits, y[batch].to(device), consistency, params)
            loss_sum += float(loss) * (batch.stop - batch.start)
            predictions.append(logits.argmax(1).cpu())
    predicted = torch.cat(predictions).numpy()
    return loss_sum / x.shape[0], float((predicted == y.numpy()).mean()), predicted


def fit_network(
    config: NetworkConfig,
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    val_x: torch.Tensor,
    val_y: torch.Tensor,
    params: TrainingParameters,
    progress: Progress | None = None,
) -> FitResult:
    """Train from patches; returns the network with the best validation accuracy (eval mode, CPU)."""
    progress = progress or SilentProgress()
    device = resolve_device(params.device)
    if device.type == "cpu":
        keep_freed_memory()
    torch.manual_seed(params.seed)
    network = NCGLF2(config).to(device).to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # torch stubs lack it
    optimiser = torch.optim.Adam(network.parameters(), lr=params.learning_rate)
    step = params.lr_step_epochs or max(1, params.epochs // 5)
    scheduler = torch.optim.lr_scheduler.StepLR(optimiser, step_size=step, gamma=params.lr_gamma)
    shuffle = torch.Generator().manual_seed(params.seed)
    columns: dict[str, list] = {
        k: [] for k in ("epochs", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "learning_rate")
    }
    best_accuracy, best_loss, best_state, best_epoch = -1.0, float("inf"), None, 0
    best_predictions: np.ndarray | None = None
    n = train_x.shape[0]
    started = time.perf_counter()
    train_x_device, train_y_device = train_x.to(device), train_y.to(device)
    for epoch in range(1, params.epochs + 1):
        network.train()
        order = torch.randperm(n, generator=shuffle).to(device)
        loss_sum, correct = 0.0, 0
        for batch in iter_batches(n, params.batch_size):
            check_canceled(progress)
            index = order[batch]
            if index.numel() < 2:  # batch normalization cannot train on one sample
                continue
            logits, consistency = network(train_x_device[index])
            target = train_y_device[index]
            loss = training_loss(logits, target, consistency, params)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            loss_sum += float(loss.detach()) * index.numel()
            correct += int((logits.argmax(1) == target).sum())
        learning_rate = optimiser.param_groups[0]["lr"]
        scheduler.step()
        predicted = None
        if val_x.shape[0]:
            val_loss, val_accuracy, predicted = _evaluate(network, val_x, val_y, params, device)
        else:
            val_loss, val_accuracy = float("nan"), correct / n
        for key, value in zip(columns, (epoch, loss_sum / n, correct / n, val_loss, val_accuracy, learning_rate)):
            columns[key].append(value)
        # Ties in accuracy (common on small validation sets) go to the lower validation loss.
        if val_accuracy > best_accuracy or (val_accuracy == best_accuracy and val_loss < best_loss):
            best_accuracy, best_loss, best_epoch = val_accuracy, val_loss, epoch
            best_state = copy.deepcopy(network.state_dict())
            best_predictions = predicted
        progress.info(
            f"epoch {epoch}/{params.epochs}: loss {loss_sum / n:.4f}, train accuracy {100 * correct / n:.1f} %, "
            f"validation accuracy {100 * val_accuracy:.1f} %"
        )
        progress.set_progress(100.0 * epoch / params.epochs)
    network.load_state_dict(best_state)
    return FitResult(
        network.cpu().eval(),
        TrainingHistory(**columns, best_epoch=best_epoch),
        best_accuracy if val_x.shape[0] else None,
        best_predictions,
        time.perf_counter() - started,
    )
