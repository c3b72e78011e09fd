"""The network: reference equality, training, determinism, shapes."""

import numpy as np
import pytest
import torch

from ncglf2.core import NCGLF2, NetworkConfig, load_reference_checkpoint
from ncglf2.core.nn.model import StructureTransformer, focal_loss


@pytest.fixture(scope="module")
def reference(reference_files):
    checkpoint, vectors = reference_files
    data = np.load(vectors)
    model = load_reference_checkpoint(checkpoint, num_classes=int(data["num_classes"]))
    return model, data


@pytest.mark.parametrize("inputs", ["random", "smooth"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_matches_reference_logits(reference, inputs, dtype):
    model, data = reference
    model = model.to(dtype)
    with torch.no_grad():
        logits, consistency = model(torch.from_numpy(data[f"inputs_{inputs}"]).to(dtype))
    error = np.abs(logits.double().numpy() - data[f"logits_{inputs}"]).max()
    # 1e-4 is the bar; float64 must also show that no step silently drops to float32
    assert error < (1e-4 if dtype == torch.float32 else 1e-10), f"max |logit - reference| = {error:.3g}"
    expected = float(data[f"consistency_{inputs}"])
    assert abs(float(consistency) - expected) <= 1e-6 * abs(expected) + (1e-12 if dtype == torch.float64 else 2e-11)
    model.float()


def test_reference_predictions_agree(reference):
    model, data = reference
    with torch.no_grad():
        logits, _ = model(torch.from_numpy(data["inputs_smooth"]).float())
    assert (logits.argmax(1).numpy() == data["logits_smooth"].argmax(1)).all()


def tiny_problem(config: NetworkConfig, n: int = 48, seed: int = 0):
    """Separable classes: each class shifts the centre pixel's first channels."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % config.num_classes
    x = torch.randn(n, config.in_channels, config.patch_size, config.patch_size, generator=g) * 0.5
    x[:, : config.num_classes] += (
        2.0 * torch.nn.functional.one_hot(y, config.in_channels)[:, : config.num_classes, None, None]
    )
    return x, y


def test_training_lowers_loss_and_reaches_every_parameter():
    torch.manual_seed(0)
    config = NetworkConfig(num_classes=3, patch_size=5, hsi_channels=6, lidar_channels=2, width=16)
    model = NCGLF2(config).train()
    x, y = tiny_problem(config)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)

    def loss_fn():
        logits, consistency = model(x)
        return 0.2 * focal_loss(logits, y) + 0.8 * consistency

    torch.manual_seed(1)
    first = loss_fn()
    first.backward()
    model.eval()
    with torch.no_grad():
        first_logits, _ = model(x)
    model.train()
    without_grad = [name for name, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    # The last stage reads only the class token, whose scores shift by the same q . b_k
    # for every key: softmax cancels it, so that key bias has no effect (nor gradient).
    assert without_grad == ["base_fusion.blocks.0.attention.key.bias"], f"no gradient reaches {without_grad}"
    optimiser.step()
    for _ in range(30):
        optimiser.zero_grad()
        loss = loss_fn()
        loss.backward()
        optimiser.step()
    model.eval()
    with torch.no_grad():
        final_logits, _ = model(x)
        final = 0.2 * focal_loss(final_logits, y)
    first_focal = 0.2 * focal_loss(first_logits, y)
    assert final.item() < 0.5 * first_focal.item(), (first_focal.item(), final.item())
    assert (final_logits.argmax(1) == y).float().mean() > 0.9


def test_eval_is_deterministic():
    torch.manual_seed(0)
    config = NetworkConfig(num_classes=4, patch_size=7, hsi_channels=5, lidar_channels=1)
    model = NCGLF2(config).eval()
    x, _ = tiny_problem(config, n=16)
    with torch.no_grad():
        a, ca = model(x)
        b, cb = model(x)
    assert torch.equal(a, b) and torch.equal(ca, cb)


@pytest.mark.parametrize(
    "patch_size,num_classes,hsi_channels,lidar_channels",
    [(11, 15, 40, 1), (7, 6, 20, 2), (3, 2, 3, 1), (9, 4, 12, 3)],
)
def test_shapes(patch_size, num_classes, hsi_channels, lidar_channels):
    config = NetworkConfig(num_classes, patch_size, hsi_channels, lidar_channels, width=32)
    model = NCGLF2(config).eval()
    with torch.no_grad():
        logits, consistency = model(torch.randn(5, hsi_channels + lidar_channels, patch_size, patch_size))
    assert logits.shape == (5, num_classes)
    assert consistency.shape == () and torch.isfinite(consistency)


def test_class_token_only_path_equals_full_path():
    torch.manual_seed(3)
    layer = StructureTransformer(width=32, depth=2, heads=4, patch_size=5).eval()
    x = torch.randn(6, 26, 32, dtype=torch.float64)
    layer.double()
    with torch.no_grad():
        full = layer(x)[:, 0]
        short = layer(x, class_token_only=True)[:, 0]
    torch.testing.assert_close(short, full, rtol=0, atol=1e-12)


def test_bad_config_is_refused():
    with pytest.raises(ValueError, match="patch_size must be odd"):
        NetworkConfig(num_classes=3, patch_size=10)
    with pytest.raises(ValueError, match="num_classes"):
        NetworkConfig(num_classes=1)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu():
    torch.manual_seed(0)
    config = NetworkConfig(num_classes=5, patch_size=11, hsi_channels=40, lidar_channels=1)
    model = NCGLF2(config).eval()
    x = torch.randn(32, 41, 11, 11)
    with torch.no_grad():
        cpu, _ = model(x)
        gpu, _ = model.cuda()(x.cuda())
    torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-4, rtol=1e-4)
