"""The content-addressed synth cache: reuse cdktf.out when nothing it depends on changed.

A synth costs 10-30 s and ~1 GiB (node loading the provider bindings); its
output depends only on what :func:`key` hashes:

- the effective settings of every environment (defaults, profile, overlay),
- the bytes of main.py, cdktf.json, every file under stacks/ and every
  tenantdb module main.py or the stacks import (followed through the import
  statements, so an edit to tenantdb/database/bootstrap/roles.py counts, one to
  tenantdb/verify/ does not),
- the installed cdktf, constructs, jsii and provider-binding versions, the
  Python and node executables, the project root (stacks embed absolute
  paths), the with-access flag and the environment variables main.py and
  cdktf read (``TENANTDB_*``, ``CDKTF_*`` but the output directory).

Two places hold output:

- the **record** inside the output directory (:data:`RECORD`): the key and a
  digest of every file the synth wrote. A hit needs the key to match and every
  file to match its digest, so anything else that writes there (``npx cdktf
  synth``, an editor, a half-finished copy) invalidates it;
- the **store** (``.tenantdb/synth-cache/<key>/``): a verified copy per key, so
  a fresh output directory (``tenantdb check`` synthesizes into a temporary
  one) is filled by copying a few JSON files instead of starting node.

``npx cdktf synth|diff|deploy`` run main.py themselves and never read either.
Set ``TENANTDB_SYNTH_CACHE=off`` to always synthesize; ``TENANTDB_SYNTH_CACHE_DIR``
to keep the store elsewhere.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

from tenantdb import settings as settings_mod
from tenantdb.paths import PROJECT_ROOT, STATE_DIR

FORMAT = 1
"""Bump when what the key covers or the record's layout changes."""
RECORD = "tenantdb-synth.json"
"""The record's file name inside the output directory."""
STORE = STATE_DIR / "synth-cache"
STORE_ENV = "TENANTDB_SYNTH_CACHE_DIR"
"""Another store directory (the benchmarks use a private one)."""
KEEP = 8
"""Store entries kept (newest used first); a key is ~150 KB of JSON."""
SWITCH_ENV = "TENANTDB_SYNTH_CACHE"
PACKAGES = ("cdktf", "constructs", "jsii", "cdktf-cdktf-provider-aws", "cdktf-cdktf-provider-postgresql")
ENV_PREFIXES = ("TENANTDB_", "CDKTF_")
# Read by the commands, never by main.py or the stacks: they cannot change what synth writes
# (and the master DSN may hold a password: it must not even be hashed into a key on disk).
ENV_IGNORED = frozenset({"CDKTF_OUTDIR", SWITCH_ENV, STORE_ENV, "TENANTDB_ENV", "TENANTDB_MASTER_DSN",
                         "TENANTDB_TEST_LOCAL_OVERLAY"})
"""Where the output goes and whether to cache change nothing in it."""
LOCAL_TOPS = ("tenantdb", "stacks", "main")


def enabled() -> bool:
    return os.environ.get(SWITCH_ENV, "").strip().lower() not in ("0", "off", "no", "false")


def store_dir() -> Path:
    return Path(os.environ[STORE_ENV]) if os.environ.get(STORE_ENV) else STORE


# ----- the key ---------------------------------------------------------------------

def key(with_access: bool, overlay: str | os.PathLike[str] | None, root: Path = PROJECT_ROOT) -> str | None:
    """The content address of a synth; None when the settings do not load (main.py reports that)."""
    try:
        targets = settings_mod.load_all(overlay)
    except settings_mod.SettingsError:
        return None
    h = hashlib.sha256()

    def part(label: str, value: str | bytes) -> None:
        data = value.encode() if isinstance(value, str) else value
        h.update(f"{label}\0{len(data)}\0".encode())
        h.update(data)

    part("format", str(FORMAT))
    part("root", str(root.resolve()))
    part("settings", json.dumps([s.model_dump(mode="json") for s in targets], sort_keys=True, default=str))
    part("with_access", "1" if with_access else "0")
    for path in source_files(root):
        part(f"file {path.relative_to(root).as_posix()}", _file_digest(path))
    for name in PACKAGES:
        part(f"package {name}", _version(name))
    part("python", f"{sys.executable} {sys.version}")
    part("node", _executable_identity("node"))
    env = {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIXES) and k not in ENV_IGNORED}
    part("env", json.dumps(env, sort_keys=True))
    return h.hexdigest()


