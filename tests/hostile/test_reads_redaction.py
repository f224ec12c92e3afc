"""No planted secret survives `hostcheck snapshot` (issue 18, item 4), in a directory or a
tarball, and a service user named like its program keeps the program's name (issue 13)."""

from __future__ import annotations

import json
import os
import re
import tarfile
from pathlib import Path

import pytest

from hostcheck.snapshot.secrets import env_value_kept
from tests.conftest import expected

PID = "3100"  # the vLLM process of the tuned-ready fixture

# name -> (where it is planted, the text planted, the secret that must not survive)
ENVIRON = {
    "database url": ("DATABASE_URL=postgres://admin:pwdb1111@db.internal:5432/app", "pwdb1111"),
    "https proxy": ("https_proxy=http://proxyuser:pwproxy2222@proxy:3128", "pwproxy2222"),
    "HTTPS proxy": ("HTTPS_PROXY=http://u:pwproxy3333@proxy:3128", "pwproxy3333"),
    "redis url": ("REDIS_URL=redis://:pwredis4444@cache:6379/0", "pwredis4444"),
    "slack webhook": (
        "SLACK_WEBHOOK_URL=https://hooks.slack.com/services/T000/B000/slack5555secret",
        "slack5555secret",
    ),
    "github pat": ("GITHUB_PAT=ghp_pat6666", "ghp_pat6666"),
    "hf hub key": ("HF_HUB_KEY=hfkey7777", "hfkey7777"),
    "bare KEY": ("KEY=plainkey8888", "plainkey8888"),
    "my pass": ("MY_PASS=mypass9999", "mypass9999"),
    "hf token": ("HF_TOKEN=hf_token1010", "hf_token1010"),
    "openai key": ("OPENAI_API_KEY=sk-api1111", "sk-api1111"),
    "aws secret": ("AWS_SECRET_ACCESS_KEY=awssecret1212", "awssecret1212"),
    "aws key id": ("AWS_ACCESS_KEY_ID=AKIA1313XYZ", "AKIA1313XYZ"),
    "db pwd": ("DB_PWD=dbpwd1414", "dbpwd1414"),
    "smtp password": ("SMTP_PASSWORD=smtp1515", "smtp1515"),
    "sentry dsn": ("SENTRY_DSN=https://dsn1616@sentry.example/1", "dsn1616"),
    "session cookie": ("SESSION_COOKIE=cookie1717", "cookie1717"),
    "npm auth": ("NPM_AUTH=npm1818", "npm1818"),
    "mysql pwd": ("MYSQL_PWD=mysql1919", "mysql1919"),
    "unnamed opaque": ("SOMETHING_ELSE=opaque2020", "opaque2020"),
    "custom endpoint": ("CUSTOM_ENDPOINT=https://user21:pw2121@example.net/x", "pw2121"),
    "pip index": ("PIP_INDEX_URL=https://__token__:pypi2222@pypi.example/simple", "pypi2222"),
    "allow-listed prefix, secret name": ("VLLM_API_KEY=vllmkey2323", "vllmkey2323"),
    "short secret": ("API_TOKEN=ab24", "ab24"),
    "proxy, no scheme user": ("ALL_PROXY=socks5://pxy:pwsocks2525@10.0.0.1:1080", "pwsocks2525"),
}
CMDLINE = {
    "--api-key": (["--api-key", "apikey2626"], "apikey2626"),
    "--api_key": (["--api_key", "apikey2727"], "apikey2727"),
    "--access_key=": (["--access_key=access2828"], "access2828"),
    "--access-key": (["--access-key", "access2929"], "access2929"),
    "--key": (["--key", "key3030xyz"], "key3030xyz"),
    "-p": (["-p", "pass3131"], "pass3131"),
    "--password=": (["--password=pw3232"], "pw3232"),
    "--hf-token": (["--hf-token", "hft3333"], "hft3333"),
    "--model-url with credentials": (
        ["--model-url", "https://mu:pw3434@models.example/x"],
        "pw3434",
    ),
    "--token=": (["--token=tok3535"], "tok3535"),
    "--secret": (["--secret", "sec3636"], "sec3636"),
    "--auth-token": (["--auth-token", "auth3737"], "auth3737"),
    "url credentials in another option": (["--db", "postgres://dbu:pw3838@h/db"], "pw3838"),
    "--webhook": (["--webhook", "https://hooks.slack.com/services/T1/B1/hook3939"], "hook3939"),
    "--pat": (["--pat", "patvalue4040"], "patvalue4040"),
}
KERNEL_LOG = {
    "upper-case host name": ("systemd[1]: Hostname set to <INFERENCE-01>.", "INFERENCE-01"),
    "mixed-case host name": ("cifs: server Inference-01 not responding", "Inference-01"),
    "serial#": ("nvme nvme0: serial#SN4242ABC", "SN4242ABC"),
    "serial=": ("ata1.00: ATA-11: disk, fw 1.0, serial=SN4343XYZ", "SN4343XYZ"),
    'SERIAL="…"': ('udev: SERIAL="SN4444QQ"', "SN4444QQ"),
    "url credentials": ("NFS: mount https://u:pw4545@x.example failed", "pw4545"),
    "usb serial": ("usb 3-1: SerialNumber: USB4646SER", "USB4646SER"),
    "serial number": ("nvme0: Serial Number: SNN4747Q", "SNN4747Q"),
}
PROC_CMDLINE = {
    "nfsroot credentials": ("nfsroot=nfs://u:pw4848@server/x", "pw4848"),
}
HOSTNAME_FILE = {"host name": ("inference-01", "inference-01")}
# Lines of a unit drop-in (etc/systemd/system/ollama.service.d/override.conf) and of a podman
# quadlet (etc/containers/systemd/vllm.container): env.hsa-override reads the lines naming
# HSA_OVERRIDE_GFX_VERSION, the container checks read quadlets whole.
UNIT_DROPIN = {
    "unit: quoted, beside the watched variable": (
        'Environment="HF_TOKEN=unit5050secret" "HSA_OVERRIDE_GFX_VERSION=11.0.0"',
        "unit5050secret",
    ),
    "unit: bare, beside the watched variable": (
        "Environment=HSA_OVERRIDE_GFX_VERSION=11.0.0 OPENAI_API_KEY=unit5151key",
        "unit5151key",
    ),
    "unit: ExecStart option, line naming the variable": (
        "ExecStart=/usr/bin/env HSA_OVERRIDE_GFX_VERSION=11.0.0 ollama serve --api-key unit5252",
        "unit5252",
    ),
}
QUADLET = {
    "quadlet: Environment=": ("Environment=HF_TOKEN=quad5353secret", "quad5353secret"),
    "quadlet: PodmanArgs --env": ("PodmanArgs=--env PASSWORD=quad5454pw", "quad5454pw"),
    "quadlet: Exec option=": ("Exec=vllm serve --api-key=quad5555key", "quad5555key"),
    "quadlet: opaque value": ("Environment='DATABASE_URL=quad5656opaque'", "quad5656opaque"),
    # systemd.syntax(7): a line ending in a backslash continues on the next
    "quadlet: continued Environment=": (
        "Environment=OLLAMA_HOST=0.0.0.0 \\\n  HF_TOKEN=quad5757cont",
        "quad5757cont",
    ),
    "quadlet: continued Exec=": ("Exec=vllm serve \\\n  --hf-token quad5858cont", "quad5858cont"),
    "quadlet: -eNAME=VALUE": ("PodmanArgs=-eAPI_KEY=quad5959short", "quad5959short"),
    "quadlet: quoted option value": (
        'Exec=vllm serve --api-key "part6161 spaced6161"',
        "spaced6161",
    ),
    "quadlet: escaped space": ("Environment=HF_TOKEN=esc6262\\ tail6262", "tail6262"),
    "quadlet: escaped quote": ('Environment="PASSWORD=ab\\"quad6363tail"', "quad6363tail"),
    "quadlet: inline credential": ("SetCredential=hf:quad6464cred", "quad6464cred"),
    "quadlet: commented out": ("#Environment=HF_TOKEN=quad6565old", "quad6565old"),
    "quadlet: unbalanced quote": ('Environment="HF_TOKEN=quad6767open', "quad6767open"),
    "quadlet: unclosed script": ('ExecStartPre=/bin/sh -c "curl --token=quad6868sh', "quad6868sh"),
    "quadlet: sh -c script": (
        'ExecStartPre=/bin/sh -c "curl --token=quad6666sh https://x"',
        "quad6666sh",
    ),
}

