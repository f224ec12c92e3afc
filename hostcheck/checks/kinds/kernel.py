"""Kernel release floors and the kernel command line."""

from __future__ import annotations

from collections.abc import Mapping

from hostcheck.checks.kinds._registry import check_kind
from hostcheck.checks.kinds._util import (
    Context,
    cmdline_args,
    cmdline_evidence,
    dkms_note,
    evidence,
    floor_rc,
    floors_text,
    kfd_cwsr_evidence,
    kfd_cwsr_export,
    parse_floor,
    release,
    release_has_fixes,
    ubuntu_kernel_class,
    unknown,
    value_or,
)
from hostcheck.facts import Facts
from hostcheck.model import Evidence, Outcome, Verdict
from hostcheck.parse.kernel import normalise_param
from hostcheck.readings import Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _release_evidence(facts: Facts) -> list[Evidence]:
    items = [evidence("running kernel", facts.kernel.release, lambda r: r.raw)]
    if isinstance(facts.kernel.ubuntu_package, Value):
        items.append(evidence("Ubuntu kernel package", facts.kernel.ubuntu_package))
    return items


@check_kind("kernel-floor", requires=("floor", "fixed_in", "recommend"))
def kernel_floor(facts: Facts, params: Mapping[str, Any], ctx: Context) -> Outcome:
    """Running kernel against a floor, with upstream fix versions and distro backports."""
    rel = release(facts)
    items = _release_evidence(facts)
    if rel is None:
        return unknown("The running kernel release could not be read.", *items)
    floor = parse_floor(params["floor"])
    version = facts.driver.version
    if facts.driver.kind == "dkms" and isinstance(version, Value):
        # amdgpu-dkms supplies amdgpu and amdkfd: its version, not uname, carries the fix
        # (ROCm#6143: "[drm] amdgpu version: 6.16.13" on Debian 6.12 with a 96 GiB KFD pool).
        items.append(Evidence("amdgpu-dkms version", version.value, version.source))
        try:
            dkms_release = parse_floor(version.value.strip())
        except ValueError:
            dkms_release = None
        if dkms_release is not None and dkms_release >= parse_floor(params["fixed_in"]):
            return Outcome(
                Verdict.OK,
                f"amdgpu-dkms {version.value} (on kernel {rel.raw}) carries the memory-visibility "
                f"fix (upstream {params['fixed_in']}); see driver.no-dkms about dkms itself.",
                tuple(items),
            )
    if rel.at_least(floor):
        return Outcome(
            Verdict.OK, f"Kernel {rel.raw} is at or above {params['floor']}.", tuple(items)
        )
    fixed_in = parse_floor(params["fixed_in"])
    backport = next(
        (
            b
            for b in params.get("backports", [])
            if rel.distro == b["distro"]
            and rel.flavour == b["flavour"]
            and rel.upstream[:2] == parse_floor(b["series"])[:2]
        ),
        None,
    )
    if rel.at_least(fixed_in, floor_rc(params["fixed_in"])) or backport:
        why = f"the {backport['name']} backport" if backport else f"upstream {params['fixed_in']}+"
        return Outcome(
            Verdict.OK,
            f"Kernel {rel.raw} carries the memory-visibility fix ({why}, per AMD), though it is "
            f"below {params['floor']}, the first kernel reporters saw working.",
            tuple(items),
        )
    return Outcome(
        Verdict.PROBLEM,
        f"Kernel {rel.raw} predates the APU memory-visibility fix (upstream "
        f"{params['fixed_in']}): ROCm can see only ~15.5 GB with a large carve-out. "
        f"Install kernel {params['recommend']} or newer (see kernel.rocm-floor).",
        tuple(items),
        fix={},
    )


