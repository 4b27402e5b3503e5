"""Edits of ``project.toml`` that keep the user's comments, order and formatting.

The GUI changes a few values at a time; rewriting the whole file from the schema (what
:meth:`Config.to_toml` does for run folders) would drop every comment and spell out every
default. Here the file is parsed with tomlkit, only the keys whose value changed are touched,
and a key the file does not have is added only when its new value differs from the default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError

from siam_workbench.base.atomic import write_text_atomic
from siam_workbench.base.errors import SiamError
from siam_workbench.project.config import SCHEMA, Config


def _parse(text: str, path: Path | None = None) -> tomlkit.TOMLDocument:
    try:
        return tomlkit.parse(text)
    except TOMLKitError as exc:
        raise SiamError(f"invalid TOML: {exc}", path) from None


def merge_config(text: str, config: Config, path: Path | None = None) -> str:
    """``text`` (a project.toml) with ``config``'s values written in, comments kept."""
    doc = _parse(text, path)
    for section, fields in SCHEMA.items():
        table = doc.get(section)
        for key, field in fields.items():
            value = config.get(section, key)
            if "." in key:  # a part's own setting: [section.<part>] key (base/part.py)
                table = _set_part_key(doc, section, key, value, field.default)
                continue
            if table is not None and key in table:
                if table[key] != value:
                    table[key] = value
                continue
            if value == field.default:
                continue
            if table is None:
                table = tomlkit.table()
                doc[section] = table
            table[key] = value
    return tomlkit.dumps(doc)


def _set_part_key(doc: Any, section: str, key: str, value: Any, default: Any) -> Any:
    """Write ``section.<part>.<key>`` as a sub-table entry; the section's table after it."""
    part, sub = key.split(".", 1)
    table = doc.get(section)
    inner = table.get(part) if table is not None else None
    if isinstance(inner, dict) and sub in inner:
        if inner[sub] != value:
            inner[sub] = value
        return table
    if value == default:
        return table
    if table is None:
        table = tomlkit.table()
        doc[section] = table
    if not isinstance(inner, dict):
        inner = tomlkit.table()
        table[part] = inner
    inner[sub] = value
    return table


def save_project_file(file: Path, config: Config) -> None:
    """Write ``config`` into ``file`` keeping its comments (a new file gets a plain dump)."""
    file = Path(file)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        write_text_atomic(file, config.to_toml())
        return
    except (OSError, UnicodeDecodeError) as exc:
        raise SiamError(f"cannot read ({exc})", file) from None
    write_text_atomic(file, merge_config(text, config, file))


def remove_key(text: str, section: str, key: str | None) -> str:
    """``text`` without ``section.key`` (or the whole ``[section]`` when key is None)."""
    doc = _parse(text)
    if key is None:
        doc.pop(section, None)
    elif isinstance(doc.get(section), dict) and key in doc[section]:
        del doc[section][key]
    return tomlkit.dumps(doc)


def rename_key(text: str, section: str, old: str, new: str) -> str:
    """``text`` with ``section.old`` renamed to ``section.new``, its value (and the comment on
    its line) kept; a ``new`` already present wins and ``old`` is dropped."""
    doc = _parse(text)
    table = doc.get(section)
    if not isinstance(table, dict) or old not in table:
        return text
    item: Any = table.item(old) if hasattr(table, "item") else table[old]
    if new not in table:
        # Insert where the old key was, so the file still reads in the same order.
        keys = list(table.keys())
        pos = keys.index(old)
        del table[old]
        if hasattr(table, "add") and pos >= len(table):
            table[new] = item
        else:
            table[new] = item
            # tomlkit appends; move the new key back into the old key's place.
            body = table.value.body if hasattr(table, "value") else None
            if body is not None:
                entries = [e for e in body if e[0] is not None and str(e[0]) == new]
                if entries:
                    entry = entries[-1]
                    body.remove(entry)
                    index = [i for i, e in enumerate(body) if e[0] is not None]
                    at = index[pos] if pos < len(index) else len(body)
                    body.insert(at, entry)
    else:
        del table[old]
    return tomlkit.dumps(doc)


def fix_key(file: Path, section: str, key: str | None, rename_to: str | None = None) -> Path:
    """Rename (keeping the value) or remove an unknown key in ``file``; the original is kept
    as ``project.toml.bak``; returns that backup's path."""
    file = Path(file)
    text = file.read_text(encoding="utf-8")
    if rename_to is not None and key is not None:
        new = rename_key(text, section, key, rename_to)
    else:
        new = remove_key(text, section, key)
    backup = file.with_name(file.name + ".bak")
    write_text_atomic(backup, text)
    write_text_atomic(file, new)
    return backup
