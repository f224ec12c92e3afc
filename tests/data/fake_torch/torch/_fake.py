"""The stand-in's hang: an operation named in FAKE_TORCH_HANG never returns."""

import os
import signal
import subprocess
import sys
import time


def _hang(op):
    if os.environ.get("FAKE_TORCH_CRASH") == op:
        os.kill(os.getpid(), signal.SIGSEGV)  # as hipMalloc crashing on ROCm 6.4-7.1
    if os.environ.get("FAKE_TORCH_HANG") == op:
        stall()


def stall():
    """Never return."""
    if os.environ.get("FAKE_TORCH_HANG_DEAF") == "1":
        # A process stuck in the kernel: no watchdog of its own can end it.
        import faulthandler

        faulthandler.cancel_dump_traceback_later()
    pidfile = os.environ.get("FAKE_TORCH_HANG_CHILD")
    if pidfile:
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
        with open(pidfile, "w") as handle:
            handle.write(str(child.pid))
    while True:
        time.sleep(3600)