@check_kind("rocm-kernel-floor", requires=("generic", "ubuntu_hwe", "ubuntu_oem"))
def rocm_kernel_floor(facts: Facts, params: Mapping[str, Any], ctx: Context) -> Outcome:
    """The kernel floor the ROCm documentation sets for Strix Halo."""
    rel = release(facts)
    items = _release_evidence(facts) + kfd_cwsr_evidence(facts)
    if rel is None:
        return unknown("The running kernel release could not be read.", *items)
    if facts.driver.kind == "dkms":
        return Outcome(Verdict.ADVISORY, f"Kernel {rel.raw} with {dkms_note(facts)}.", tuple(items))
    ubuntu = ubuntu_kernel_class(facts, params)
    if ubuntu:
        label = {
            "oem-fixed": f"an Ubuntu OEM kernel at or above {params['ubuntu_oem']}",
            "hwe-fixed": f"an Ubuntu 24.04 HWE kernel at or above {params['ubuntu_hwe']}",
            "ubuntu-native": "an Ubuntu release whose kernel carries the fixes natively",
        }[ubuntu]
        return Outcome(Verdict.OK, f"Kernel {rel.raw} is {label}.", tuple(items))
    if release_has_fixes(facts, params):
        return Outcome(
            Verdict.OK,
            f"Kernel {rel.raw} carries the KFD fixes (in {floors_text(params)}).",
            tuple(items),
        )
    if kfd_cwsr_export(facts) is not None:
        return Outcome(
            Verdict.OK,
            f"Kernel {rel.raw} is not a release the ROCm documentation lists ("
            f"{floors_text(params)}), but its KFD exports cwsr_size, which only the fix ROCm "
            "requires adds: the fixes are backported.",
            tuple(items),
        )
    hint = ""
    if rel.distro == "ubuntu":
        hint = (
            f" On Ubuntu 24.04 the HWE kernel {params['ubuntu_hwe']} or the OEM kernel "
            f"{params['ubuntu_oem']} or newer also qualify."
        )
    return Outcome(
        Verdict.PROBLEM,
        f"Kernel {rel.raw} lacks the KFD queue and memory fixes ROCm requires for Strix Halo "
        f"(in {floors_text(params)}).{hint}",
        tuple(items),
        fix={},
    )


