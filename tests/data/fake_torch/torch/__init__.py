"""A stand-in for PyTorch at the boundary hostcheck's functional probe uses (torch.cuda,
torch.empty/randn/matmul/isfinite, Tensor.fill_/copy_/item, scaled_dot_product_attention).

It allocates nothing real: device memory is counted, and time is spent as a GPU of the
configured speed would. Behaviour comes from the environment (tests set it):

FAKE_TORCH_TOTAL_GIB / FAKE_TORCH_FREE_GIB   what mem_get_info reports (default 64 / total)
FAKE_TORCH_INTEGRATED=1                        props.is_integrated (shares system memory)
FAKE_TORCH_OOM_AT_GIB=N                        device allocations beyond N GiB raise OOM
FAKE_TORCH_COPY_S_PER_MIB=S                    host<->device copies take S seconds per MiB
FAKE_TORCH_GBPS / FAKE_TORCH_TFLOPS            modelled speeds (default 200 / 20)
FAKE_TORCH_HANG=OP                             OP (import, matmul, synchronize) sleeps forever
FAKE_TORCH_HANG_CHILD=FILE                     before hanging, start a child process and
                                               write its pid to FILE (a helper left behind)
FAKE_TORCH_HANG_AT_GIB=N                       a device allocation beyond N GiB never returns
FAKE_TORCH_HANG_DEAF=1                         the hang also disarms the probe's own watchdog
                                               (a process stuck in the kernel)
FAKE_TORCH_CRASH=OP                            OP (allocate, matmul …) dies with SIGSEGV
FAKE_TORCH_NO_GPU=1                            torch.cuda.is_available() is False
"""

import os
import time

from torch._fake import _hang, stall

_hang("import")

from torch import cuda, nn, version  # noqa: E402,F401

__version__ = "2.9.0+fake"
GIB = 1 << 30


def _env(name, default):
    value = os.environ.get("FAKE_TORCH_" + name)
    return default if value in (None, "") else float(value)


class dtype:
    def __init__(self, name, size):
        self.name, self.itemsize = name, size

    def __repr__(self):
        return "torch." + self.name


uint8 = dtype("uint8", 1)
bfloat16 = dtype("bfloat16", 2)
float32 = dtype("float32", 4)


class device:
    def __init__(self, kind, index=0):
        self.type, self.index = kind, index


_allocated = [0]


def _is_device(where):
    if where is None:
        return False
    return getattr(where, "type", where) == "cuda" or str(where).startswith("cuda")


class Tensor:
    def __init__(self, numel, dt, where, value=0.0, owner=None):
        self.numel, self.dtype, self.device = numel, dt, where
        self.value = value
        self.owner = owner
        self.nbytes = numel * dt.itemsize
        self.is_cuda = _is_device(where)
        if owner is None and self.is_cuda:
            limit = _env("OOM_AT_GIB", None)
            if limit is not None and _allocated[0] + self.nbytes > limit * GIB:
                raise cuda.OutOfMemoryError(
                    f"HIP out of memory. Tried to allocate {self.nbytes} bytes"
                )
            hang_at = _env("HANG_AT_GIB", None)
            if hang_at is not None and _allocated[0] + self.nbytes > hang_at * GIB:
                stall()  # ROCm#6501: allocations past ~64 GB that never return
            _allocated[0] += self.nbytes
        self._counted = owner is None and self.is_cuda

    def __del__(self):
        if getattr(self, "_counted", False):
            _allocated[0] -= self.nbytes

    def fill_(self, value):
        if self.is_cuda:
            cuda._spend(self.nbytes / (_env("GBPS", 200) * 1e9))
        (self.owner or self).value = value
        return self

    def copy_(self, src):
        if self.is_cuda != src.is_cuda:
            per_mib = _env("COPY_S_PER_MIB", None)
            if per_mib is not None:
                time.sleep(per_mib * self.nbytes / (1 << 20))
            else:
                cuda._spend(self.nbytes / 25e9)
        else:
            cuda._spend(2 * self.nbytes / (_env("GBPS", 200) * 1e9))
        (self.owner or self).value = (src.owner or src).value
        return self

    def __getitem__(self, index):
        if isinstance(index, slice):
            start, stop, step = index.indices(self.numel)
            return Tensor(
                len(range(start, stop, step)), self.dtype, self.device, owner=self.owner or self
            )
        return Tensor(1, self.dtype, self.device, owner=self.owner or self)

    def item(self):
        return (self.owner or self).value

    def all(self):
        return Tensor(1, uint8, None, value=(self.owner or self).value)


def empty(*size, dtype=float32, device=None, pin_memory=False):
    if _is_device(device):
        _hang("allocate")
    numel = 1
    for n in size:
        numel *= int(n)
    return Tensor(numel, dtype, device)


def randn(*size, dtype=float32, device=None):
    t = empty(*size, dtype=dtype, device=device)
    t.value = 0.5
    return t


def matmul(a, b):
    _hang("matmul")
    n = round(a.numel**0.5)
    cuda._spend(2 * n**3 / (_env("TFLOPS", 20) * 1e12))
    return randn(a.numel, dtype=a.dtype, device=a.device)


def isfinite(t):
    return Tensor(1, uint8, None, value=True)
