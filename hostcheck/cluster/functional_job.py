"""`hostcheck functional-job`: the functional probe as a Kubernetes Job in the serving image.

Pure: options in, manifest text out. A ConfigMap carries the probe script (stdlib + torch
only), and a Job pinned to one node runs it with the serving image's own Python, so the stack
that is tested is the one that will serve. The Job's result is the verdict (Complete: every
step passed; Failed: a step failed, the probe crashed, or the deadline killed a hang), and the
pod's log holds the probe's marker lines with every figure.

The YAML is written by a small emitter (no PyYAML at run time): block mappings and lists,
JSON-quoted strings (a JSON string is a YAML double-quoted scalar) and a literal block for the
script, so it stays readable in `kubectl get configmap -o yaml`.
"""

from __future__ import annotations

import json
import re
from typing import Any, NamedTuple

from hostcheck.probes.functional import SCRIPT_NAME, script_text

MOUNT = "/opt/hostcheck-functional"
# The Job's deadline beyond the probe's own budget: pulling a large serving image and
# starting the interpreter; the deadline kills a hung pod, whatever its state.
START_MARGIN_S = 600
_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_./-]*")
_RESERVED = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}


class JobOptions(NamedTuple):
    image: str
    node: str
    namespace: str = "hostcheck"
    python: str = "python3"
    target_gib: float = 92.0
    budget_s: int = 300
    gpu_resource: str = "amd.com/gpu"  # the AMD GPU device plugin's resource
    gpu_count: int = 1


def _name(node: str) -> str:
    """An object name from a node name: lower-case DNS label characters, at most 63."""
    cleaned = re.sub(r"[^a-z0-9-]+", "-", node.lower()).strip("-") or "node"
    return f"hostcheck-functional-{cleaned}"[:63].rstrip("-")


def manifests(options: JobOptions) -> list[dict[str, Any]]:
    name = _name(options.node)
    labels = {
        "app.kubernetes.io/name": "hostcheck",
        "app.kubernetes.io/component": "functional",
    }
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": options.namespace, "labels": labels},
        "data": {SCRIPT_NAME: script_text()},
    }
    args = [
        f"{MOUNT}/{SCRIPT_NAME}",
        "--target-gib",
        f"{options.target_gib:g}",
        "--budget-s",
        str(options.budget_s),
        "--strict",
    ]
    gpu = {options.gpu_resource: options.gpu_count}
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": options.namespace, "labels": labels},
        "spec": {
            "backoffLimit": 0,  # a failed probe is a result to read, not a crash to retry
            "activeDeadlineSeconds": options.budget_s + START_MARGIN_S,
            "ttlSecondsAfterFinished": 86400,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "nodeName": options.node,
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "tolerations": [{"operator": "Exists"}],
                    "containers": [
                        {
                            "name": "probe",
                            "image": options.image,
                            "command": [options.python],
                            "args": args,
                            "env": [{"name": "PYTHONUNBUFFERED", "value": "1"}],
                            "resources": {"limits": gpu, "requests": gpu},
                            "volumeMounts": [
                                {"name": "probe", "mountPath": MOUNT, "readOnly": True}
                            ],
                        }
                    ],
                    "volumes": [{"name": "probe", "configMap": {"name": name}}],
                },
            },
        },
    }
    return [config_map, job]


def render(options: JobOptions) -> str:
    header = (
        f"# hostcheck functional-job: the GPU probe in {options.image} on node {options.node}.\n"
        f"# Apply: kubectl apply -f FILE; wait: kubectl wait --for=condition=complete "
        f"--timeout={options.budget_s + START_MARGIN_S}s -n {options.namespace} "
        f"job/{_name(options.node)}\n"
        f"# Result: Complete = every step passed; Failed = read "
        f"`kubectl logs -n {options.namespace} job/{_name(options.node)}` "
        "(HOSTCHECK-FUNCTIONAL-* lines).\n"
    )
    return header + "".join("---\n" + _yaml(doc, 0) for doc in manifests(options))


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    text = str(value)
    if _PLAIN.fullmatch(text) and text.lower() not in _RESERVED and not _looks_numeric(text):
        return text
    return json.dumps(text)


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _yaml(value: Any, indent: int) -> str:
    pad = " " * indent
    if isinstance(value, dict):
        if not value:
            return pad + "{}\n"
        out = []
        for key, item in value.items():
            label = f"{pad}{_scalar(key)}:"
            if _literal(item):
                lines = str(item)[:-1].split("\n")
                out.append(
                    label + " |\n" + "".join(f"{pad}  {ln}\n" if ln else "\n" for ln in lines)
                )
            elif isinstance(item, dict | list) and item:
                out.append(label + "\n" + _yaml(item, indent + 2))
            else:
                out.append(f"{label} {_inline(item)}\n")
        return "".join(out)
    if isinstance(value, list):
        out = []
        for item in value:
            if isinstance(item, dict | list) and item:
                nested = _yaml(item, indent + 2)
                out.append(f"{pad}- {nested[indent + 2 :]}")
            else:
                out.append(f"{pad}- {_inline(item)}\n")
        return "".join(out)
    return pad + _inline(value) + "\n"


def _literal(value: Any) -> bool:
    """A text that reads best as a literal block: several lines, one final newline, no tab,
    no line ending in a space, and a first line that does not start with one."""
    if not isinstance(value, str) or "\n" not in value.rstrip("\n"):
        return False
    return (
        value.endswith("\n")
        and not value.endswith("\n\n")
        and "\t" not in value
        and not value.startswith(" ")
        and not any(line.endswith(" ") for line in value.split("\n"))
    )


def _inline(value: Any) -> str:
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return _scalar(value)