ALL = {
    **ENVIRON,
    **CMDLINE,
    **KERNEL_LOG,
    **PROC_CMDLINE,
    **HOSTNAME_FILE,
    **UNIT_DROPIN,
    **QUADLET,
}


def test_the_planted_set_is_large_enough() -> None:
    assert len(ALL) >= 48
    assert len({secret for _, secret in ALL.values()}) == len(ALL)


def _plant(root: Path) -> None:
    proc = root / "proc" / PID
    environ = proc.joinpath("environ").read_bytes()
    environ += b"".join(text.encode() + b"\0" for text, _ in ENVIRON.values())
    proc.joinpath("environ").write_bytes(environ)
    argv = proc.joinpath("cmdline").read_bytes()
    argv += b"".join(arg.encode() + b"\0" for args, _ in CMDLINE.values() for arg in args)
    proc.joinpath("cmdline").write_bytes(argv)
    dmesg = root / ".hostcheck/dmesg.txt"
    dmesg.write_text(
        dmesg.read_text()
        + "".join(
            f"[   {20 + i}.000000] {line}\n" for i, (line, _) in enumerate(KERNEL_LOG.values())
        )
    )
    cmdline = root / "proc/cmdline"
    extra = " ".join(text for text, _ in PROC_CMDLINE.values())
    cmdline.write_text(cmdline.read_text().strip() + f" {extra}\n")
    assert (root / "proc/sys/kernel/hostname").read_text().strip() == "inference-01"
    dropin = root / "etc/systemd/system/ollama.service.d/override.conf"
    dropin.parent.mkdir(parents=True)
    dropin.write_text("[Service]\n" + "".join(f"{line}\n" for line, _ in UNIT_DROPIN.values()))
    quadlet = root / "etc/containers/systemd/vllm.container"
    quadlet.parent.mkdir(parents=True, exist_ok=True)
    quadlet.write_text(
        "[Container]\nImage=docker.io/rocm/vllm:latest\nAddDevice=/dev/kfd\n"
        "Environment=HSA_OVERRIDE_GFX_VERSION=11.5.1\n"
        + "".join(f"{line}\n" for line, _ in QUADLET.values())
    )


