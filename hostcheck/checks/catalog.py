"""Load the rule catalog (rules/*.toml) and the workload profiles (rules/profiles.toml).

Rules are data: each file declares one rule (validated by :mod:`hostcheck.checks.rulefile`);
the operator's drop-ins add rows to their tables (:mod:`hostcheck.checks.dropins`). The parsed
files are cached in ``catalog.json`` beside them, keyed by their digest; for the bundled
catalog, also by the files' sizes and modification times, with the rules validated.
"""

from __future__ import annotations

import json
import os
import stat as statmod
import time
from collections.abc import Callable, Iterable, Iterator

from hostcheck.checks.rulefile import ENGINES, CatalogError, build_rule, parse_rule, require
from hostcheck.model import Profile, Rule

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

CACHE_NAME = "catalog.json"


def unknown_ids(unknown: list[str], known: Iterable[str], *, quote: bool = False) -> str:
    """Mistyped rule ids with the nearest known one: "memory.gt (did you mean 'memory.gtt'?)"."""
    import difflib

    choices = sorted(known)
    shown = []
    for rule in unknown:
        near = difflib.get_close_matches(rule, choices, n=1, cutoff=0.6)
        name = repr(rule) if quote else rule
        shown.append(f"{name} (did you mean {near[0]!r}?)" if near else name)
    return ", ".join(shown)


def data_dir(name: str) -> str:
    """``rules`` or ``fixtures``: inside the installed wheel, or at the top of a checkout."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # hostcheck/
    installed = os.path.join(package, "_data", name)
    if os.path.isdir(installed):
        return installed
    return os.path.join(os.path.dirname(package), name)


MAX_RULE_FILE_BYTES = 1024 * 1024  # a rule file is a few kilobytes


def _sources(directory: str) -> dict[str, bytes]:
    """The rule catalog's TOML files, by name (regular files only, bounded)."""
    from hostcheck.host.safeio import InputError, read_file_bytes

    if not os.path.isdir(directory):
        raise CatalogError(f"{directory}: rule directory not found")
    sources = {}
    for name in sorted(os.listdir(directory)):
        if name.endswith(".toml"):
            path = os.path.join(directory, name)
            try:
                sources[name] = read_file_bytes(path, max_bytes=MAX_RULE_FILE_BYTES)
            except InputError as exc:
                raise CatalogError(f"{path}: cannot read ({exc.reason})") from None
    return sources


def _digest(sources: dict[str, bytes]) -> str:
    import binascii  # an extension module (~0.4 ms to load): only where files are read

    return ",".join(
        f"{name}:{len(data)}:{binascii.crc32(data):08x}" for name, data in sources.items()
    )


def _parse_sources(directory: str, sources: dict[str, bytes]) -> dict[str, dict[str, Any]]:
    from hostcheck.host.safeio import InputError, parse_toml_text

    parsed = {}
    for name, data in sources.items():
        try:
            parsed[name] = parse_toml_text(data.decode("utf-8"))
        except (InputError, UnicodeDecodeError) as exc:
            detail = (
                exc.reason.removeprefix("invalid TOML: ")
                if isinstance(exc, InputError)
                else str(exc)
            )
            raise CatalogError(
                f"{os.path.join(directory, name)}: not valid TOML ({detail})"
            ) from None
    return parsed


def _cache_paths(directory: str, key: str) -> Iterator[str]:
    """Where the compiled catalog may be: beside the rules, else in the user's cache (``key``:
    which copy of this directory's files)."""
    yield os.path.join(directory, CACHE_NAME)
    import binascii

    cache_home = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    name = f"{binascii.crc32(os.path.abspath(directory).encode()):08x}-{key}"
    yield os.path.join(cache_home, "hostcheck", f"catalog-{name}.json")


def _digest_key(digest: str) -> str:
    import binascii

    return f"{binascii.crc32(digest.encode()):08x}"


