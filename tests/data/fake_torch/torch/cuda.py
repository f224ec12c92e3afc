import os
import time

from torch._fake import _hang

_pending = [0.0]


class OutOfMemoryError(RuntimeError):
    pass


class _Props:
    def __init__(self):
        self.name = "Fake Radeon 8060S"
        self.gcnArchName = "gfx1151"
        self.is_integrated = os.environ.get("FAKE_TORCH_INTEGRATED") == "1"
        self.total_memory = int(float(os.environ.get("FAKE_TORCH_TOTAL_GIB") or 64) * (1 << 30))


def is_available():
    return os.environ.get("FAKE_TORCH_NO_GPU") != "1"


def device_count():
    return 1 if is_available() else 0


def get_device_properties(index=0):
    return _Props()


def mem_get_info(index=0):
    total = int(float(os.environ.get("FAKE_TORCH_TOTAL_GIB") or 64) * (1 << 30))
    free = os.environ.get("FAKE_TORCH_FREE_GIB")
    return (int(float(free) * (1 << 30)) if free else total, total)


def _spend(seconds):
    _pending[0] += seconds


def synchronize(device=None):
    _hang("synchronize")
    time.sleep(_pending[0])
    _pending[0] = 0.0


def empty_cache():
    pass
