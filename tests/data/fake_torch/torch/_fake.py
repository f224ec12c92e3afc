"""The stand-in's hang: an operation named in FAKE_TORCH_HANG never returns."""

import os
import subprocess
import sys
import time


def _hang(op):
    if os.environ.get("FAKE_TORCH_HANG") != op:
        return
    pidfile = os.environ.get("FAKE_TORCH_HANG_CHILD")
    if pidfile:
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
        with open(pidfile, "w") as handle:
            handle.write(str(child.pid))
    while True:
        time.sleep(3600)