def _load_data(
    directory: str, *, write: bool = True
) -> tuple[dict[str, bytes], dict[str, dict[str, Any]]]:
    """Every TOML file of the catalog, read and parsed.

    ``catalog.json`` is a compiled copy of them (like a .pyc), built on first use: beside the
    rules when that directory is writable, else in ``$XDG_CACHE_HOME/hostcheck``; nobody
    commits or edits it. It is used only when its digest of the TOML files matches them
    exactly; otherwise the TOML files are parsed (and the copy rebuilt). It saves the TOML
    parser's ~25 ms on every scan (benchmarks/bench_scan.py).
    """
    sources = _sources(directory)
    digest = _digest(sources)
    from hostcheck.host.safeio import InputError, load_json_file

    for path in _cache_paths(directory, _digest_key(digest)):
        try:
            cached = load_json_file(path, what="catalog cache")
            if isinstance(cached, dict) and cached.get("digest") == digest:
                files = cached["files"]
                if isinstance(files, dict) and all(isinstance(f, dict) for f in files.values()):
                    return sources, files
        except (InputError, KeyError):
            continue  # a damaged or foreign cache is only slower: the TOML files are parsed
    parsed = _parse_sources(directory, sources)
    for path in _cache_paths(directory, _digest_key(digest)) if write else ():
        if _write_cache(path, {"digest": digest, "files": parsed}):
            break
    return sources, parsed


# -- the bundled catalog, validated once ------------------------------------------------------
#
# The bundled rules change only when hostcheck is installed, upgraded or edited in a checkout,
# so its compiled copy also records, like a .pyc, each file's size and modification time
# (``stats``) and that its rules passed validation (``validated``: hostcheck's version, the
# validating code's own size and time, and what the check kinds require). While all of that
# still holds, the rules are built from the copy without reading the TOML files or validating
# them again (~3 ms of every scan). A file whose time is too close to when the copy read it (a
# second edit within the file system's timestamp granularity could leave size and time as they
# were) is compared by content, as git does for its index. `--rules DIR` and drop-ins are
# validated every time.

CACHE_FORMAT = 2  # what ``validated`` means; raise it when the compiled copy changes shape
RACY_NS = 2_000_000_000  # timestamps coarser than this (FAT: 2 s) are not trusted to differ


def _source_stats(directory: str) -> dict[str, tuple[int, int]] | None:
    """Size and modification time (ns) of each TOML file, by name; None when one is not a
    regular file of a rule file's size (reading the files then says what is wrong)."""
    stats = {}
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                if entry.name.endswith(".toml"):
                    st = entry.stat()
                    if not statmod.S_ISREG(st.st_mode) or st.st_size > MAX_RULE_FILE_BYTES:
                        return None
                    stats[entry.name] = (st.st_size, st.st_mtime_ns)
    except OSError:
        return None
    return dict(sorted(stats.items()))


def _validator_stamp() -> str:
    """What the bundled rules were validated with: hostcheck's version, the size and time of
    the modules that validate a rule file, and the parameters and fields of every check kind."""
    from hostcheck import __version__, model
    from hostcheck.checks import rulefile
    from hostcheck.checks.kinds import FIX_FIELDS, REQUIRED_PARAMS

    parts = [str(CACHE_FORMAT), __version__]
    for module in (rulefile, model):
        try:
            st = os.stat(module.__file__ or "")
            parts.append(f"{st.st_size}:{st.st_mtime_ns}")
        except OSError:
            parts.append("-")
    parts.append(repr((REQUIRED_PARAMS, FIX_FIELDS)))
    return ",".join(parts)


def _load_bundled(directory: str) -> tuple[dict[str, dict[str, Any]], Callable[[], None] | None]:
    """The bundled catalog's files, parsed, and how to record that their rules are valid: None
    when the compiled copy says so already (the files were neither read nor are validated)."""
    checked = time.time_ns()  # before the files are looked at: an edit after it is racy
    stats = _source_stats(directory)
    stamp = _validator_stamp()
    if stats is not None:
        for path in _cache_paths(directory, "validated"):
            files = _validated_copy(path, directory, stats, stamp)
            if files is not None:
                return files, None
    # Written once its rules are validated (by store()), not before.
    sources, files = _load_data(directory, write=False)

    def store() -> None:
        import binascii

        if stats is None or list(stats) != list(sources):  # changed while being read
            return
        record = {
            "digest": _digest(sources),
            "files": files,
            "validated": stamp,
            "checked": checked,
            "stats": {
                name: [len(data), stats[name][1], binascii.crc32(data)]
                for name, data in sources.items()
            },
        }
        for path in _cache_paths(directory, "validated"):
            if _write_cache(path, record):
                break

    return files, store


