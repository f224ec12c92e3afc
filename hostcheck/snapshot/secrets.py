"""What counts as a credential in a snapshot, and its replacement: variable and option names that
say their value is a credential, the environment variable families whose values are kept (the
ones the checks read), and the token a credential gets. Shared by the redaction of process
environments and command lines (redact.py) and of systemd units and quadlets (units.py)."""

from __future__ import annotations

import re

from hostcheck.snapshot.redactor import Redactor

# Environment variables and command-line options whose values are credentials: by a part of
# the name ("_" and "-" alike: HF_HUB_KEY, --api_key, --access-key, GITHUB_PAT, MY_PASS) or a
# piece of a word (MYTOKEN, PASSWORD).
SECRET_NAME = re.compile(
    r"(?i)token|secret|passw|api_?key|access_?key|private_?key|credential|auth"
)
SECRET_PARTS = {
    "key",
    "apikey",
    "pat",
    "pass",
    "pwd",
    "pw",
    "token",
    "secret",
    "credential",
    "credentials",
    "auth",
    "webhook",
    "dsn",
    "cookie",
    "signature",
}
# Options that name a file or a size are not credentials themselves (--key-file PATH).
NOT_SECRET_LAST_PARTS = {"file", "path", "dir", "size", "len", "length", "count"}
SECRET_SHORT_OPTIONS = {"-p"}  # mysql-style password options
# Environment variables whose values are kept: the families the checks read (ROCm, HIP, vLLM,
# PyTorch, llama.cpp …; every variable a rule names belongs to one). Every other value is
# replaced, whatever its name: a DATABASE_URL, a proxy with a password, a webhook.
ALLOWED_ENV_PREFIXES = (
    "HSA_",
    "HIP_",
    "HIPBLASLT_",
    "ROCBLAS_",
    "ROCM_",
    "MIOPEN_",
    "AMD_",
    "GPU_",
    "HCC_",
    "VLLM_",
    "PYTORCH_",
    "TORCH_",
    "TRITON_",
    "GGML_",
    "LLAMA_",
    "OMP_",
)
MIN_SECRET = 6


def is_secret_name(name: str) -> bool:
    """Whether a variable or option name says its value is a credential."""
    parts = [p for p in re.split(r"[-_.]+", name.lower()) if p]
    if parts and parts[-1] in NOT_SECRET_LAST_PARTS:
        return False
    return bool(SECRET_NAME.search(name)) or any(part in SECRET_PARTS for part in parts)


def env_value_kept(name: str) -> bool:
    """Whether a process environment variable's value is kept in a snapshot."""
    return name.startswith(ALLOWED_ENV_PREFIXES) and not is_secret_name(name)


def secret_option(item: str) -> bool:
    if item in SECRET_SHORT_OPTIONS:
        return True
    return item.startswith("--") and is_secret_name(item[2:].partition("=")[0])


def secret(redactor: Redactor, value: str) -> str:
    """A credential's token; short values are replaced here only (as words elsewhere they
    would hit ordinary text)."""
    redactor.occurrences["secret"] = redactor.occurrences.get("secret", 0) + 1
    if len(value) < MIN_SECRET:
        redactor.keep_structured("secret")
        return "secret"
    return redactor.add("secret", value)


def env_value(redactor: Redactor, name: str, value: str) -> str:
    """An environment variable's value as a snapshot keeps it (as for process environments)."""
    if not value or env_value_kept(name):
        return value
    if is_secret_name(name):
        return secret(redactor, value)
    redactor.keep_structured("environment value")
    return "redacted"