def _contents(snapshot: Path) -> list[tuple[str, bytes]]:
    """Every file's bytes, every name and every link target of a snapshot directory or tarball."""
    found: list[tuple[str, bytes]] = []
    if snapshot.is_file():
        with tarfile.open(snapshot) as tar:
            for member in tar.getmembers():
                found.append((f"<name> {member.name}", member.name.encode()))
                if member.issym():
                    found.append((f"<link> {member.name}", member.linkname.encode()))
                elif member.isfile():
                    handle = tar.extractfile(member)
                    assert handle is not None
                    found.append((member.name, handle.read()))
        return found
    for dirpath, dirnames, filenames in os.walk(snapshot):
        for name in dirnames + filenames:
            full = Path(dirpath, name)
            found.append((f"<name> {full}", str(full.relative_to(snapshot)).encode()))
            if full.is_symlink():
                found.append((f"<link> {full}", os.readlink(full).encode()))
            elif full.is_file():
                found.append((str(full), full.read_bytes()))
    return found


@pytest.mark.parametrize("output", ["snap", "snap.tar.gz"])
def test_no_planted_secret_survives(cli, fixture_copy, tmp_path: Path, output: str) -> None:
    root = fixture_copy("tuned-ready")
    _plant(root)
    out = tmp_path / output
    args = expected("tuned-ready")["args"]
    run = cli("snapshot", "--root", str(root), *args, "-o", str(out))
    assert run.code == 0, run.err
    contents = _contents(out)
    survived = [
        (name, where)
        for name, (_, secret) in ALL.items()
        for where, data in contents
        if re.search(re.escape(secret.encode()), data, re.IGNORECASE)
    ]
    assert survived == []
    # the replay still sees the vLLM process and the variables the checks read
    replay = cli("scan", "--root", str(out), *args, "--format", "json")
    original = cli("scan", "--root", str(root), *args, "--format", "json")
    assert replay.code == original.code
    for rule in ("vllm.env", "env.hsa-override", "containers.gpu-access"):
        assert replay.finding(rule)["status"] == original.finding(rule)["status"], rule
    # the drop-in's override is still seen, with its value, in the replay
    assert original.finding("env.hsa-override")["status"] == "warn"
    assert "11.0.0" in replay.finding("env.hsa-override")["message"]