def _validated_copy(
    path: str, directory: str, stats: dict[str, tuple[int, int]], stamp: str
) -> dict[str, dict[str, Any]] | None:
    """The parsed files of a compiled copy whose rules were validated by this code and whose
    TOML files are unchanged since; None otherwise."""
    from hostcheck.host.safeio import InputError, read_file_bytes

    try:
        # The copy is hostcheck's own (like a .pyc), not an input: plain JSON suffices, and
        # whatever is wrong with it only means the rules are read and validated again.
        cached = json.loads(read_file_bytes(path))
    except (InputError, ValueError, RecursionError):
        return None
    if not isinstance(cached, dict) or cached.get("validated") != stamp:
        return None
    files, recorded, checked = cached.get("files"), cached.get("stats"), cached.get("checked")
    if (
        not isinstance(files, dict)
        or not isinstance(recorded, dict)
        or not isinstance(checked, int)
        or list(recorded) != list(stats)
        or list(files) != list(stats)
        or not all(isinstance(data, dict) for data in files.values())
    ):
        return None
    for name, (size, mtime_ns) in stats.items():
        entry = recorded[name]
        if not isinstance(entry, list) or len(entry) != 3 or entry[0] != size:
            return None
        if entry[1] == mtime_ns and mtime_ns < checked - RACY_NS:
            continue
        # Touched, or edited too close to when the copy read it: compare the content.
        import binascii

        try:
            data = read_file_bytes(os.path.join(directory, name), max_bytes=MAX_RULE_FILE_BYTES)
        except InputError:
            return None
        if len(data) != size or binascii.crc32(data) != entry[2]:
            return None
    return files


def _write_cache(path: str, data: dict[str, Any]) -> bool:
    """Write the compiled catalog atomically; False where that is not possible."""
    import contextlib  # a scan that finds the compiled catalog writes nothing: not imported
    import tempfile

    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".catalog-")
    except OSError:
        return False
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1)
            handle.write("\n")
        os.replace(temp, path)
        return True
    except (OSError, TypeError, ValueError):
        with contextlib.suppress(OSError):
            os.unlink(temp)
        return False


def compile_catalog(directory: str | None = None) -> str:
    """Write catalog.json beside a rule directory's files now (the bundled one's with its
    rules validated, as a scan writes it); returns its path."""
    if directory is None:
        directory = data_dir("rules")
        path = os.path.join(directory, CACHE_NAME)
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError:
            raise CatalogError(f"{path}: cannot write") from None
        load_catalog_with_dropins()  # validates the rules and writes the copy
        if not os.path.exists(path):
            raise CatalogError(f"{path}: cannot write")
        return path
    sources = _sources(directory)
    path = os.path.join(directory, CACHE_NAME)
    if not _write_cache(
        path, {"digest": _digest(sources), "files": _parse_sources(directory, sources)}
    ):
        raise CatalogError(f"{path}: cannot write")
    return path


def load_catalog(
    directory: str | None = None, dropin_dir: str | None = None
) -> tuple[list[Rule], dict[str, Profile]]:
    """The rules and the workload profiles of a rule directory (default: the bundled one)."""
    rules, profiles, _ = load_catalog_with_dropins(directory, dropin_dir)
    return rules, profiles


def probe_needs(rules: list[Rule]) -> dict[str, tuple[str, ...]]:
    """What the probes must read because rules name it: the sysctl keys of `sysctl` rules."""
    keys = {str(rule.params["key"]) for rule in rules if rule.check == "sysctl"}
    return {"sysctls": tuple(sorted(keys))}


def catalog_date(rules: list[Rule]) -> str:
    """The catalog's date: the latest review of any of its rules (YYYY-MM-DD)."""
    return max((rule.reviewed for rule in rules), default="")


