"""hostcheck's functional GPU probe: allocate, copy and compute with the serving stack's PyTorch.

Standalone on purpose: it needs only the standard library and PyTorch (a ROCm build exposes
the torch.cuda API; so does a CUDA build), never imports hostcheck, and runs in the interpreter
that will serve:

    python probe_script.py --target-gib 40 --budget-s 120
    podman run --rm -i --device /dev/kfd --device /dev/dri IMAGE python - --target-gib 40 < probe_script.py

It prints marker lines that `hostcheck scan --functional` turns into findings (any other
output, e.g. from importing torch, is ignored):

    HOSTCHECK-FUNCTIONAL-START {...}   before torch is imported
    HOSTCHECK-FUNCTIONAL-BEGIN {"step": ...}   each step as it starts
    HOSTCHECK-FUNCTIONAL-PROGRESS {"step": "allocate", ...}   after each allocated chunk
    HOSTCHECK-FUNCTIONAL-STEP {"step": ..., "ok": ..., "seconds": ..., ...}   each step's result
    HOSTCHECK-FUNCTIONAL-RESULT {...}   the end, with every step

Each step runs under a watchdog (faulthandler, which needs no GIL): a step that does not end
within --step-s seconds prints the Python stack to stderr and ends the process with status 1,
so the last BEGIN line names the step that hung. The caller bounds the whole run as well and
kills the process group: a process stuck in the kernel ignores any watchdog of its own.
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import math
import os
import sys
import time
from collections.abc import Callable
from typing import Any

MARKER = "HOSTCHECK-FUNCTIONAL-"
FORMAT = 1  # bumped when the meaning of a field changes
MIB = 1 << 20
GIB = 1 << 30
MIN_TIMED_S = 0.2  # shorter timings are mostly launch overhead and clock resolution
MAX_REPEAT = 1000


def emit(kind: str, data: dict[str, Any]) -> None:
    sys.stdout.write(MARKER + kind + " " + json.dumps(data, sort_keys=True) + "\n")
    sys.stdout.flush()


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="hostcheck's functional GPU probe")
    parser.add_argument("--target-gib", type=float, default=40.0, help="memory to allocate")
    parser.add_argument("--chunk-mib", type=int, default=1024, help="allocation chunk size")
    parser.add_argument(
        "--headroom-gib",
        type=float,
        default=4.0,
        help="stop this far below what the GPU reports free (and, on a GPU that shares system "
        "memory, below MemAvailable), so the OS keeps memory",
    )
    parser.add_argument("--copy-mib", type=int, default=256, help="host<->device copy size")
    parser.add_argument("--bandwidth-mib", type=int, default=1024, help="on-device copy size")
    parser.add_argument("--matmul-n", type=int, default=4096, help="bf16 matmul size n x n")
    parser.add_argument("--repeat", type=int, default=5, help="timed repetitions per kernel")
    parser.add_argument("--step-s", type=float, default=60.0, help="bound for each step")
    parser.add_argument("--budget-s", type=float, default=300.0, help="bound for the whole run")
    parser.add_argument("--device", type=int, default=0)
    parser.add_argument("--log-mark", default=None, help="echoed back (the caller's log mark)")
    parser.add_argument(
        "--strict",
        action="store_true",
        help="exit with status 1 unless every step passed (a Job's result is then the verdict)",
    )
    return parser.parse_args(argv)


def mem_available_bytes() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


class Probe:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.started = time.monotonic()
        self.steps: list[dict[str, Any]] = []
        self.torch: Any = None
        self.device: Any = None
        self.held: list[Any] = []  # every tensor we allocate, freed at the end

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def step(self, name: str, func: Callable[[], dict[str, Any] | None]) -> dict[str, Any]:
        """Run one step under the watchdog; record what it returned or raised."""
        left = self.args.budget_s - self.elapsed()
        if left <= 1:
            result = {"step": name, "ok": False, "skipped": "the run's budget is spent"}
            self.steps.append(result)
            emit("STEP", result)
            return result
        emit("BEGIN", {"step": name, "bound_s": min(self.args.step_s, left)})
        faulthandler.dump_traceback_later(min(self.args.step_s, left), exit=True)
        began = time.monotonic()
        try:
            data = func() or {}
            result = {"step": name, "ok": True}
            result.update(data)
        except BaseException as exc:  # every failure is a result here
            if isinstance(exc, KeyboardInterrupt):
                raise
            result = {"step": name, "ok": False, "error": f"{type(exc).__name__}: {exc}"}
        finally:
            faulthandler.cancel_dump_traceback_later()
        result["seconds"] = round(time.monotonic() - began, 4)
        self.steps.append(result)
        emit("STEP", result)
        return result

    def sync(self) -> None:
        self.torch.cuda.synchronize(self.device)

    def timed(self, func: Callable[[], Any]) -> tuple[int, float]:
        """Run ``func`` --repeat times, more when that is too short to time (a fast GPU
        finishes five 4096^3 matmuls in a millisecond); returns (runs, seconds)."""
        repeat = max(1, self.args.repeat)
        while True:
            began = time.monotonic()
            for _ in range(repeat):
                func()
            self.sync()
            took = time.monotonic() - began
            if took >= MIN_TIMED_S or repeat >= MAX_REPEAT:
                return repeat, took
            repeat = min(MAX_REPEAT, repeat * max(2, int(MIN_TIMED_S / max(took, 1e-6)) + 1))

    # -- steps -----------------------------------------------------------------------------
    def init(self) -> dict[str, Any]:
        import torch

        self.torch = torch
        info = {
            "torch": getattr(torch, "__version__", None),
            "hip": getattr(torch.version, "hip", None),
            "cuda": getattr(torch.version, "cuda", None),
        }
        if not torch.cuda.is_available():
            raise RuntimeError("torch.cuda.is_available() is False")
        self.device = torch.device("cuda", self.args.device)
        props = torch.cuda.get_device_properties(self.args.device)
        free, total = torch.cuda.mem_get_info(self.args.device)
        info.update(
            device_name=props.name,
            gcn_arch=getattr(props, "gcnArchName", None),
            integrated=bool(getattr(props, "is_integrated", False)),
            total_memory=int(props.total_memory),
            free_bytes=int(free),
            total_bytes=int(total),
            mem_available=mem_available_bytes(),
        )
        return info

    def allocate(self) -> dict[str, Any]:
        torch = self.torch
        args = self.args
        init = self.steps[0]
        headroom = int(args.headroom_gib * GIB)
        target = int(args.target_gib * GIB)
        ceiling = init["free_bytes"] - headroom
        limited_by = "the GPU's free memory (torch.cuda.mem_get_info) less the headroom"
        available = init.get("mem_available")
        if init.get("integrated") and available is not None and available - headroom < ceiling:
            ceiling = available - headroom
            limited_by = "MemAvailable less the headroom (the GPU shares system memory)"
        plan = max(0, min(target, ceiling))
        chunk = args.chunk_mib * MIB
        times: list[float] = []
        done = 0
        error = None
        slowest = 0.0
        while done < plan:
            size = min(chunk, plan - done)
            began = time.monotonic()
            try:
                block = torch.empty(size, dtype=torch.uint8, device=self.device)
                value = len(times) % 251 + 1
                block.fill_(value)  # touch every byte: a lazy allocation fails here, not later
                self.sync()
                seen = int(block[size - 1].item())
                if seen != value:
                    raise RuntimeError(f"chunk {len(times)} read back {seen}, wrote {value}")
            except BaseException as exc:  # out of memory or a driver error
                if isinstance(exc, KeyboardInterrupt):
                    raise
                error = f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}"
                break
            took = time.monotonic() - began
            slowest = max(slowest, took)
            times.append(round(took, 4))
            self.held.append(block)
            done += size
            # How far it got, should the next chunk never return (ROCm#6501: past ~64 GB).
            emit("PROGRESS", {"step": "allocate", "allocated_bytes": done, "seconds": took})
        return {
            "ok": error is None and done >= target,  # the profile's memory, or not
            "target_bytes": target,
            "planned_bytes": plan,
            "limited_by": limited_by if plan < target else None,
            "headroom_bytes": headroom,
            "allocated_bytes": done,
            "chunk_bytes": chunk,
            "chunks": len(times),
            "chunk_seconds": times,
            "slowest_chunk_s": round(slowest, 4),
            "failed": error,
        }

    def _copy(self, direction: str, pinned: bool) -> dict[str, Any]:
        torch = self.torch
        size = self.args.copy_mib * MIB
        host = torch.empty(size, dtype=torch.uint8, pin_memory=pinned)
        host.fill_(7)
        dev = torch.empty(size, dtype=torch.uint8, device=self.device)
        self.held += [host, dev]
        dst, src = (dev, host) if direction == "h2d" else (host, dev)
        # The first copy is the one ROCm#5952 stalls (16 s for 32 MiB); time it on its own.
        first = min(size, 32 * MIB)
        began = time.monotonic()
        dst[:first].copy_(src[:first])
        self.sync()
        first_s = time.monotonic() - began
        best = math.inf
        for _ in range(max(1, self.args.repeat)):
            began = time.monotonic()
            dst.copy_(src)
            self.sync()
            best = min(best, time.monotonic() - began)
        return {
            "bytes": size,
            "pinned": pinned,
            "first_bytes": first,
            "first_s": round(first_s, 4),
            "best_s": round(best, 6),
            "gbps": round(size / best / 1e9, 3) if best else None,
        }

    def device_bandwidth(self) -> dict[str, Any]:
        torch = self.torch
        size = self.args.bandwidth_mib * MIB
        src = torch.empty(size, dtype=torch.uint8, device=self.device)
        src.fill_(3)
        dst = torch.empty(size, dtype=torch.uint8, device=self.device)
        self.held += [src, dst]
        dst.copy_(src)  # warm-up
        self.sync()
        repeat, took = self.timed(lambda: dst.copy_(src))
        # A copy reads and writes every byte: count both, as STREAM's copy does.
        return {
            "bytes": size,
            "repeat": repeat,
            "seconds_total": round(took, 6),
            "gbps": round(2 * size * repeat / took / 1e9, 3) if took > 0 else None,
        }

    def matmul(self) -> dict[str, Any]:
        torch = self.torch
        n = self.args.matmul_n
        a = torch.randn(n, n, dtype=torch.bfloat16, device=self.device)
        b = torch.randn(n, n, dtype=torch.bfloat16, device=self.device)
        self.held += [a, b]
        c = torch.matmul(a, b)  # warm-up: picks the GEMM kernel
        self.sync()
        repeat, took = self.timed(lambda: torch.matmul(a, b))
        finite = bool(torch.isfinite(c).all().item())
        self.held.append(c)
        if not finite:
            raise RuntimeError("the bf16 matmul produced non-finite values")
        return {
            "n": n,
            "dtype": "bfloat16",
            "repeat": repeat,
            "seconds_total": round(took, 6),
            "tflops": round(2 * n**3 * repeat / took / 1e12, 3) if took > 0 else None,
        }

    def attention(self) -> dict[str, Any]:
        torch = self.torch
        batch, heads, seq, dim = 1, 32, 2048, 128
        shape = (batch, heads, seq, dim)
        q = torch.randn(*shape, dtype=torch.bfloat16, device=self.device)
        k = torch.randn(*shape, dtype=torch.bfloat16, device=self.device)
        v = torch.randn(*shape, dtype=torch.bfloat16, device=self.device)
        self.held += [q, k, v]
        sdpa = torch.nn.functional.scaled_dot_product_attention
        out = sdpa(q, k, v, is_causal=True)  # warm-up
        self.sync()
        repeat, took = self.timed(lambda: sdpa(q, k, v, is_causal=True))
        finite = bool(torch.isfinite(out).all().item())
        self.held.append(out)
        if not finite:
            raise RuntimeError("scaled_dot_product_attention produced non-finite values")
        # Causal attention: about half of 4*b*h*s^2*d multiply-adds.
        flops = 2 * batch * heads * seq * seq * dim * repeat
        return {
            "shape": list(shape),
            "causal": True,
            "repeat": repeat,
            "seconds_total": round(took, 6),
            "tflops": round(flops / took / 1e12, 3) if took > 0 else None,
        }

    def free(self) -> dict[str, Any]:
        torch = self.torch
        held = len(self.held)
        self.held.clear()
        torch.cuda.empty_cache()
        self.sync()
        free, total = torch.cuda.mem_get_info(self.args.device)
        return {"tensors": held, "free_bytes": int(free), "total_bytes": int(total)}

    # -- the run ---------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        init = self.step("init", self.init)
        if init["ok"]:
            alloc = self.step("allocate", self.allocate)
            # The copies and kernels need memory of their own: give the allocation back first.
            self.held.clear()
            if alloc["ok"]:
                self.torch.cuda.empty_cache()
            self.step("h2d", lambda: self._copy("h2d", pinned=False))
            self.step("h2d_pinned", lambda: self._copy("h2d", pinned=True))
            self.step("d2h", lambda: self._copy("d2h", pinned=False))
            self.step("device_bandwidth", self.device_bandwidth)
            self.step("matmul", self.matmul)
            self.step("attention", self.attention)
            self.step("free", self.free)
        return {
            "format": FORMAT,
            "ok": all(step["ok"] for step in self.steps),
            "seconds": round(self.elapsed(), 3),
            "steps": self.steps,
        }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    emit(
        "START",
        {
            "format": FORMAT,
            "pid": os.getpid(),
            "python": sys.executable,
            "log_mark": args.log_mark,
            "options": {k: v for k, v in vars(args).items() if k != "log_mark"},
        },
    )
    result = Probe(args).run()
    emit("RESULT", result)
    return 1 if args.strict and not result["ok"] else 0


if __name__ == "__main__":
    sys.exit(main())
