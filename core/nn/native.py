"""Native CPU kernels (``kernels/*.c``): built once per machine, loaded with ctypes.

Why native code: at NCGLF2's sizes (122 tokens, heads 16 wide, rows of 64
features) torch's attention and LayerNorm spend most of their time outside
arithmetic. The fused attention runs two to three times faster and also
yields the class token's probability row; the LayerNorm about twice. In
training, dropout masks come from a counter-based generator ten times faster
than torch's single-threaded one on the CPU.
Everything degrades gracefully: without a C compiler, on other devices, with
gradients (attention, LayerNorm), or with ``NCGLF2_NATIVE=0`` the network
uses torch's operators.

The shared library is cached under ``$NCGLF2_KERNEL_DIR`` (default
``~/.cache/ncglf2/kernels``), keyed by the sources, the compiler and the CPU,
and written atomically so concurrent first runs cannot see half a file.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import hashlib
import logging
import os
import platform
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "fused_attention",
    "layer_norm",
    "dropout",
    "kernel_status",
    "torch_only",
    "inference_shortcut_applies",
    "load_kernel",
]

KERNELS = Path(__file__).with_name("kernels")
SOURCES = (KERNELS / "attention.c", KERNELS / "layer_norm.c", KERNELS / "dropout.c")
HEADERS = (KERNELS / "vector.h",)
# Best first: OpenMP lets the kernel share torch's thread pool; -march=native is unknown to some compilers.
_FLAG_SETS = (["-O3", "-march=native", "-fopenmp"], ["-O3", "-fopenmp"], ["-O3", "-march=native"], ["-O3"])
_LANES = 16
_MAX_HEAD_WIDTH = 256
_MAX_NORM_WIDTH = 4096

_log = logging.getLogger("ncglf2")
_lock = threading.Lock()
_torch_only = 0


def _cache_dir() -> Path:
    configured = os.environ.get("NCGLF2_KERNEL_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "ncglf2" / "kernels"


def _compiler() -> str | None:
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def _cpu_signature() -> str:
    """The CPU's feature flags: a binary built with -march=native must not move to another CPU."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith(("flags", "Features")):
                    return line
    except OSError:
        pass
    return f"{platform.machine()} {platform.processor()}"


