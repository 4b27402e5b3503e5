"""Trust: a project's plug-in files run only once the user has said they may.

Opening a project used to import the Python files its ``[project] plugins`` lists, so a project
someone sent you ran its code the moment ``siam runs`` or the workbench opened it. Now a
per-user record (:func:`trust_file`) holds, for every project the user trusted, its folder and a
fingerprint of its plug-in files (their paths inside the project and their bytes). A project
whose plug-ins are not in the record — never trusted, or changed since — opens in *restricted
mode*: nothing is imported, everything that needs no plug-in works, and the rest says what
``siam trust PROJECT`` would enable (the model of VS Code's Restricted Mode and Jupyter's
untrusted notebooks).

The record is JSON, replaced whole (temporary file + rename); ``SIAM_TRUST_FILE`` points it
elsewhere (tests, a shared lab machine). Only the listed files are fingerprinted: code a
plug-in imports from other files is not covered, so list those files too.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from siam_workbench.base.atomic import write_text_atomic
from siam_workbench.base.errors import SiamError
from siam_workbench.base.paths import is_inside

ENV_VAR = "SIAM_TRUST_FILE"
SCHEMA = "siam-trust/1"
_MAX_RECORD_BYTES = 4 << 20
_MAX_PLUGIN_BYTES = 4 << 20
_REGISTER_CALLS = {"register_miner": "miner", "register_loss": "loss",
                   "register_model": "backbone"}


def trust_file() -> Path:
    """``$SIAM_TRUST_FILE``, else ``$XDG_CONFIG_HOME/siam-workbench/trust.json``."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base).expanduser() / "siam-workbench" / "trust.json"


def plugin_paths(root: Path, entries: list[str], file: Path) -> list[Path]:
    """The plug-in files a project lists, resolved; each must lie inside the project folder
    (an absolute path, ``..`` or a symlink leading out is refused, naming the entry)."""
    root = Path(root).resolve()
    out = []
    for entry in entries:
        p = Path(entry).expanduser()
        path = p if p.is_absolute() else root / p
        if not is_inside(path, root):
            raise SiamError(f"project.plugins: {entry!r} lies outside the project folder; a "
                            "plug-in must be a file inside the project", file)
        out.append(Path(os.path.realpath(path)))
    return out


def fingerprint(root: Path, paths: list[Path]) -> str:
    """SHA-256 over each plug-in's path (relative to the project) and bytes."""
    contents = []
    for path in paths:
        try:
            contents.append((path, read_plugin(path)))
        except SiamError:
            contents.append((path, b"\0missing\0"))
    return fingerprint_of(root, contents)


def fingerprint_of(root: Path, contents: list[tuple[Path, bytes]]) -> str:
    """:func:`fingerprint` of contents already read (what is hashed is what runs)."""
    root = Path(root).resolve()
    h = hashlib.sha256()
    for path, data in contents:
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(data).digest())
    return h.hexdigest()


def read_plugin(path: Path) -> bytes:
    from siam_workbench.base.paths import require_file

    require_file(path, "plug-in file")
    if path.stat().st_size > _MAX_PLUGIN_BYTES:
        raise SiamError(f"plug-in file is over {_MAX_PLUGIN_BYTES:,} bytes", path)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SiamError(f"cannot read plug-in file ({exc.strerror})", path) from None


@dataclass
class TrustState:
    """Whether a project's plug-ins may run, and if not, why not."""

    root: Path
    paths: list[Path]
    trusted: bool
    reason: str = ""  # "never trusted" | "changed since you trusted it"
    fingerprint: str = ""
    def hint(self) -> str:
        return f"siam trust {self.root}"


def read_record() -> dict[str, Any]:
    """The trust record's ``projects`` table (empty when there is none or it is unreadable:
    an unreadable record trusts nothing, it never fails the command)."""
    path = trust_file()
    try:
        if not path.is_file() or path.stat().st_size > _MAX_RECORD_BYTES:
            return {}
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return {}
    projects = raw.get("projects") if isinstance(raw, dict) else None
    return {k: v for k, v in projects.items() if isinstance(v, dict)} \
        if isinstance(projects, dict) else {}


def _write_record(projects: dict[str, Any]) -> None:
    path = trust_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps({"schema": SCHEMA, "projects": projects}, indent=1,
                                       ensure_ascii=False) + "\n")


def check(root: Path, paths: list[Path]) -> TrustState:
    """Look ``root`` up in the record; its plug-ins run only if the fingerprint matches."""
    root = Path(root).resolve()
    entry = read_record().get(str(root))
    digest = fingerprint(root, paths)
    if entry is None:
        return TrustState(root, paths, False, "never trusted", digest)
    if entry.get("fingerprint") != digest:
        return TrustState(root, paths, False, "changed since you trusted it", digest)
    return TrustState(root, paths, True, "", digest)


def trust(root: Path, paths: list[Path]) -> str:
    """Record ``root`` with its plug-ins as they are now; the fingerprint. Every file must
    exist and be readable (trusting a file that is not there would trust whatever comes)."""
    root = Path(root).resolve()
    for path in paths:
        read_plugin(path)
    projects = read_record()
    digest = fingerprint(root, paths)
    projects[str(root)] = {
        "fingerprint": digest,
        "files": [p.relative_to(root).as_posix() for p in paths],
        "trusted": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    _write_record(projects)
    return digest


def revoke(root: Path) -> bool:
    """Forget ``root``; False if it was not trusted."""
    key = str(Path(root).expanduser().resolve())
    projects = read_record()
    if key not in projects:
        return False
    del projects[key]
    _write_record(projects)
    return True


def declarations(path: Path) -> list[str]:
    """What a plug-in file declares, read without running it: the parts it registers
    (``miner 'val-error' (ValidationErrorMiner)``) and the modules it imports. Static, so a
    file can hide what it does; the trust dialog says so."""
    try:
        tree = ast.parse(read_plugin(path), filename=str(path))
    except SiamError as exc:
        return [f"cannot read: {exc}"]
    except (SyntaxError, ValueError) as exc:
        return [f"not valid Python ({exc.__class__.__name__})"]
    parts: list[str] = []
    imports: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imports.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imports.add(node.module.split(".")[0])
        elif isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            kind = _registered_as(node)
            if kind is not None:
                parts.append(f"{kind} {_part_name(node)} ({node.name})")
    out = parts or ["no part registered (runs code at import)"]
    if imports:
        out.append("imports " + ", ".join(sorted(imports)))
    return out


def _registered_as(node: ast.ClassDef | ast.FunctionDef) -> str | None:
    for deco in node.decorator_list:
        target = deco.func if isinstance(deco, ast.Call) else deco
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
        if name in _REGISTER_CALLS:
            return _REGISTER_CALLS[name]
    return None


def _part_name(node: ast.ClassDef | ast.FunctionDef) -> str:
    if isinstance(node, ast.FunctionDef):
        for deco in node.decorator_list:
            if isinstance(deco, ast.Call) and deco.args and isinstance(deco.args[0],
                                                                       ast.Constant):
                return repr(deco.args[0].value)
        return "?"
    for stmt in node.body:
        if (isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "name"
                                                 for t in stmt.targets)
                and isinstance(stmt.value, ast.Constant)):
            return repr(stmt.value.value)
    return "?"