def _distance(a: str, b: str) -> int:
    """Levenshtein distance (small strings only)."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def _within(a: str, b: str, limit: int) -> bool:
    """Whether ``a`` is at most ``limit`` edits from ``b``; the lengths are compared first, so
    a word of megabytes costs nothing (the distance of unbounded strings took a minute)."""
    return abs(len(a) - len(b)) <= limit and _distance(a, b) <= limit


def _closest(name: str, candidates: list[str], limit: int) -> str | None:
    near = [c for c in candidates if abs(len(name) - len(c)) <= limit]
    best = min(near, key=lambda c: _distance(name, c), default=None)
    if best is not None and _distance(name, best) <= limit:
        return best
    return None


SHOWN_CHARS = 80  # a quoted argument or value in a message or evidence is cut to this


def _shown(text: str) -> str:
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + f"… ({len(text)} characters)"


def _module_typo(module: str, param: str, modules: Mapping[str, list[str]]) -> str | None:
    """The GPU module a non-existent module name was meant to be, or None.

    Only when the parameter exists in that module, and within one edit for short names: ``ttm``
    is two edits from ``vt``, ``kvm``, ``drm`` and ``tpm``, whose arguments are common.
    """
    for name, names in modules.items():
        limit = 1 if len(name) <= 3 else 2
        if param in names and _within(module, name, limit):
            return name
    return None


@check_kind("kernel-params", requires=("modules", "bare"))
def kernel_params(facts: Facts, params: Mapping[str, Any], ctx: Context) -> Outcome:
    """Misspelled, unknown, ignored or conflicting GPU-related kernel arguments.

    The kernel is the authority on which parameters a module has: "unknown parameter ...
    ignored" in its log fails the rule. The static parameter lists (a 6.18-era amdgpu; older
    kernels and amdgpu-dkms had others, e.g. ``mes``) only warn, and only when the log cannot
    confirm. A guessed spelling is offered in the message, never written into a fix.
    """
    if not isinstance(facts.kernel.cmdline, Value):
        return unknown(
            "The kernel command line could not be read.",
            evidence("kernel command line", facts.kernel.cmdline),
        )
    modules: dict[str, list[str]] = {m: list(p) for m, p in params["modules"].items()}
    replaced: Mapping[str, str] = params.get("replaced", {})
    bare: list[str] = list(params["bare"])
    problems: list[str] = []
    doubts: list[str] = []
    items: list[Evidence] = []
    add: list[str] = []
    remove: list[str] = []
    seen: dict[str, str] = {}
    source = facts.kernel.cmdline.source
    log = facts.kernel_log
    ignored: set[str] = set()
    if isinstance(log, Value):
        for event in log.value:
            if event.kind == "unknown-param" and str(event.data.get("module")) in modules:
                ignored.add(normalise_param(f"{event.data['module']}.{event.data['param']}"))
                text = f"{event.data['module']}: unknown parameter '{event.data['param']}' ignored"
                problems.append(f"The kernel log says: {text}.")
                items.append(Evidence("kernel log", event.line.text, log.source))

    def hint(name: str) -> str:
        if name in replaced:
            return f" ({replaced[name]})"
        module, _, param = name.partition(".")
        guess = _closest(param, modules[module], 2 if len(param) > 4 else 1)
        return f" Did you mean '{module}.{guess}'?" if guess else ""

    valid: Mapping[str, list[str]] = params.get("values", {})
    rejected_values: set[str] = set()
    if isinstance(log, Value):
        for event in log.value:
            if event.kind == "amd-iommu-unknown-option":
                rejected_values.add(str(event.data.get("value", "")))
                items.append(Evidence("kernel log", event.line.text, log.source))
    for arg in cmdline_args(facts):
        module = arg.module
        if module is None and arg.name in valid and arg.value is not None:
            options = [o for o in arg.value.split(",") if o]
            wrong = [o for o in options if o not in valid[arg.name] or o in rejected_values]
            if wrong:
                problems.append(
                    f"'{arg.text}': {', '.join(repr(o) for o in wrong)} is not a value "
                    f"{arg.name} accepts (the kernel logs 'AMD-Vi: Unknown option' and ignores "
                    f"it; valid: {', '.join(valid[arg.name])})."
                )
                items.append(Evidence("invalid value", arg.text, source, "not accepted"))
                remove.append(arg.key)
            continue
        if module is None:
            guess = None if arg.name in bare else _closest(arg.name, bare, 1)
            if guess and arg.value is not None:
                problems.append(
                    f"'{_shown(arg.text)}' is not a kernel parameter; did you mean '{guess}'?"
                )
                items.append(
                    Evidence(
                        "misspelled argument", _shown(arg.text), source, f"did you mean {guess}?"
                    )
                )
                remove.append(arg.key)
            continue
        param = arg.name.split(".", 1)[1]
        if module not in modules:
            meant = _module_typo(module, param, modules)
            if meant:
                fixed = f"{meant}.{param}"  # a known parameter: short
                problems.append(
                    f"'{_shown(arg.text)}' names module '{module}', which does not exist; the kernel "
                    f"ignores it. Did you mean '{fixed}'?"
                )
                items.append(
                    Evidence(
                        "misspelled module", _shown(arg.text), source, f"did you mean {fixed}?"
                    )
                )
                remove.append(arg.key)
                if arg.value is not None:
                    add.append(f"{fixed}={arg.value}")  # same parameter, the module corrected
            continue
        if param not in modules[module]:
            remove.append(arg.key)
            if arg.name in ignored:
                problems.append(f"'{_shown(arg.text)}' is ignored by the kernel.{hint(arg.name)}")
                items.append(
                    Evidence(
                        "unknown parameter", _shown(arg.text), source, "confirmed by the kernel log"
                    )
                )
            elif not isinstance(log, Value):
                doubts.append(
                    f"'{_shown(arg.text)}': {module} has no parameter '{_shown(param)}' in current kernels, so it "
                    f"is probably ignored (the kernel log, which would confirm, is unreadable)."
                    f"{hint(arg.name)}"
                )
                items.append(
                    Evidence(
                        "unknown parameter", _shown(arg.text), source, "not in the parameter list"
                    )
                )
            else:
                remove.pop()  # the kernel accepted it: an older or dkms driver has this parameter
            continue
        value = arg.value if arg.value is not None else ""
        if arg.name in seen and seen[arg.name] != value:
            problems.append(
                f"'{_shown(arg.name)}' is given twice with different values "
                f"({_shown(seen[arg.name])!r}, then {_shown(value)!r}); the kernel uses the last."
            )
            items.append(
                Evidence(
                    "conflicting duplicate",
                    _shown(f"{arg.name}={seen[arg.name]} / {value}"),
                    source,
                )
            )
        seen[arg.name] = value
    fix = {"add_kernel_args": add, "remove_kernel_args": remove}
    if problems or doubts:
        verdict = Verdict.PROBLEM if problems else Verdict.ADVISORY
        return Outcome(verdict, " ".join(problems + doubts), tuple(items), fix=fix)
    gpu_args = [_shown(a.text) for a in cmdline_args(facts) if a.module in modules]
    return Outcome(
        Verdict.OK,
        "GPU-related kernel arguments are spelled correctly and do not conflict"
        + (f": {' '.join(gpu_args)}." if gpu_args else " (none set)."),
        (cmdline_evidence(facts),),
    )


@check_kind("known-bad-kernel", requires=("kernels",))
def known_bad_kernel(facts: Facts, params: Mapping[str, Any], ctx: Context) -> Outcome:
    """The running kernel is not in a table of releases with a known GPU regression."""
    rel = release(facts)
    items = _release_evidence(facts)
    if rel is None:
        return unknown("The running kernel release could not be read.", *items)
    for row in params["kernels"]:
        if rel.raw.startswith(row["release"]) and (
            "distro" not in row or rel.distro == row["distro"]
        ):
            items.append(
                Evidence("known-bad release", row["release"], row["reference"], row["why"])
            )
            return Outcome(
                Verdict.PROBLEM,
                f"Kernel {rel.raw} has a known regression: {row['why']} {row['advice']}",
                tuple(items),
                fix={},
            )
    return Outcome(
        Verdict.OK,
        f"Kernel {rel.raw} is not a release with a known GPU regression "
        f"({len(params['kernels'])} in the table).",
        tuple(items),
    )


@check_kind("no-dkms")
def no_dkms(facts: Facts, params: Mapping[str, Any], ctx: Context) -> Outcome:
    """amdgpu-dkms on Strix Halo: loaded, installed but not built, or rejected by Secure Boot."""
    driver = facts.driver
    items = [Evidence("driver", driver.kind, "/proc/modules", "; ".join(driver.evidence))]
    rejected = [
        e.line.text for e in value_or(facts.kernel_log, []) if e.kind == "module-key-rejected"
    ]
    for line in rejected[:3]:
        items.append(
            Evidence(
                "kernel log", line, getattr(facts.kernel_log, "source", "-"), "module rejected"
            )
        )
    packages = value_or(facts.software.packages, {})
    installed = [p for p in params.get("packages", []) if p in packages]
    for name in installed:
        items.append(Evidence("package", f"{name} {packages[name]}", "/var/lib/dpkg/status"))
    if driver.kind == "dkms":
        return Outcome(
            Verdict.PROBLEM,
            f"amdgpu-dkms{_dkms_version(facts)} replaces the kernel's amdgpu on this Strix Halo: "
            "AMD names it a cause of the 'Faulty UTCL2 client ID: CPF' page faults and hangs "
            "and recommends the kernel's own driver (ROCm#6182, #6143). Remove amdgpu-dkms "
            "(and amdgpu-dkms-firmware) and use a kernel with the KFD fixes.",
            tuple(items),
            fix={},
        )
    if rejected and installed:
        return Outcome(
            Verdict.PROBLEM,
            "Secure Boot rejected an unsigned module while amdgpu-dkms is installed "
            "(ROCm#4328): the GPU runs whatever driver loaded instead. Remove amdgpu-dkms and "
            "use the kernel's own driver.",
            tuple(items),
            fix={},
        )
    if installed:
        return Outcome(
            Verdict.ADVISORY,
            f"{', '.join(installed)} is installed but not built for the running kernel, so the "
            "kernel's own amdgpu runs (good); remove it, or the next dkms build replaces the "
            "driver AMD recommends on Strix Halo (ROCm#6143).",
            tuple(items),
            fix={},
        )
    if driver.kind == "unknown":
        return unknown("amdgpu is not loaded, so the driver in use could not be told.", *items)
    return Outcome(
        Verdict.OK, "The kernel's own amdgpu driver is in use (no amdgpu-dkms).", tuple(items)
    )


def _dkms_version(facts: Facts) -> str:
    version = facts.driver.version
    return f" {version.value}" if isinstance(version, Value) else ""
