"""Cluster plumbing that is not rendering: the gauges a dashboard needs (taken from a scan's
facts), the read-only /metrics endpoint of the node-label DaemonSet, and the per-node
preflight Jobs ``hostcheck preflight-jobs`` prints.

The endpoint is a stdlib ``http.server`` on one thread: it answers GET /metrics (the last
scan's metrics, from memory) and GET /healthz, reads no request body, writes nothing, and a
client gets :data:`REQUEST_TIMEOUT` seconds before it is dropped; no new dependency.
"""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Sequence
from typing import Any

from hostcheck.facts import Facts
from hostcheck.model import Report
from hostcheck.render.prometheus import Gauges

GIB = 1024**3
REQUEST_TIMEOUT = 5.0
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # Prometheus text format 0.0.4


def gauges(report: Report, facts: Facts, required_gib: float | None) -> Gauges:
    """The numbers and versions behind the report, for :func:`prometheus.render`."""
    from hostcheck.checks.kinds._util import gpu_addressable
    from hostcheck.monitor.drift import observe

    observed = observe(report, facts)
    addressable = gpu_addressable(facts)[0] if facts.gpu.strix_halo is not None else None
    return Gauges(
        gpu_addressable_bytes=addressable,
        profile_required_bytes=int(required_gib * GIB) if required_gib is not None else None,
        gpu_hang_events=len(observed["gpu_hang_lines"])
        if observed["kernel_log_readable"]
        else None,
        kernel_release=observed["kernel_release"],
        rocm=observed["rocm"],
        mes_firmware=observed["mes_firmware"],
        linux_firmware=observed["linux_firmware_package"],
    )


# -- the /metrics endpoint --------------------------------------------------------------------
class MetricsState:
    """The last scan's metrics and when it finished (monotonic), shared with the server."""

    def __init__(self, stale_after: float) -> None:
        self.lock = threading.Lock()
        self.text: str | None = None
        self.finished: float | None = None
        self.stale_after = stale_after

    def update(self, text: str) -> None:
        with self.lock:
            self.text, self.finished = text, time.monotonic()

    def read(self) -> tuple[str | None, bool]:
        with self.lock:
            fresh = self.finished is not None and (
                time.monotonic() - self.finished <= self.stale_after
            )
            return self.text, fresh


def parse_listen(value: str) -> tuple[str, int]:
    """``[HOST]:PORT`` -> (host, port); ``:9464`` listens on every address, port 0 on a free
    port (the printed address says which)."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"{value!r} is not [HOST]:PORT")
    return host.strip("[]") or "0.0.0.0", int(port)


def serve_metrics(listen: str, state: MetricsState) -> http.server.HTTPServer:
    """Start the endpoint in a daemon thread; returns the server (``.server_address``,
    ``.shutdown()``). Raises OSError when the address cannot be bound."""

    class Handler(http.server.BaseHTTPRequestHandler):
        timeout = REQUEST_TIMEOUT
        server_version = "hostcheck"
        sys_version = ""

        def do_GET(self) -> None:
            text, fresh = state.read()
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                if text is None:
                    self._send(503, "no scan has finished yet\n", "text/plain; charset=utf-8")
                else:
                    self._send(200, text, CONTENT_TYPE)
            elif path == "/healthz":
                ok = text is not None and fresh
                self._send(200 if ok else 503, "ok\n" if ok else "stale\n", "text/plain")
            else:
                self._send(404, "not found: /metrics, /healthz\n", "text/plain")

        def do_HEAD(self) -> None:
            self.do_GET()

        def _send(self, code: int, body: str, content_type: str) -> None:
            data = body.encode()
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the pod's log is the scan's verdicts, not every scrape

    host, port = parse_listen(listen)
    server = http.server.HTTPServer((host, port), Handler)
    thread = threading.Thread(target=server.serve_forever, name="metrics", daemon=True)
    thread.start()
    return server


# -- preflight Jobs ---------------------------------------------------------------------------
NAMESPACE = "hostcheck"
CAPABILITIES = ["SYSLOG", "SYS_PTRACE", "DAC_READ_SEARCH"]  # systemd/hostcheck.service's three


def preflight_jobs(
    nodes: Sequence[str], image: str, *, namespace: str = NAMESPACE, run: str, selinux: bool
) -> dict[str, Any]:
    """A ``v1`` List of one Job per node (``kubectl create -f -`` takes it as JSON): each pinned
    to its node by ``nodeName``, named ``hostcheck-preflight-<run>-<n>`` and labelled with the
    node and the run, so ``kubectl logs -l hostcheck.io/preflight-run=<run> --prefix`` collects
    exactly this round. The pod is the DaemonSet's, least privilege alike; ``selinux`` adds
    OpenShift's ``spc_t`` type."""
    items = []
    for number, node in enumerate(nodes):
        labels = {
            "app.kubernetes.io/name": "hostcheck",
            "app.kubernetes.io/component": "preflight",
            "hostcheck.io/preflight-run": run,
        }
        pod_security: dict[str, Any] = {"seccompProfile": {"type": "RuntimeDefault"}}
        if selinux:
            pod_security["seLinuxOptions"] = {"type": "spc_t"}
        items.append(
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": {
                    "name": f"hostcheck-preflight-{run}-{number}",
                    "namespace": namespace,
                    "labels": labels,
                    "annotations": {"hostcheck.io/node": node},
                },
                "spec": {
                    "backoffLimit": 0,  # "not ready" is a result to read, not a crash to retry
                    "activeDeadlineSeconds": 600,
                    "ttlSecondsAfterFinished": 86400,
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {
                            "nodeName": node,
                            "restartPolicy": "Never",
                            "serviceAccountName": "hostcheck",
                            "automountServiceAccountToken": False,
                            "hostPID": True,
                            "securityContext": pod_security,
                            "tolerations": [{"operator": "Exists"}],
                            "containers": [
                                {
                                    "name": "hostcheck",
                                    "image": image,
                                    "command": ["hostcheck"],
                                    "args": [
                                        "scan",
                                        "--root",
                                        "/host",
                                        "--host-mount",
                                        "--format",
                                        "json",
                                    ],
                                    "env": [
                                        {
                                            "name": "NODE_NAME",
                                            "valueFrom": {
                                                "fieldRef": {"fieldPath": "spec.nodeName"}
                                            },
                                        }
                                    ],
                                    "securityContext": {
                                        "runAsUser": 0,
                                        "runAsNonRoot": False,
                                        "allowPrivilegeEscalation": False,
                                        "readOnlyRootFilesystem": True,
                                        "capabilities": {"drop": ["ALL"], "add": CAPABILITIES},
                                    },
                                    "resources": {
                                        "requests": {"cpu": "50m", "memory": "64Mi"},
                                        "limits": {"cpu": "1", "memory": "512Mi"},
                                    },
                                    "volumeMounts": [
                                        {"name": "host", "mountPath": "/host", "readOnly": True}
                                    ],
                                }
                            ],
                            "volumes": [
                                {"name": "host", "hostPath": {"path": "/", "type": "Directory"}}
                            ],
                        },
                    },
                },
            }
        )
    return {"apiVersion": "v1", "kind": "List", "items": items}
