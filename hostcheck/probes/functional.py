"""The functional probe: run hostcheck's GPU probe script in the serving interpreter, bounded.

The script (hostcheck/probes/probe_script.py) allocates, copies and computes with the
interpreter's own PyTorch and prints marker lines; this module runs it through the Host (a
recorded command, ``functional``, so snapshots replay it), kills its process group at the
bound, and reads the kernel log lines that appeared meanwhile. It never runs by itself: only
when asked (``scan --functional``), and not while an inference process uses the GPU unless
forced. On a fixture or snapshot root the recorded run is replayed.
"""

from __future__ import annotations

import json
import re

from hostcheck._record import NamedTuple
from hostcheck.facts import FunctionalRun, InferenceProcess
from hostcheck.host.core import Host
from hostcheck.readings import Reason, Unavailable, Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

COMMAND_NAME = "functional"
# The standalone script (stdlib + torch, never imports hostcheck), shipped beside this module:
# script_text() hands it to the Host's command runner, the Kubernetes Job generator and anyone
# who wants to run it by hand.
SCRIPT_NAME = "probe_script.py"
MARKER = "HOSTCHECK-FUNCTIONAL-"
# Time the interpreter gets beyond the script's own budget (start-up, its watchdog's exit):
# 15 s, or a quarter of a short bound.
GRACE_S = 15.0
_STAMP = r"^\s*\[\s*(\d+(?:\.\d+)?)\]"  # compiled on first use (re caches it)


class FunctionalOptions(NamedTuple):
    python: str
    target_gib: float
    bound_s: float = 300.0  # the whole run, killed after this
    step_s: float = 60.0
    force: bool = False  # run even while an inference process uses the GPU
    extra_args: tuple[str, ...] = ()  # further script options (tests: small sizes)


def _stamp(line: str) -> float | None:
    found = re.match(_STAMP, line)
    return float(found.group(1)) if found else None


def log_mark(log: str) -> float:
    """The timestamp of the kernel log's last line (0 for a log without one)."""
    for line in reversed(log.splitlines()):
        stamp = _stamp(line)
        if stamp is not None:
            return stamp
    return 0.0


def lines_after(log: str, mark: float) -> list[str]:
    """The kernel log lines stamped after ``mark`` (continuation lines go with theirs)."""
    out: list[str] = []
    keep = False
    for line in log.splitlines():
        stamp = _stamp(line)
        if stamp is not None:
            keep = stamp > mark
        if keep and line.strip():
            out.append(line.rstrip())
    return out


def parse_output(stdout: str) -> dict[str, Any]:
    """The marker lines of the script's output: start, steps begun and ended, the result."""
    parsed: dict[str, Any] = {
        "start": None,
        "began": [],
        "steps": [],
        "result": None,
        "progress": {},
    }
    for line in stdout.splitlines():
        if not line.startswith(MARKER):
            continue
        kind, _, payload = line[len(MARKER) :].partition(" ")
        try:
            data = json.loads(payload)
        except ValueError:
            continue
        if not isinstance(data, dict):
            continue
        if kind == "START":
            parsed["start"] = data
        elif kind == "BEGIN":
            parsed["began"].append(str(data.get("step")))
        elif kind == "STEP":
            parsed["steps"].append(data)
        elif kind == "PROGRESS":
            parsed["progress"][str(data.get("step"))] = data
        elif kind == "RESULT":
            parsed["result"] = data
    return parsed


def _holders(processes: Value[list[InferenceProcess]] | Unavailable) -> list[InferenceProcess]:
    if not isinstance(processes, Value):
        return []
    return [proc for proc in processes.value if proc.pid > 0]  # pid 0: an --env-file stand-in


def probe_functional(
    host: Host,
    options: FunctionalOptions | None,
    processes: Value[list[InferenceProcess]] | Unavailable,
) -> Value[FunctionalRun] | Unavailable | None:
    """Run (live) or replay (recorded) the functional probe; None when neither applies."""
    if not host.live:
        if not host.has_recorded_command(COMMAND_NAME):
            return None
        python = options.python if options else "PYTHON"
    elif options is None:
        return None
    else:
        python = options.python
        holders = _holders(processes)
        if holders and not options.force:
            names = ", ".join(f"{proc.kind} (pid {proc.pid})" for proc in holders)
            return Unavailable(
                Reason.NOT_RUN,
                "hostcheck scan --functional",
                f"{names} is using the GPU; stop it first or pass --force",
            )
    before = host.kernel_log() if host.live else None
    mark = log_mark(before.value) if isinstance(before, Value) else None
    target = options.target_gib if options else 0.0
    bound = options.bound_s if options else 0.0
    step = options.step_s if options else 0.0
    argv = [
        python,
        "-I",
        "-c",
        script_text(),
        "--target-gib",
        f"{target:g}",
        "--budget-s",
        f"{max(bound - min(GRACE_S, bound / 4), 1.0):g}",
        "--step-s",
        f"{step:g}",
        *(["--log-mark", f"{mark:.6f}"] if mark is not None else []),
        *(options.extra_args if options else ()),
    ]
    done = host.run(
        COMMAND_NAME,
        argv,
        timeout=bound,
        display=f"{python} -I -c <hostcheck's functional probe> --target-gib {target:g}",
        partial=True,
    )
    if not isinstance(done, Value):
        return done
    out = done.value
    parsed = parse_output(out.stdout)
    after = host.kernel_log()
    start: dict[str, Any] = parsed["start"] or {}
    recorded_mark = start.get("log_mark")
    kernel_lines: Value[list[str]] | Unavailable
    if isinstance(after, Unavailable):
        kernel_lines = after
    elif recorded_mark is None:
        kernel_lines = Unavailable(
            Reason.MISSING, after.source, "no kernel log mark from before the run"
        )
    else:
        try:
            kernel_lines = Value(lines_after(after.value, float(recorded_mark)), after.source)
        except ValueError:
            kernel_lines = Unavailable(Reason.UNPARSABLE, after.source, repr(recorded_mark))
    finished = {str(s.get("step")) for s in parsed["steps"]}
    in_flight = next((name for name in reversed(parsed["began"]) if name not in finished), None)
    options_seen: dict[str, Any] = (
        start["options"] if isinstance(start.get("options"), dict) else {}
    )
    return Value(
        FunctionalRun(
            interpreter=str(start.get("python") or python),
            pid=start["pid"] if isinstance(start.get("pid"), int) else None,
            target_gib=float(options_seen.get("target_gib", target) or 0.0),
            returncode=out.returncode,
            timed_out=out.timed_out,
            steps=parsed["steps"],
            result=parsed["result"],
            in_flight=in_flight,
            progress=parsed["progress"].get(in_flight) if in_flight else None,
            stderr_tail=out.stderr.strip().splitlines()[-12:],
            kernel_lines=kernel_lines,
        ),
        done.source,
    )


def script_text() -> str:
    """The probe script's source, as shipped in the package."""
    from importlib import resources  # imports tempfile and shutil: not on the scan path

    return resources.files(__package__).joinpath(SCRIPT_NAME).read_text(encoding="utf-8")