def test_every_variable_a_rule_reads_is_kept() -> None:
    """The allow-list covers what the checks read: the variables the rules name."""
    from hostcheck.checks.catalog import load_catalog

    names: set[str] = set()

    def walk(value: object) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(key)
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, str) and re.fullmatch(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+", value):
            names.add(value)

    rules, _ = load_catalog()
    for rule in rules:
        walk(dict(rule.params))
    names -= {"SUDO_USER", "SERVICE_USER"}  # identities, replaced by their tokens
    assert {"HSA_OVERRIDE_GFX_VERSION", "VLLM_ROCM_USE_AITER", "LLAMA_ARG_MMAP"} <= names
    assert sorted(n for n in names if not env_value_kept(n)) == []


def test_service_user_named_like_its_program(cli, fixture_copy, tmp_path: Path) -> None:
    """`--user vllm`: the user is replaced where it is an identity (passwd, group, the
    recorded user, /home/vllm), never inside `-m vllm.entrypoints` or `/opt/vllm/…`."""
    root = fixture_copy("tuned-ready")
    with (root / "etc/passwd").open("a") as passwd:
        passwd.write("vllm:x:1001:1001:vllm service:/home/vllm:/usr/sbin/nologin\n")
    group = (root / "etc/group").read_text().replace("render:x:992:llm", "render:x:992:llm,vllm")
    (root / "etc/group").write_text(group + "vllm:x:1001:\n")
    environ = (root / f"proc/{PID}/environ").read_bytes()
    (root / f"proc/{PID}/environ").write_bytes(environ + b"USER=vllm\0HOME=/home/vllm\0")
    args = [*expected("tuned-ready")["args"], "--user", "vllm"]
    original = cli("scan", "--root", str(root), *args, "--format", "json")
    out = tmp_path / "snap"
    run = cli("snapshot", "--root", str(root), *args, "-o", str(out))
    assert run.code == 0, run.err
    assert f"replay: hostcheck scan --root {out} --python /opt/vllm/bin/python3" in run.out
    argv = (out / f"proc/{PID}/cmdline").read_bytes().split(b"\0")
    assert b"/opt/vllm/bin/python3" in argv
    assert b"vllm.entrypoints.openai.api_server" in argv
    user = (out / ".hostcheck/user").read_text().strip()
    assert re.fullmatch(r"user-[0-9]+", user)
    passwd = (out / "etc/passwd").read_text()
    assert "vllm:" not in passwd and f"{user}:x:1001:1001:" in passwd
    assert f"/home/{user}:" in passwd and "vllm service" not in passwd
    assert "render:x:992:" in (out / "etc/group").read_text()
    assert "vllm" not in (out / "etc/group").read_text()
    replay = cli("scan", "--root", str(out), *expected("tuned-ready")["args"], "--format", "json")
    assert replay.code == original.code
    for rule in ("vllm.env", "devices.kfd", "devices.render"):
        assert replay.finding(rule)["status"] == original.finding(rule)["status"], rule
    manifest = json.loads((out / ".hostcheck/snapshot.json").read_text())
    assert manifest["replay"] == "hostcheck scan --root SNAPSHOT --python /opt/vllm/bin/python3"
