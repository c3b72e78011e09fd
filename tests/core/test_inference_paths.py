"""CPU inference shortcuts (folded batch norm, fused conv + activation, in-place class token) equal the plain maths."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from ncglf2.core.nn.model import NCGLF2, Attention, NetworkConfig, ScaleAggregation, conv_activation
from ncglf2.core.nn.native import load_kernel, native_attention_pays, torch_only


def randomised(network: torch.nn.Module) -> torch.nn.Module:
    """Non-trivial weights and batch-norm statistics everywhere."""
    torch.manual_seed(11)
    for parameter in network.parameters():
        parameter.data.normal_(0, 0.3)
    for name, buffer in network.named_buffers():
        if name.endswith("running_mean"):
            buffer.normal_(0, 0.5)
        elif name.endswith("running_var"):
            buffer.uniform_(0.5, 2.0)
    return network


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("activation, reference", [("relu", F.relu), ("relu6", F.relu6)])
@pytest.mark.parametrize("groups", [1, 8])
def test_conv_activation_equals_conv_then_activation(dtype, activation, reference, groups):
    torch.manual_seed(0)
    x = (torch.randn(5, 8, 9, 9) * 3).to(dtype).contiguous(memory_format=torch.channels_last)
    weight = torch.randn(16, 8 // groups, 3, 3).to(dtype)
    bias = torch.randn(16).to(dtype)
    with torch.inference_mode():
        got = conv_activation(x, weight, bias, 1, groups, activation)
    expected = reference(F.conv2d(x, weight, bias, padding=1, groups=groups))
    torch.testing.assert_close(
        got, expected, atol=1e-5 if dtype == torch.float32 else 0.05, rtol=1e-5 if dtype == torch.float32 else 0.02
    )
    assert got.max() > 0 and (activation == "relu" or got.max() <= 6)


def test_folded_batch_norm_equals_the_branch():
    stem = randomised(ScaleAggregation(6, 16)).eval()
    x = torch.randn(4, 6, 11, 11).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        for branch in stem.branches:
            torch.testing.assert_close(stem._branch(branch, x), branch(x), atol=1e-5, rtol=1e-5)


def test_training_mode_keeps_batch_statistics():
    stem = ScaleAggregation(3, 8).train()
    x = torch.randn(6, 3, 7, 7) * 4 + 2
    branch = stem.branches[0]
    out = stem._branch(branch, x)
    # in training the batch's own statistics normalise: each channel has mean ~0 before the ReLU
    pre = branch[1](branch[0](x))
    torch.testing.assert_close(out, F.relu(pre))
    assert abs(float(pre.detach().mean())) < 1e-5


@pytest.mark.parametrize("precision", [torch.float32, torch.bfloat16])
def test_network_fast_and_plain_paths_agree(precision):
    network = randomised(NCGLF2(NetworkConfig(num_classes=5, hsi_channels=10, lidar_channels=2))).eval().to(precision)
    network = network.to(memory_format=torch.channels_last)
    x = torch.randn(7, 12, 11, 11).to(precision)
    with torch.inference_mode():
        fast, _ = network(x)
    with torch.no_grad(), torch_only():
        plain, _ = network(x)
    tolerance = dict(atol=1e-4, rtol=1e-4) if precision == torch.float32 else dict(atol=0.15, rtol=0.05)
    torch.testing.assert_close(fast.float(), plain.float(), **tolerance)
    if precision == torch.float32:
        assert (fast.argmax(1) == plain.argmax(1)).all()


def test_gradients_flow_through_the_class_token_update():
    network = NCGLF2(NetworkConfig(num_classes=3, patch_size=5, hsi_channels=4, lidar_channels=1, width=16)).train()
    x = torch.randn(4, 5, 5, 5, requires_grad=True)
    logits, consistency = network(x)
    (logits.sum() + consistency).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert network.base.structure.gcn2.grad.abs().sum() > 0


def test_in_place_class_token_update_equals_the_copying_one():
    """Without gradients the class token is updated in place; with them by a copy: the same numbers."""
    network = randomised(NCGLF2(NetworkConfig(num_classes=5, hsi_channels=10, lidar_channels=2))).eval()
    x = torch.randn(6, 12, 11, 11)
    with torch.no_grad():
        in_place, _ = network(x)  # nothing requires a gradient: the in-place branch
    copied, _ = network(x.clone().requires_grad_(True))  # the input requires one: the copying branch
    assert copied.requires_grad
    torch.testing.assert_close(in_place, copied.detach(), atol=2e-5, rtol=1e-5)


def _attention_paths(network: torch.nn.Module) -> set[str]:
    return {module.path for module in network.modules() if isinstance(module, Attention)}


def test_attention_path_follows_mode_device_and_precision():
    """The path is chosen when the module changes (train/eval, dtype, copy), not per call."""
    network = NCGLF2(NetworkConfig(num_classes=3, hsi_channels=10, lidar_channels=2))
    assert _attention_paths(network) == {"cpu_training"}
    inference = "native" if load_kernel() is not None and native_attention_pays() else "torch_fused"
    assert _attention_paths(network.eval()) == {inference}
    assert _attention_paths(copy.deepcopy(network).to(torch.bfloat16)) == {inference}
    assert _attention_paths(network.to(torch.float64)) == {"torch_fused"}  # no kernel for float64
    assert _attention_paths(network.to(torch.float32).train()) == {"cpu_training"}


@pytest.mark.parametrize("path", ["native", "cpu_training", "torch_fused"])
def test_every_attention_path_gives_the_same_numbers(path):
    if path == "native" and load_kernel() is None:
        pytest.skip("native kernels are switched off")
    torch.manual_seed(3)
    attention = Attention(32, 2).eval()
    attention.attn_dropout = 0.0  # dropout off, so that training-mode paths compute the same function
    x = torch.randn(4, 9, 32)
    with torch.no_grad():
        expected_context, expected_probs = attention._torch_fused(x)
        attention.path = path
        out, probs = attention(x)
    expected = attention.out(expected_context)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(probs, expected_probs, atol=1e-6, rtol=1e-5)


def test_the_attention_kernel_serves_only_where_it_is_the_faster_path(monkeypatch):
    """On AVX2-only CPUs torch's attention is twice as fast as the kernel; elsewhere the kernel is."""
    capability = torch.backends.cpu.get_cpu_capability()
    monkeypatch.delenv("NCGLF2_NATIVE_ATTENTION", raising=False)
    assert native_attention_pays() == (capability != "AVX2")
    monkeypatch.setenv("NCGLF2_NATIVE_ATTENTION", "1")
    assert native_attention_pays()
    if load_kernel() is not None:
        network = NCGLF2(NetworkConfig(num_classes=3, hsi_channels=10, lidar_channels=2)).eval()
        assert _attention_paths(network) == {"native"}
