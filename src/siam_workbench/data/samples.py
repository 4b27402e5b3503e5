"""Imported samples as project data: a seeded split *by source* into train / val / test.

Real samples (Omniglot drawers, scan batches, a folder per writer) must be held out by the
person or batch that made them, never by image: two drawings of one person in train and test
measure memory of that hand, not reading. So a split assigns whole *groups* of sources to roles
and no source ever lands in two. The assignment depends only on the sorted group names, the
fractions and the seed (:func:`assign_roles`), and is written down beside the data
(``data/split.json``, schema ``siam-split/1``) together with the inputs, so it can be checked
and made again (:func:`check_record`, ``siam data resplit``).

Grouping: ``source`` takes each source name as it is (several inputs with the same source name
are kept apart by a ``<input>:`` prefix); ``drawer`` joins sources by their drawer number
(``drawer07``), across inputs and alphabets — the paper's Omniglot protocol, which treats drawer
07 of every alphabet as one person although Omniglot does not say they are.

Nothing here imports Qt; the CLI (``siam new --samples``, ``siam data …``) and the Data tab use it.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import math
import os
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from siam_workbench.base.atomic import write_text_atomic
from siam_workbench.base.errors import Cancelled, SiamError

SPLIT_SCHEMA = "siam-split/1"
ROLES = ("train", "val", "test")
GROUP_BY = ("source", "drawer")
DEFAULT_SPLIT = "60/20/20"
IMPORT_KINDS = ("omniglot", "folder", "phd08")
_BLOCK = 8192
_DRAWER = re.compile(r"drawer0*(\d+)$")
_log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


# -- the split itself ---------------------------------------------------------------------------


def parse_split(text: str) -> dict[str, float]:
    """``"60/20/20"`` → ``{"train": 0.6, "val": 0.2, "test": 0.2}``. The three shares are
    percentages adding up to 100; training needs a share, val or test may be 0."""
    parts = str(text).replace(",", "/").split("/")
    if len(parts) != 3:
        raise SiamError(f"--split {text!r}: expected three shares TRAIN/VAL/TEST, e.g. "
                        f"{DEFAULT_SPLIT}")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise SiamError(f"--split {text!r}: the shares must be numbers, e.g. "
                        f"{DEFAULT_SPLIT}") from None
    if any(not math.isfinite(v) or v < 0 for v in values):
        raise SiamError(f"--split {text!r}: shares must be ≥ 0")
    if abs(sum(values) - 100.0) > 1e-6:
        raise SiamError(f"--split {text!r}: the shares add up to {sum(values):g}, not 100")
    if values[0] <= 0:
        raise SiamError(f"--split {text!r}: training needs a share above 0")
    return {r: v / 100.0 for r, v in zip(ROLES, values, strict=True)}


def split_text(fractions: dict[str, float]) -> str:
    return "/".join(f"{100 * fractions[r]:g}" for r in ROLES)


def role_counts(n_groups: int, fractions: dict[str, float]) -> dict[str, int]:
    """How many groups each role gets: largest remainder of ``fraction × n`` (20 → 12/4/4),
    at least one for every role with a share. Too few groups is an error."""
    need = [r for r in ROLES if fractions[r] > 0]
    if n_groups < len(need):
        raise SiamError(f"{n_groups} source group(s) for {len(need)} roles ({', '.join(need)}): "
                        "every role needs a source of its own; give more sources (drawers, scan "
                        "batches, folders) or a split with fewer roles (e.g. 80/20/0)")
    quota = {r: fractions[r] * n_groups for r in ROLES}
    counts = {r: int(math.floor(quota[r] + 1e-9)) for r in ROLES}
    rest = n_groups - sum(counts.values())
    for r in sorted(ROLES, key=lambda r: (-(quota[r] - counts[r]), ROLES.index(r)))[:rest]:
        counts[r] += 1
    for r in need:
        if counts[r] == 0:
            donor = max(ROLES, key=lambda x: (counts[x], -ROLES.index(x)))
            counts[donor] -= 1
            counts[r] = 1
    return counts


def assign_roles(groups: Sequence[str], fractions: dict[str, float],
                 seed: int) -> dict[str, list[str]]:
    """Role → sorted group names. A function of the *set* of groups, the fractions and the seed
    only (the order groups were found in does not matter), so a recorded split can be redone."""
    names = sorted(set(groups))
    counts = role_counts(len(names), fractions)
    order = np.random.default_rng(int(seed)).permutation(len(names))
    out: dict[str, list[str]] = {}
    start = 0
    for r in ROLES:
        out[r] = sorted(names[i] for i in order[start:start + counts[r]])
        start += counts[r]
    return out


def group_of(raw_source: str, out_name: str, group_by: str, path: Path | None = None) -> str:
    if group_by == "source":
        return out_name
    m = _DRAWER.search(raw_source)
    if m is None:
        raise SiamError(f"source {raw_source!r} carries no drawer number (drawerNN, as "
                        "siam import omniglot names them); use --group-by source", path)
    return f"drawer{int(m[1]):02d}"


# -- inputs ------------------------------------------------------------------------------------


@dataclass
class SampleInput:
    """One glyph file of imported samples, read without its images."""

    path: Path
    label: str
    classes: list[str]
    source_names: list[str]
    per_source: list[int]
    samples: int
    image_size: int
    margin: int | None
    size_mode: str


def describe_input(path: str | Path) -> SampleInput:
    from siam_workbench.data.glyphs import GlyphFile

    path = Path(path).expanduser()
    if not path.exists():
        raise SiamError("samples file not found", path)
    with GlyphFile(path) as gf:
        render = gf.attrs.get("render")
        render = render if isinstance(render, dict) else {}
        per_source = np.bincount(gf.sources, minlength=len(gf.source_names)).tolist()
        margin = render.get("margin")
        return SampleInput(path=path, label=path.stem, classes=list(gf.classes),
                           source_names=list(gf.source_names), per_source=per_source,
                           samples=len(gf), image_size=gf.image_size,
                           margin=margin if isinstance(margin, int) else None,
                           size_mode=str(render.get("size_mode") or "fit"))


@dataclass
class SourcePlan:
    input: int
    raw: str
    name: str  # the source name in the written file
    group: str
    role: str
    samples: int


@dataclass
class SplitPlan:
    inputs: list[SampleInput]
    fractions: dict[str, float]
    seed: int
    group_by: str
    classes: list[str]
    sources: list[SourcePlan]
    groups: dict[str, list[str]]
    image_size: int
    size_mode: str
    margin: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def role_of(self, input_index: int) -> dict[int, tuple[str, int]]:
        """Source index of one input → (role, source index in that role's file)."""
        out: dict[int, tuple[str, int]] = {}
        for role in ROLES:
            for j, s in enumerate(self.role_sources(role)):
                if s.input == input_index:
                    out[self.inputs[input_index].source_names.index(s.raw)] = (role, j)
        return out

    def role_sources(self, role: str) -> list[SourcePlan]:
        return [s for s in self.sources if s.role == role]


def plan_split(paths: Sequence[str | Path], fractions: dict[str, float], seed: int,
               group_by: str = "source") -> SplitPlan:
    """Read the inputs' class and source lists and decide which source goes where."""
    if group_by not in GROUP_BY:
        raise SiamError(f"--group-by must be one of {', '.join(GROUP_BY)}, got {group_by!r}")
    if not paths:
        raise SiamError("no samples given")
    inputs = [describe_input(p) for p in paths]
    first = inputs[0]
    for inp in inputs[1:]:
        if inp.image_size != first.image_size:
            raise SiamError(f"images are {inp.image_size}×{inp.image_size}, those of "
                            f"{first.path} {first.image_size}×{first.image_size}; import "
                            "them at one --size", inp.path)
        if inp.size_mode != first.size_mode:
            raise SiamError(f"framed in size mode {inp.size_mode!r}, {first.path} in "
                            f"{first.size_mode!r}", inp.path)
    seen_labels: dict[str, int] = {}
    for inp in inputs:
        n = seen_labels.get(inp.label, 0)
        seen_labels[inp.label] = n + 1
        if n:
            inp.label = f"{inp.label}-{n + 1}"
    count: dict[str, int] = {}
    for inp in inputs:
        for s, k in zip(inp.source_names, inp.per_source, strict=True):
            if k:
                count[s] = count.get(s, 0) + 1
    sources: list[SourcePlan] = []
    for i, inp in enumerate(inputs):
        for s, k in zip(inp.source_names, inp.per_source, strict=True):
            if not k:
                continue  # a source listed without samples has nothing to split
            name = f"{inp.label}:{s}" if count[s] > 1 else s
            sources.append(SourcePlan(i, s, name, group_of(s, name, group_by, inp.path), "", k))
    if not sources:
        raise SiamError("holds no samples", first.path)
    groups = assign_roles([s.group for s in sources], fractions, seed)
    role_of_group = {g: r for r, gs in groups.items() for g in gs}
    for src in sources:
        src.role = role_of_group[src.group]
    classes = list(dict.fromkeys(c for inp in inputs for c in inp.classes))
    margins = {inp.margin for inp in inputs}
    return SplitPlan(inputs=inputs, fractions=dict(fractions), seed=int(seed),
                     group_by=group_by, classes=classes, sources=sources, groups=groups,
                     image_size=first.image_size, size_mode=first.size_mode,
                     margin=margins.pop() if len(margins) == 1 else None)


# -- writing -------------------------------------------------------------------------------------


def _rel(path: Path, base: Path | None) -> str:
    """``path`` relative to ``base`` (POSIX) when inside it, else as given."""
    if base is not None:
        p, b = Path(path).resolve(), Path(base).resolve()
        if p.is_relative_to(b):
            return p.relative_to(b).as_posix()
    return str(path)


def write_split(plan: SplitPlan, files: dict[str, Path], record_path: Path, *,
                base: Path | None = None, alphabet: str = "", force: bool = False,
                progress: Progress | None = None,
                cancel: threading.Event | None = None) -> dict[str, Any]:
    """Write one glyph file per role with a share, and the split record. Every target is staged
    beside itself and all are renamed together at the end: an error or a cancel leaves every
    existing file as it was. Returns the record."""
    from siam_workbench.base.atomic import sweep_stale
    from siam_workbench.data.glyphs import GlyphFile, GlyphWriter, journal_path

    roles = [r for r in ROLES if plan.role_sources(r)]
    targets = {r: Path(files[r]) for r in roles}
    for r, p in [*targets.items(), ("record", Path(record_path))]:
        if p.exists() and not force:
            raise SiamError(f"{r} file already exists (use --force to replace it)", p)
    for p in [*targets.values(), Path(record_path)]:
        p.parent.mkdir(parents=True, exist_ok=True)
        sweep_stale(p)
    inputs_resolved = {inp.path.resolve() for inp in plan.inputs}
    for r, p in targets.items():
        if p.resolve() in inputs_resolved:
            raise SiamError(f"the {r} file would replace one of the inputs", p)
    staged = {r: p.with_name(f".{p.name}.{os.getpid()}.staged") for r, p in targets.items()}
    class_index = {c: i for i, c in enumerate(plan.classes)}
    total = sum(inp.samples for inp in plan.inputs)
    done = 0
    meta_base = {"importer": "samples-split", "record": _rel(record_path, base),
                 "group_by": plan.group_by, "seed": plan.seed,
                 "split": split_text(plan.fractions), "size": plan.image_size,
                 "size_mode": plan.size_mode,
                 "inputs": [_rel(inp.path, base) for inp in plan.inputs]}
    if plan.margin is not None:
        meta_base["margin"] = plan.margin
    writers: dict[str, GlyphWriter] = {}
    counts = {r: {"samples": 0, "sources": len(plan.role_sources(r)),
                  "groups": len(plan.groups[r])} for r in ROLES}
    per_class: dict[str, np.ndarray] = {r: np.zeros(len(plan.classes), np.int64) for r in ROLES}
    try:
        for r in roles:
            writers[r] = GlyphWriter(staged[r], plan.classes,
                                     [s.name for s in plan.role_sources(r)], plan.image_size,
                                     alphabet=alphabet, render=dict(meta_base, role=r),
                                     force=True)
        if progress is not None:
            progress(0, total)
        for i, inp in enumerate(plan.inputs):
            where = plan.role_of(i)
            with GlyphFile(inp.path) as gf:
                if gf.image_size != plan.image_size or list(gf.source_names) != inp.source_names:
                    raise SiamError("changed while it was being split", inp.path)
                labels_map = np.array([class_index[c] for c in gf.classes], np.int64)
                role_idx = np.full(len(gf.source_names), -1, np.int64)
                local = np.full(len(gf.source_names), -1, np.int64)
                for s, (r, j) in where.items():
                    role_idx[s], local[s] = roles.index(r), j
                excluded = gf.excluded
                n = len(gf)
                for start in range(0, n, _BLOCK):
                    if cancel is not None and cancel.is_set():
                        raise Cancelled()
                    stop = min(n, start + _BLOCK)
                    images = gf.images(slice(start, stop))
                    src = gf.sources[start:stop]
                    lab = labels_map[gf.labels[start:stop]]
                    exc = excluded[start:stop]
                    ri = role_idx[src]
                    for k, r in enumerate(roles):
                        m = ri == k
                        if m.any():
                            writers[r].append(images[m], lab[m], local[src[m]], exc[m])
                            counts[r]["samples"] += int(m.sum())
                            per_class[r] += np.bincount(lab[m][~exc[m]],
                                                        minlength=len(plan.classes))
                    done += stop - start
                    if progress is not None:
                        progress(done, total)
        for r in roles:
            writers[r].close()
        for r in ROLES:
            counts[r]["classes"] = int((per_class[r] > 0).sum())
        record = _record(plan, targets, base, counts, alphabet)
        staged_record = Path(record_path).with_name(
            f".{Path(record_path).name}.{os.getpid()}.staged")
        write_text_atomic(staged_record, json.dumps(record, indent=1, ensure_ascii=False) + "\n")
        for r in roles:
            os.replace(staged[r], targets[r])
            journal_path(targets[r]).unlink(missing_ok=True)
        os.replace(staged_record, record_path)
    except BaseException:
        for w in writers.values():
            w.abort()
        for p in staged.values():
            p.unlink(missing_ok=True)
        Path(record_path).with_name(f".{Path(record_path).name}.{os.getpid()}.staged"
                                    ).unlink(missing_ok=True)
        raise
    return record


def _record(plan: SplitPlan, targets: dict[str, Path], base: Path | None,
            counts: dict[str, dict[str, int]], alphabet: str) -> dict[str, Any]:
    return {
        "schema": SPLIT_SCHEMA,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "seed": plan.seed,
        "split": split_text(plan.fractions),
        "fractions": plan.fractions,
        "group_by": plan.group_by,
        "inputs": [{"path": _rel(inp.path, base), "label": inp.label, "samples": inp.samples,
                    "bytes": inp.path.stat().st_size} for inp in plan.inputs],
        "files": {r: _rel(p, base) for r, p in targets.items()},
        "alphabet": alphabet,
        "classes": len(plan.classes),
        "image_size": plan.image_size,
        "size_mode": plan.size_mode,
        "groups": plan.groups,
        "counts": counts,
        "sources": [{"name": s.name, "input": plan.inputs[s.input].label, "raw": s.raw,
                     "group": s.group, "role": s.role, "samples": s.samples}
                    for s in plan.sources],
    }


# -- records -------------------------------------------------------------------------------------


def read_record(path: str | Path) -> dict[str, Any]:
    """A split record, checked enough that callers can index it; bad ones name the file."""
    path = Path(path)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SiamError("split record not found", path) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SiamError(f"unreadable split record ({exc})", path) from None
    if not isinstance(record, dict) or record.get("schema") != SPLIT_SCHEMA:
        raise SiamError(f"not a split record (schema {SPLIT_SCHEMA!r} expected)", path)
    for key, kind in (("seed", int), ("fractions", dict), ("groups", dict), ("files", dict),
                      ("sources", list), ("inputs", list), ("group_by", str)):
        if not isinstance(record.get(key), kind):
            raise SiamError(f"split record lacks a valid {key!r}", path)
    return record


def check_record(record: dict[str, Any]) -> list[str]:
    """Problems with a record (empty = consistent): the roles must follow from the seed, the
    fractions and the groups, and no source or group may serve two roles."""
    problems = []
    groups = [g for r in ROLES for g in record["groups"].get(r, [])]
    if len(groups) != len(set(groups)):
        problems.append("a source group is listed in two roles")
    try:
        again = assign_roles(groups, record["fractions"], record["seed"])
    except (SiamError, KeyError, TypeError, ValueError) as exc:
        return [*problems, f"cannot redo the assignment ({exc})"]
    if {r: sorted(record["groups"].get(r, [])) for r in ROLES} != again:
        problems.append("the recorded roles do not follow from the seed and fractions")
    role_of_group = {g: r for r, gs in again.items() for g in gs}
    names: dict[str, str] = {}
    for s in record["sources"]:
        if names.setdefault(s["name"], s["role"]) != s["role"]:
            problems.append(f"source {s['name']!r} is in two roles")
        if role_of_group.get(s["group"]) != s["role"]:
            problems.append(f"source {s['name']!r} is not in its group's role")
    return problems


def project_records(project: Any) -> list[tuple[Path, dict[str, Any] | None, str]]:
    """``(path, record or None, error)`` for every ``data.samples`` entry of a project."""
    out: list[tuple[Path, dict[str, Any] | None, str]] = []
    for spec in getattr(project.config.data, "samples", []) or []:
        path = project.resolve(spec)
        try:
            out.append((path, read_record(path), ""))
        except SiamError as exc:
            out.append((path, None, str(exc)))
    return out


def samples_record_of(project: Any) -> Path | None:
    """The split record that wrote this project's ``data.train``, if one did: the project's data
    is imported samples, not renders of fonts."""
    spec = getattr(project.config.data, "samples", []) or []
    if not spec:
        return None
    train = project.dataset_paths()["train"].resolve()
    for path, record, _ in project_records(project):
        if record is None:
            return path  # unreadable: still never render over samples
        files = record.get("files", {})
        if isinstance(files, dict) and isinstance(files.get("train"), str) \
                and project.resolve(files["train"]).resolve() == train:
            return path
    return None


def refuse_render(project: Any) -> None:
    """Rendering fonts into a project made from samples would replace real data with fonts."""
    record = samples_record_of(project)
    if record is not None:
        rel = _rel(record, project.root)
        raise SiamError(f"this project's data are imported samples ({rel}), not renders of "
                        f"fonts; make missing files again with: siam data resplit "
                        f"{project.root}", project.file)


@dataclass
class SourceRow:
    """One imported source as the Data tab lists it."""

    name: str
    samples: int
    role: str
    group: str
    record: str  # the split record's path, relative to the project
    file: str  # the glyph file holding it


def source_rows(project: Any) -> tuple[list[SourceRow], list[str]]:
    """Every imported source of the project's split records, and the records' problems."""
    rows: list[SourceRow] = []
    problems: list[str] = []
    for path, record, error in project_records(project):
        rel = _rel(path, project.root)
        if record is None:
            problems.append(error)
            continue
        problems += [f"{rel}: {p}" for p in check_record(record)]
        files = record.get("files", {})
        for s in record["sources"]:
            try:
                rows.append(SourceRow(str(s["name"]), int(s["samples"]), str(s["role"]),
                                      str(s["group"]), rel, str(files.get(s["role"], ""))))
            except (KeyError, TypeError, ValueError):
                problems.append(f"{rel}: a source entry is malformed")
                break
    return rows, problems


# -- merging samples into a training set --------------------------------------------------------


def merge_extra_train(train: Any, paths: Sequence[Path], size_mode: str,
                      warn: Callable[[str], None] | None = None) -> Any:
    """``train`` (a :class:`siam_workbench.data.glyphs.GlyphSet`) with the samples of ``paths``
    appended,
    matched *by class name* (samples of classes the training file lacks are skipped, counted,
    logged and passed to ``warn``). Source names get the file's stem as prefix
    (``real-train:drawer07``), so a face and a drawer never share a source name and
    per-source views keep them apart."""
    import torch

    from siam_workbench.data.glyphs import GlyphSet, load_glyphs

    for path in paths:
        path = Path(path)
        if not path.exists():
            raise SiamError("data.extra_train file not found", path)
        extra = load_glyphs(path)
        if extra.image_size != train.image_size:
            raise SiamError(f"data.extra_train: images are {extra.image_size}px, the training "
                            f"images {train.image_size}px", path)
        render = extra.attrs.get("render")
        mode = render.get("size_mode") if isinstance(render, dict) else None
        if mode is not None and mode != size_mode:
            raise SiamError(f"data.extra_train: framed in size mode {mode!r} but the project "
                            f"uses {size_mode!r}", path)
        n = len(extra)
        present = {extra.classes[i] for i in np.unique(extra.labels.numpy())}
        unknown = sorted(present - set(train.classes))
        extra, dropped = extra.aligned_to(train.classes)
        if dropped:
            msg = (f"data.extra_train {path.name}: {dropped} of {n} samples skipped, their "
                   "class is not in the training data"
                   + (f" (e.g. {unknown[0]!r})" if unknown else ""))
            _log.warning(msg)  # stderr in the CLI when nothing else is configured
            if warn is not None:
                warn(msg)
        if len(extra) == 0:
            continue
        offset = len(train.source_names)
        names = [*train.source_names, *(f"{path.stem}:{s}" for s in extra.source_names)]
        train = GlyphSet(
            images=torch.cat([train.images, extra.images]),
            labels=torch.cat([train.labels, extra.labels]),
            sources=torch.cat([train.sources, extra.sources + offset]),
            classes=train.classes, source_names=names,
            rows=np.concatenate([train.rows, np.full(len(extra), -1)]),
            path=train.path, attrs=train.attrs, blank=train.blank + extra.blank)
    return train
