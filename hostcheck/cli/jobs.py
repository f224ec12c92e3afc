"""`hostcheck preflight-jobs` and `functional-job`: Kubernetes objects to run hostcheck's
scan or its functional GPU probe on nodes (printed, never applied)."""

from __future__ import annotations

import sys
from typing import Any

from hostcheck.cli import common
from hostcheck.cli.common import EXIT_READY, UsageError
from hostcheck.cli.options import Options

PREFLIGHT_EPILOG = """\
Jobs are created, not applied: each round has its own names (--run). The Job's result is the
scan's exit status (Complete: ready; Failed: not ready or could not scan), its log the report.

exit status: 0 printed; 2 usage error (no node names on standard input).

examples:
  kubectl get nodes -l feature.node.kubernetes.io/pci-1002.present=true -o name \\
    | hostcheck preflight-jobs --image registry.example.com/hostcheck:0.1.0 --run r1 \\
    | kubectl create -f -
  kubectl wait -n hostcheck --for=condition=complete -l hostcheck.io/preflight-run=r1 \\
    job --timeout=10m
  kubectl logs -n hostcheck -l hostcheck.io/preflight-run=r1 --prefix --tail=-1 \\
    --max-log-requests=50 | hostcheck fleet -
"""

FUNCTIONAL_JOB_EPILOG = """\
The Job runs hostcheck's functional GPU probe (a standalone script: Python standard library and
PyTorch only) with the serving image's own Python, on one node, with one GPU from the device
plugin. Complete: every step passed; Failed: read the pod's log. See docs/functional.md.

examples:
  hostcheck functional-job --image docker.io/rocm/vllm:latest --node gpu-1 | kubectl apply -f -
  hostcheck functional-job --image IMG --node gpu-1 --profile 32b-q4 -o functional-gpu-1.yaml
"""


def add_parser(commands: Any, name: str, help_text: str) -> None:
    if name == "preflight-jobs":
        jobs = commands.add_parser(
            name,
            help=help_text,
            description="Print a Kubernetes List of preflight Jobs, one pinned to each node named "
            "on standard input (the output of `kubectl get nodes -l SELECTOR -o name`), each "
            "scanning its node once with the DaemonSet's least privileges. Their logs are JSON "
            "reports that `hostcheck fleet` reads as they come.",
            epilog=PREFLIGHT_EPILOG,
        )
        jobs.add_argument(
            "--image",
            required=True,
            help="the hostcheck image: the one set in deploy/base/kustomization.yaml (images:)",
        )
        jobs.add_argument("--namespace", "-n", default="hostcheck", help="default: hostcheck")
        jobs.add_argument(
            "--run",
            metavar="ID",
            help="names this round's Jobs and labels them hostcheck.io/preflight-run=ID "
            "(default: the UTC time, e.g. 20261207t0300)",
        )
        jobs.add_argument(
            "--openshift",
            action="store_true",
            help="add the SELinux type spc_t the hostcheck SCC allows (deploy/overlays/openshift)",
        )
        return
    job = commands.add_parser(
        name,
        help=help_text,
        description="Print a ConfigMap holding hostcheck's functional probe script and a Job "
        "that runs it in the serving image on one node.",
        epilog=FUNCTIONAL_JOB_EPILOG,
    )
    job.add_argument("--image", required=True, help="the serving image (its Python has PyTorch)")
    job.add_argument("--node", required=True, help="the node to run on (spec.nodeName)")
    job.add_argument("--namespace", default="hostcheck", help="default: hostcheck")
    job.add_argument(
        "--python", default="python3", help="the interpreter in the image (default: python3)"
    )
    size = job.add_mutually_exclusive_group()
    size.add_argument(
        "--profile",
        metavar="NAME",
        help="allocate this profile's memory (default: the default profile)",
    )
    size.add_argument("--target-gib", metavar="GIB", type=float, help="allocate this much instead")
    job.add_argument(
        "--budget",
        metavar="SECONDS",
        type=int,
        default=300,
        help="the probe's time budget; the Job's deadline adds 600 s for the image pull (default: 300)",
    )
    job.add_argument(
        "--gpu-resource",
        default="amd.com/gpu",
        help="the device plugin's resource name (default: amd.com/gpu)",
    )
    job.add_argument(
        "--output", "-o", metavar="FILE", help="write to FILE instead of standard output"
    )


def run(args: Options) -> int:
    if args.command == "preflight-jobs":
        return cmd_preflight_jobs(args)
    return cmd_functional_job(args)


def cmd_preflight_jobs(args: Options) -> int:
    import json
    import re
    from datetime import UTC, datetime

    from hostcheck.cluster.metrics import preflight_jobs

    run = args.run or datetime.now(UTC).strftime("%Y%m%dt%H%M")
    if not re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,18}[a-z0-9])?", run):
        raise UsageError(f"--run {run!r}: 1-20 lowercase letters, digits and '-'")
    if sys.stdin.isatty():
        raise UsageError(
            "node names go on standard input: kubectl get nodes -l SELECTOR -o name | "
            "hostcheck preflight-jobs --image IMAGE"
        )
    nodes = []
    for line in sys.stdin:
        name = line.strip().removeprefix("node/")
        if not name:
            continue
        if not re.fullmatch(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?", name):
            raise UsageError(f"standard input: {name!r} is not a node name")
        nodes.append(name)
    if not nodes:
        raise UsageError(
            "no node names on standard input (kubectl get nodes -l SELECTOR -o name | …)"
        )
    jobs = preflight_jobs(
        nodes, args.image, namespace=args.namespace, run=run, selinux=args.openshift
    )
    sys.stdout.write(json.dumps(jobs, indent=2) + "\n")
    return EXIT_READY


def cmd_functional_job(args: Options) -> int:
    from hostcheck.checks.catalog import default_profile
    from hostcheck.cluster.functional_job import JobOptions, render

    if args.budget < 30:
        raise UsageError("--budget must be at least 30 seconds")
    target = args.target_gib
    if target is None:
        profiles = common.load_catalog(args)[1]
        if args.profile and args.profile not in profiles:
            raise UsageError(f"unknown profile {args.profile!r}; available: {', '.join(profiles)}")
        target = (
            profiles[args.profile] if args.profile else default_profile(profiles)
        ).required_gib
    if target <= 0:
        raise UsageError("--target-gib must be a positive number")
    text = render(
        JobOptions(
            image=args.image,
            node=args.node,
            namespace=args.namespace,
            python=args.python,
            target_gib=target,
            budget_s=args.budget,
            gpu_resource=args.gpu_resource,
        )
    )
    if args.output:
        common.write_output(args.output, text)
    else:
        sys.stdout.write(text)
    return 0