def _compiler_version(compiler: str) -> str:
    try:
        return subprocess.run([compiler, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def _build(compiler: str, target: Path) -> str:
    """Compile into ``target``; returns the flags used. Raises RuntimeError with the compiler's message."""
    target.parent.mkdir(parents=True, exist_ok=True)
    errors = []
    for flags in _FLAG_SETS:
        fd, partial = tempfile.mkstemp(suffix=".so", dir=target.parent)
        os.close(fd)
        command = [compiler, *flags, "-fPIC", "-shared", "-pthread", "-o", partial, *map(str, SOURCES), "-lm"]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=300)
            if result.returncode == 0:
                os.replace(partial, target)
                return " ".join(flags)
            errors.append(result.stderr.strip().splitlines()[-1:] or ["failed"])
        except (OSError, subprocess.SubprocessError) as error:
            errors.append([str(error)])
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(partial)
    raise RuntimeError("; ".join(e[0] for e in errors))


def load_kernel() -> ctypes.CDLL | None:
    """The kernel library, building it on first use; None where it cannot be had (see ``kernel_status``)."""
    with _lock:  # one build, even when threads ask at once
        return _load_once()[0]


@functools.cache
def _load_once() -> tuple[ctypes.CDLL | None, str]:
    """(library or None, status line), found or built once per process."""
    library, status = None, ""
    if os.environ.get("NCGLF2_NATIVE", "1") == "0":
        status = "disabled by NCGLF2_NATIVE=0"
    elif (compiler := _compiler()) is None:
        status = "no C compiler found (set CC); using torch's operators"
    else:
        parts = [p.read_bytes() for p in (*SOURCES, *HEADERS)]
        parts += [compiler.encode(), _compiler_version(compiler).encode(), _cpu_signature().encode()]
        key = hashlib.sha256(b"\0".join(parts)).hexdigest()[:16]
        target = _cache_dir() / f"ncglf2-kernels-{key}.so"
        try:
            library, how = _load_cached(target), "cached"
            if library is None:
                how = f"built with {os.path.basename(compiler)} {_build(compiler, target)}"
                library = ctypes.CDLL(str(target))
            _declare(library)
            status = f"native kernels ({how}: {target})"
        except (OSError, RuntimeError, AttributeError) as error:
            library, status = None, f"native kernels unavailable ({error}); using torch's operators"
            _log.warning(status)
    return library, status


def _load_cached(target: Path) -> ctypes.CDLL | None:
    """The cached library, or None when there is none or it does not load (then it is built anew)."""
    if not target.exists():
        return None
    try:
        return ctypes.CDLL(str(target))
    except OSError:
        _log.warning("the cached kernel library %s does not load; building it again", target)
        return None


def _declare(library: ctypes.CDLL) -> None:
    pointer, size = ctypes.c_void_p, ctypes.c_int64
    library.ncglf2_attention.restype = ctypes.c_int
    library.ncglf2_attention.argtypes = [pointer] * 4 + [size] * 4 + [ctypes.c_float, ctypes.c_int, ctypes.c_int]
    library.ncglf2_layer_norm.restype = ctypes.c_int
    library.ncglf2_layer_norm.argtypes = [pointer] * 4 + [size] * 2 + [ctypes.c_float, ctypes.c_int, ctypes.c_int]
    library.ncglf2_dropout_scale.restype = ctypes.c_int
    library.ncglf2_dropout_scale.argtypes = [pointer, size, ctypes.c_int, ctypes.c_uint64, ctypes.c_int]


def kernel_status() -> str:
    """One line on whether the native kernels are in use, and why not."""
    with _lock:
        return _load_once()[1]


@contextlib.contextmanager
def torch_only() -> Iterator[None]:
    """Plain torch operators inside this block: no native kernels, no fused primitives (to count FLOPs, or to compare)."""
    global _torch_only
    with _lock:
        _torch_only += 1
    try:
        yield
    finally:
        with _lock:
            _torch_only -= 1


def inference_shortcut_applies(x: Tensor, *parameters: Tensor | None) -> bool:
    """Whether a CPU inference shortcut (a native kernel, a fused oneDNN primitive) may replace torch's operators.

    CPU, float32/bfloat16, outside ``torch_only``, and no gradient to record.
    """
    if _torch_only or x.device.type != "cpu" or x.dtype not in (torch.float32, torch.bfloat16) or x.requires_grad:
        return False
    return not (torch.is_grad_enabled() and any(p is not None and p.requires_grad for p in parameters))


def _check(status: int, kernel: str) -> None:
    if status == 2:
        raise MemoryError(f"the {kernel} kernel could not allocate its scratch memory")
    if status != 0:
        raise RuntimeError(f"the {kernel} kernel refused its arguments (status {status})")


def _float32(t: Tensor) -> Tensor:
    return t.detach().to(torch.float32).contiguous()


#: torch CPU capabilities on which torch's own attention beats the kernel: on an AVX2-only AMD EPYC the kernel
#: ran the network at half the speed (single thread: 80-93 against 165 patches/s). Measured there only.
_ATTENTION_SLOWER_ON = ("AVX2",)


def native_attention_pays() -> bool:
    """Whether the attention kernel is the faster path on this CPU (``NCGLF2_NATIVE_ATTENTION=1`` forces it)."""
    if os.environ.get("NCGLF2_NATIVE_ATTENTION") == "1":
        return True
    return torch.backends.cpu.get_cpu_capability() not in _ATTENTION_SLOWER_ON


def native_attention_serves(head_width: int, dtype: torch.dtype) -> bool:
    """Whether the attention kernel runs heads of this width and dtype here (decided once per module state)."""
    if dtype not in (torch.float32, torch.bfloat16):  # torch_only is checked per call: it is a context
        return False
    fits = head_width % _LANES == 0 and head_width <= _MAX_HEAD_WIDTH
    return fits and native_attention_pays() and load_kernel() is not None


def fused_attention(qkv: Tensor, heads: int, scale: float, bias: Tensor | None = None) -> tuple[Tensor, Tensor] | None:
    """Softmax attention of the fused projections ``qkv`` (N, T, 3W) laid out [q | k | v], plus ``bias`` (3W).

    Returns the context (N, T, W), heads side by side in ``qkv``'s dtype, and
    the class token's probabilities (N, heads, T) in float32; or None when the
    kernel cannot serve this call (then the caller uses torch).
    """
    if not inference_shortcut_applies(qkv, bias) or qkv.dim() != 3 or qkv.shape[2] % (3 * heads):
        return None
    n, t, three_w = qkv.shape
    width = three_w // 3
    head_width = width // heads
    if head_width % _LANES or head_width > _MAX_HEAD_WIDTH or t == 0:
        return None
    library = load_kernel()
    if library is None:
        return None
    qkv = qkv.contiguous()
    if bias is not None:
        if bias.shape != (three_w,):
            raise ValueError(f"bias must have {three_w} values (got shape {tuple(bias.shape)})")
        bias = _float32(bias)
    context = torch.empty((n, t, width), dtype=qkv.dtype)
    probs = torch.empty((n, heads, t), dtype=torch.float32)
    status = library.ncglf2_attention(
        qkv.data_ptr(),
        None if bias is None else bias.data_ptr(),
        context.data_ptr(),
        probs.data_ptr(),
        n,
        t,
        heads,
        head_width,
        scale,
        int(qkv.dtype == torch.bfloat16),
        torch.get_num_threads(),
    )
    _check(status, "attention")
    return context, probs


def layer_norm(x: Tensor, weight: Tensor, bias: Tensor, eps: float) -> Tensor | None:
    """LayerNorm of ``x`` over its last dimension (a multiple of 16 wide), in ``x``'s dtype; None where torch must do it."""
    width = x.shape[-1] if x.dim() else 0
    if not inference_shortcut_applies(x, weight, bias) or width % _LANES or width == 0 or width > _MAX_NORM_WIDTH:
        return None
    if weight.shape != (width,) or bias.shape != (width,):
        return None
    library = load_kernel()
    if library is None:
        return None
    x = x.contiguous()
    weight, bias = _float32(weight), _float32(bias)
    out = torch.empty_like(x)
    status = library.ncglf2_layer_norm(
        x.data_ptr(),
        out.data_ptr(),
        weight.data_ptr(),
        bias.data_ptr(),
        x.numel() // width,
        width,
        eps,
        int(x.dtype == torch.bfloat16),
        torch.get_num_threads(),
    )
    _check(status, "layer norm")
    return out


def dropout(x: Tensor, p: float, training: bool) -> Tensor:
    """``F.dropout`` with a mask from the native generator on the CPU (same statistics, far faster).

    Gradients flow as for ``F.dropout``: the mask is a constant factor. The
    seed comes from torch's default generator, so ``torch.manual_seed`` makes
    runs repeatable. Elsewhere (GPU, no kernel) this is ``F.dropout``.
    """
    if not training or p == 0.0 or _torch_only or x.device.type != "cpu" or not 0.0 < p < 1.0:
        return F.dropout(x, p, training)
    library = load_kernel()
    if library is None:
        return F.dropout(x, p, training)
    threshold = min(65535, round(p * 65536))
    seed = int(torch.randint(0, 2**62, (1,)))
    scale = torch.empty(x.shape, dtype=torch.float32)
    _check(
        library.ncglf2_dropout_scale(scale.data_ptr(), scale.numel(), threshold, seed, torch.get_num_threads()),
        "dropout",
    )
    return x * scale.to(x.dtype)


if __name__ == "__main__":  # `python -m ncglf2.core.nn.native`: build now, say how it went
    print(kernel_status())