def load_catalog_with_dropins(
    directory: str | None = None, dropin_dir: str | None = None
) -> tuple[list[Rule], dict[str, Profile], list[str]]:
    """The catalog with the operator's drop-ins applied, and the drop-in files used.

    Drop-ins (``DIR/*.toml``, by default ``rules.d`` next to the configuration file) add rows
    to a rule's tables: a new ROCm release, a known-bad kernel, a firmware version. They are
    validated like the catalog; a bad one is a CatalogError naming the file and the line.
    """
    from hostcheck.checks.kinds import FIX_FIELDS, REQUIRED_PARAMS

    store: Callable[[], None] | None = None
    if directory is None:  # the bundled catalog: its compiled copy may hold validated rules
        directory = data_dir("rules")
        files, store = _load_bundled(directory)
        validated = store is None
    else:
        files, validated = _load_data(directory)[1], False
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    for name, data in files.items():
        if name == "profiles.toml":
            continue
        path = os.path.join(directory, name)
        # Rules the compiled copy holds as validated are only built (see _load_bundled).
        rule = (
            build_rule(data, path)
            if validated
            else parse_rule(data, path, REQUIRED_PARAMS, FIX_FIELDS)
        )
        if name != f"{rule.id}.toml":
            raise CatalogError(f"{path}: file name must be {rule.id}.toml")
        if rule.id in seen:
            raise CatalogError(f"{path}: duplicate rule id {rule.id} (also in {seen[rule.id]})")
        seen[rule.id] = path
        rules.append(rule)
    if not rules:
        raise CatalogError(f"{directory}: no rule files (*.toml)")
    if store is not None:
        store()  # every rule file is valid: later scans need not read or validate them
    used: list[str] = []
    if dropin_dir is not None and os.path.isdir(dropin_dir):
        from hostcheck.checks.dropins import apply_dropins  # imported only where there are some

        rules, used = apply_dropins(rules, dropin_dir, REQUIRED_PARAMS, FIX_FIELDS)
    rules = _resolve_shared_tables(rules)
    if "profiles.toml" not in files:
        raise CatalogError(f"{os.path.join(directory, 'profiles.toml')}: missing")
    profiles = _profiles(files["profiles.toml"], os.path.join(directory, "profiles.toml"))
    return rules, profiles, used


# [check] keys whose value may name another rule, whose [check] table is then used: one table
# of kernel floors (kernel.rocm-floor) serves amdgpu.cwsr and rocm.kernel-compat, so the rules
# can never disagree about which kernel carries the KFD fix.
SHARED_TABLE_KEYS = ("kernel",)


def _resolve_shared_tables(rules: list[Rule]) -> list[Rule]:
    """The rules with each shared table named in their [check] filled in; a rule that names
    none is kept as it is (its parameters are its own already: every load builds them)."""
    by_id = {rule.id: rule for rule in rules}
    resolved = []
    for rule in rules:
        named = [key for key in SHARED_TABLE_KEYS if isinstance(rule.params.get(key), str)]
        if not named:
            resolved.append(rule)
            continue
        params = dict(rule.params)
        for key in named:
            target = params[key]
            other = by_id.get(target)
            if other is None or isinstance(other.params.get(key), str):
                raise CatalogError(
                    f"{rule.source_file}: [check] {key} = {target!r} must name a rule whose "
                    "[check] table holds the values"
                )
            params[key] = dict(other.params)
        resolved.append(rule._replace(params=params))
    return resolved


def _profiles(data: dict[str, Any], path: str) -> dict[str, Profile]:
    profiles = {}
    table = data.get("profile", {})
    if not isinstance(table, dict):
        raise CatalogError(f"{path}: [profile] must be a table of profiles")
    for name, entry in table.items():
        where = f"{path} [profile.{name}]"
        if not isinstance(entry, dict):
            raise CatalogError(f"{where}: must be a table")
        required = entry.get("required_gib")
        if not isinstance(required, int | float) or required <= 0:
            raise CatalogError(f"{where}: required_gib must be a positive number")
        engines = entry.get("engines", [])
        if not isinstance(engines, list) or not set(engines) <= ENGINES:
            raise CatalogError(f"{where}: engines must be a list of {sorted(ENGINES)}")
        profiles[name] = Profile(
            name=name,
            title=require(entry, "title", str, where),
            required_gib=float(required),
            reasoning=require(entry, "reasoning", str, where).strip(),
            default=bool(entry.get("default", False)),
            engines=tuple(engines),
        )
    defaults = [p for p in profiles.values() if p.default]
    if len(defaults) != 1:
        raise CatalogError(f"{path}: exactly one profile must have default = true")
    return profiles


def default_profile(profiles: dict[str, Profile]) -> Profile:
    return next(p for p in profiles.values() if p.default)


if __name__ == "__main__":
    print(f"wrote {compile_catalog()}")