def source_files(root: Path = PROJECT_ROOT) -> list[Path]:
    """main.py, cdktf.json, everything under stacks/, and the project modules they import (transitively)."""
    found = {root / "main.py", root / "cdktf.json"}
    found |= {p for p in (root / "stacks").rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    todo = [p for p in found if p.suffix == ".py"]
    while todo:
        for dep in _imports(todo.pop(), root):
            if dep not in found:
                found.add(dep)
                todo.append(dep)
    return sorted(p for p in found if p.is_file())


def _imports(path: Path, root: Path) -> set[Path]:
    """The project files ``path`` imports, with the packages' __init__.py on the way."""
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (OSError, SyntaxError):
        return set()  # hashed as it is; main.py reports the error
    here = path.relative_to(root).with_suffix("").parts
    package = here[:-1]  # a module's package; for __init__.py, its own package
    names: list[tuple[str, ...]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [tuple(a.name.split(".")) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = tuple(node.module.split(".")) if node.module else ()
            if node.level:
                base = package[:len(package) - node.level + 1] + base
            names.append(base)
            names += [base + (a.name,) for a in node.names]  # `from pkg import module`
    out: set[Path] = set()
    for parts in names:
        if parts and parts[0] in LOCAL_TOPS:
            out |= _module_files(root, parts)
    return out


def _module_files(root: Path, parts: tuple[str, ...]) -> set[Path]:
    out = set()
    for i in range(1, len(parts) + 1):
        d = root.joinpath(*parts[:i])
        for candidate in (d / "__init__.py", d.with_suffix(".py")):
            if candidate.is_file():
                out.add(candidate)
    return out


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


def _executable_identity(name: str) -> str:
    found = shutil.which(name)
    if not found:
        return "absent"
    real = Path(found).resolve()
    st = real.stat()
    return f"{real} {st.st_size} {st.st_mtime_ns}"


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ----- what a synth wrote -------------------------------------------------------------

def written_files(outdir: Path) -> list[str]:
    """The files of the last synth into ``outdir`` (relative): the manifest and what it names."""
    manifest = json.loads((outdir / "manifest.json").read_text())
    files = {"manifest.json"}
    for meta in manifest["stacks"].values():
        for field in ("synthesizedStackPath", "stackMetadataPath"):
            if meta.get(field) and (outdir / meta[field]).is_file():
                files.add(meta[field])
        assets = outdir / meta["workingDirectory"] / "assets"
        if assets.is_dir():
            files |= {p.relative_to(outdir).as_posix() for p in assets.rglob("*") if p.is_file()}
    return sorted(files)


def digests(base: Path, files: Iterable[str]) -> dict[str, str] | None:
    """relative path -> sha256, or None when a file is missing or unreadable."""
    try:
        return {f: _file_digest(base / f) for f in files}
    except OSError:
        return None


def _intact(base: Path, record: dict, want_key: str) -> bool:
    files = record.get("files")
    return (record.get("format") == FORMAT and record.get("key") == want_key and isinstance(files, dict)
            and bool(files) and digests(base, files) == files)


def _read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


# ----- the record in the output directory -------------------------------------------

def outdir_hit(outdir: Path, want_key: str) -> bool:
    return _intact(outdir, _read_json(outdir / RECORD), want_key)


def forget(outdir: Path) -> None:
    """Drop the record before anything writes into ``outdir``: an interrupted write never looks intact."""
    try:
        (outdir / RECORD).unlink()
    except FileNotFoundError:
        pass


def remember(outdir: Path, want_key: str) -> dict[str, str]:
    """Record what the synth into ``outdir`` wrote, under ``want_key``; returns the digests."""
    files = digests(outdir, written_files(outdir)) or {}
    _write_json(outdir / RECORD, {"format": FORMAT, "key": want_key, "files": files})
    return files


def _write_json(path: Path, value: dict) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(value, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


# ----- the store ------------------------------------------------------------------------

def restore(outdir: Path, want_key: str, store: Path = STORE) -> bool:
    """Fill ``outdir`` from a verified store entry; False (nothing written) when there is none."""
    entry = store / want_key
    record = _read_json(entry / RECORD)
    if not record:
        return False
    if not _intact(entry, record, want_key):
        shutil.rmtree(entry, ignore_errors=True)  # damaged: the next synth stores it again
        return False
    for rel in record["files"]:
        target = outdir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        shutil.copyfile(entry / rel, tmp)
        os.replace(tmp, target)
    if not _intact(outdir, record, want_key):  # someone wrote at the same time: let a real synth decide
        return False
    _write_json(outdir / RECORD, record)
    os.utime(entry)
    return True


def store_output(outdir: Path, want_key: str, files: dict[str, str], store: Path = STORE) -> None:
    """Copy the synth's files into the store under ``want_key`` (atomically: a rename)."""
    if not files or (store / want_key).is_dir():
        return
    store.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".incoming-", dir=store))
    try:
        for rel in files:
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(outdir / rel, tmp / rel)
        if digests(tmp, files) != files:
            return  # changed under us while copying: store nothing
        _write_json(tmp / RECORD, {"format": FORMAT, "key": want_key, "files": files})
        os.rename(tmp, store / want_key)
    except OSError:
        pass  # another process stored the same key first, or the disk is full: the cache is optional
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    _prune(store)


def _prune(store: Path) -> None:
    entries = sorted((p for p in store.iterdir() if p.is_dir() and not p.name.startswith(".")),
                     key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[KEEP:]:
        shutil.rmtree(old, ignore_errors=True)
