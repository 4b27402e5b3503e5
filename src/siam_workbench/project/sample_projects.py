"""Projects from imported samples (``siam new --samples``) and samples added to a font project
(``siam data add-samples``), both through the by-source split of :mod:`siam_workbench.data.samples`.

A samples project's alphabet is the imported class list (``classes.txt`` in the project), its
``data.train / val / test`` are the split's files, its test file is real and so *not*
distorted (``data.test_distort = ""``), and its ``data.samples`` names the split record, which
makes :func:`siam_workbench.data.samples.refuse_render` keep fonts out of it for good.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from siam_workbench.base.errors import SiamError
from siam_workbench.data.samples import (
    DEFAULT_SPLIT,
    IMPORT_KINDS,
    Progress,
    SplitPlan,
    parse_split,
    plan_split,
    read_record,
    write_split,
)

_OMNIGLOT_PNG = re.compile(r"^\d+_\d+\.png$", re.IGNORECASE)
CLASS_LIST = "classes.txt"
RECORD = "data/split.json"


def detect_kind(src: Path) -> str:
    """Which importer reads ``src``: Omniglot (``ROOT/<alphabet>/<char>/<id>_<drawer>.png`` or
    the parent of ``images_*``), PHD08 (``.txt`` files), else an image folder."""
    if src.is_file():
        if src.suffix.lower() == ".txt":
            return "phd08"
        raise SiamError("expected a glyph .h5 file or a folder of samples", src)
    try:
        subdirs = [d for d in src.iterdir() if d.is_dir() and not d.name.startswith(".")]
        if subdirs and all(d.name.startswith("images_") for d in subdirs):
            return "omniglot"
        if any(p.suffix.lower() == ".txt" for p in src.iterdir() if p.is_file()) and not subdirs:
            return "phd08"
        for a in subdirs[:8]:
            for c in [d for d in a.iterdir() if d.is_dir()][:4]:
                if any(_OMNIGLOT_PNG.match(f.name) for f in c.iterdir()):
                    return "omniglot"
    except OSError as exc:
        raise SiamError(f"cannot list folder ({exc.strerror or exc})", src) from None
    return "folder"


def _import(src: Path, out: Path, kind: str, size: int, margin: int,
            progress: Progress | None, cancel: threading.Event | None) -> None:
    from siam_workbench.data import importers

    common: dict[str, Any] = {"margin": margin, "progress": progress, "cancel": cancel}
    if kind == "omniglot":
        importers.import_omniglot(src, out, size, **common)
    elif kind == "phd08":
        importers.import_phd08(src, out, size, **common)
    else:
        importers.import_folder(src, out, size, **common)


def resolve_inputs(specs: Sequence[str | Path], import_dir: Path, *, kind: str | None,
                   size: int, margin: int, created: list[Path],
                   progress: Progress | None = None,
                   cancel: threading.Event | None = None) -> list[Path]:
    """Glyph files for the ``--samples`` arguments: ``.h5`` files as they are, folders (and
    PHD08 files) imported into ``import_dir`` (kept: the split record names them)."""
    if kind is not None and kind not in IMPORT_KINDS:
        raise SiamError(f"--import must be one of {', '.join(IMPORT_KINDS)}, got {kind!r}")
    out: list[Path] = []
    used: set[str] = set()
    for spec in specs:
        src = Path(spec).expanduser()
        if not src.exists():
            raise SiamError("samples not found", src)
        if src.is_file() and src.suffix.lower() in (".h5", ".hdf5"):
            out.append(src)
            continue
        which = kind or detect_kind(src)
        stem = re.sub(r"[^\w.-]+", "_", src.stem or src.name or "samples").strip("._") \
            or "samples"
        name, n = stem, 2
        while name in used:
            name, n = f"{stem}-{n}", n + 1
        used.add(name)
        target = import_dir / f"{name}.h5"
        if target.exists():
            raise SiamError("already exists (remove it, or pass the .h5 itself)", target)
        import_dir.mkdir(parents=True, exist_ok=True)
        _import(src, target, which, size, margin, progress, cancel)
        created.append(target)
        out.append(target)
    return out


def write_class_list(folder: Path, classes: list[str], name: str = CLASS_LIST) -> Path:
    """The imported classes as a class-list file that reads back as exactly this list."""
    from siam_workbench.base.atomic import write_text_atomic
    from siam_workbench.data.alphabets import alphabet_from_text

    if len(classes) < 2:
        raise SiamError(f"the samples hold {len(classes)} class(es); a project needs at least 2")
    bad = [c for c in classes if not c or c != c.strip() or "\n" in c or "\r" in c]
    if bad:
        raise SiamError(f"class {bad[0]!r} cannot be written to a class list (blank, or "
                        "leading / trailing white space)")
    text = "\n".join(classes) + "\n"
    if alphabet_from_text(text).classes != classes:
        raise SiamError("the class names do not read back as one class per line")
    path = folder / name
    write_text_atomic(path, text)
    return path


def _check_size(plan: SplitPlan, config: Any) -> None:
    from siam_workbench.model.backbones import INPUT_SIZES

    want = INPUT_SIZES.get(config.model.backbone)
    if want is not None and plan.image_size != want:
        raise SiamError(f"the samples are {plan.image_size}×{plan.image_size} pixels but "
                        f"model.backbone {config.model.backbone} takes {want}×{want}; import "
                        f"them with --size {want}", plan.inputs[0].path)


def create_samples_project(
    folder: str | Path,
    samples: Sequence[str | Path],
    config: Any | Callable[[list[str]], Any],
    *,
    split: str = DEFAULT_SPLIT,
    seed: int = 0,
    group_by: str = "source",
    import_kind: str | None = None,
    name: str = "",
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> tuple[Any, dict[str, Any]]:
    """A new project whose train / val / test are ``samples`` split by source. ``config`` is
    the new project's config, or a function of the imported class list returning it (defaults
    sized to the alphabet); the samples' framing and the split's files are written over it. On
    any error everything this call created is removed again (nothing that was there is
    touched)."""
    from siam_workbench.project.project import PROJECT_FILE, Project, create_project

    fractions = parse_split(split)
    folder = Path(folder).expanduser()
    if (folder / PROJECT_FILE).exists():
        raise SiamError("already holds a project", folder)
    for rel in (CLASS_LIST, RECORD, "data/train.h5", "data/val.h5", "data/test.h5"):
        if (folder / rel).exists():
            raise SiamError("already exists; choose a new project folder", folder / rel)
    made_dirs = [p for p in (folder, folder / "data", folder / "data" / "import")
                 if not p.exists()]
    created: list[Path] = []
    make = config if callable(config) else None
    cfg: Any = None if make is not None else config  # the config, once known
    if make is not None:
        from siam_workbench.project.config import Config

        d = Config().data  # the image size and margin to import at
    else:
        d = cfg.data
    try:
        folder.mkdir(parents=True, exist_ok=True)
        root = folder.resolve()
        inputs = resolve_inputs(samples, root / "data" / "import", kind=import_kind,
                                size=d.image_size, margin=d.margin, created=created,
                                progress=progress, cancel=cancel)
        plan = plan_split(inputs, fractions, seed, group_by)
        if make is not None:
            cfg = make(plan.classes)
        _check_size(plan, cfg)
        created.append(root / CLASS_LIST)
        write_class_list(root, plan.classes)
        updates: dict[str, Any] = {"alphabet": CLASS_LIST, "image_size": plan.image_size,
                                   "size_mode": plan.size_mode, "test_distort": "",
                                   "samples": [RECORD], "train": "data/train.h5",
                                   "val": "data/val.h5", "test": "data/test.h5"}
        if plan.margin is not None:
            updates["margin"] = plan.margin
        cfg = cfg.replace({"data": updates})
        project = Project(root=root, config=cfg)
        files = project.dataset_paths()
        created += [*files.values(), root / RECORD]
        record = write_split(plan, files, root / RECORD, base=root, alphabet=CLASS_LIST,
                             progress=progress, cancel=cancel)
        label = ", ".join(inp.label for inp in plan.inputs)
        desc = (f"{len(plan.classes)} classes of imported samples ({label}), split "
                f"{record['split']} by {group_by} with seed {seed} ({RECORD})")
        cfg = cfg.replace({"project": {"description": desc}})
        project = create_project(root, cfg, name=name or root.name)
        created.append(project.file)
        _comment_project_file(project.file, record)
    except BaseException:
        for p in created:
            if p.is_file():
                p.unlink(missing_ok=True)
        for p in reversed(made_dirs):
            with contextlib.suppress(OSError):
                p.rmdir()  # only if empty: never a file this call did not make
        raise
    return project, record


def _comment_project_file(file: Path, record: dict[str, Any]) -> None:
    from siam_workbench.base.atomic import write_text_atomic

    c = record["counts"]
    head = (f"# Made from imported samples (siam new --samples): split {record['split']} "
            f"(train/val/test)\n# by {record['group_by']}, seed {record['seed']} (train "
            f"{c['train']['sources']} sources, val {c['val']['sources']}, test "
            f"{c['test']['sources']}); which source went where: {RECORD}.\n# The test file is "
            "real data, so it is not distorted; fonts are never rendered into this project.\n")
    write_text_atomic(file, head + file.read_text(encoding="utf-8"))


def add_samples(
    project: Any,
    samples: Sequence[str | Path],
    *,
    name: str = "real",
    split: str = DEFAULT_SPLIT,
    seed: int = 0,
    group_by: str = "source",
    import_kind: str | None = None,
    force: bool = False,
    save: bool = True,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> tuple[dict[str, Any], list[str], dict[str, dict[str, Any]]]:
    """Split ``samples`` by source into ``data/<name>-train / -val / -test.h5`` of a project,
    add the train file to ``data.extra_train`` and the record to ``data.samples``. Returns the
    record, notes (classes the project's alphabet lacks) and the config update; ``save=False``
    leaves project.toml to the caller (the Data tab makes it an undoable edit)."""
    from siam_workbench.data.alphabets import resolve_alphabet
    from siam_workbench.project.tomledit import save_project_file

    if not re.fullmatch(r"[\w][\w.-]*", name):
        raise SiamError(f"--name {name!r}: use letters, digits, '-', '_' or '.'")
    fractions = parse_split(split)
    root = project.root
    d = project.config.data
    files = {r: root / "data" / f"{name}-{r}.h5" for r in ("train", "val", "test")}
    record_path = root / "data" / f"{name}-split.json"
    own = {project.resolve(p).resolve() for p in (d.train, d.val, d.test)}
    if any(p.resolve() in own for p in files.values()):
        raise SiamError(f"--name {name!r} would overwrite the project's own data files")
    created: list[Path] = []
    try:
        inputs = resolve_inputs(samples, root / "data" / "import", kind=import_kind,
                                size=d.image_size, margin=d.margin, created=created,
                                progress=progress, cancel=cancel)
        plan = plan_split(inputs, fractions, seed, group_by)
        _check_size(plan, project.config)
        if plan.image_size != d.image_size:
            raise SiamError(f"the samples are {plan.image_size}px, the project's images "
                            f"{d.image_size}px (data.image_size)", plan.inputs[0].path)
        if plan.size_mode != d.size_mode:
            raise SiamError(f"the samples are framed in size mode {plan.size_mode!r}, the "
                            f"project uses {d.size_mode!r} (data.size_mode)",
                            plan.inputs[0].path)
        known = set(resolve_alphabet(d.alphabet, base=root).classes)
        missing = [c for c in plan.classes if c not in known]
        if len(missing) == len(plan.classes):
            raise SiamError(f"none of the {len(plan.classes)} classes of the samples is in the "
                            f"project's alphabet {d.alphabet!r} (e.g. {missing[0]!r}); classes "
                            "are matched by name", plan.inputs[0].path)
        notes = [f"{len(missing)} of {len(plan.classes)} classes are not in the project's "
                 f"alphabet (e.g. {missing[0]!r}); training skips their samples"] \
            if missing else []
        record = write_split(plan, files, record_path, base=root, alphabet=d.alphabet,
                             force=force, progress=progress, cancel=cancel)
    except BaseException:
        for p in created:
            p.unlink(missing_ok=True)
        raise
    extra = list(d.extra_train)
    rel_train = record["files"].get("train")
    if rel_train and rel_train not in extra:
        extra.append(rel_train)
    recs = list(d.samples)
    rel_record = f"data/{record_path.name}"
    if rel_record not in recs:
        recs.append(rel_record)
    updates = {"data": {"extra_train": extra, "samples": recs}}
    if save:
        config = project.config.replace(updates)
        save_project_file(project.file, config)
        project.config = config
    return record, notes, updates


def free_name(project: Any, base: str = "real") -> str:
    """``real``, else ``real-2``, … : a prefix whose split files do not exist yet."""
    name, n = base, 2
    while any((project.root / "data" / f"{name}-{r}").exists()
              for r in ("train.h5", "val.h5", "test.h5", "split.json")):
        name, n = f"{base}-{n}", n + 1
    return name


def resplit(project: Any, record_path: str | Path | None = None, *, seed: int | None = None,
            split: str | None = None, group_by: str | None = None,
            progress: Progress | None = None,
            cancel: threading.Event | None = None) -> dict[str, Any]:
    """Write a project's split files again from their record's inputs (same seed: the same
    files; another ``seed`` / ``split`` / ``group_by``: a new split, recorded)."""
    from siam_workbench.data.samples import samples_record_of

    root = project.root
    if record_path is None:
        record_path = samples_record_of(project)
        if record_path is None:
            recs = list(project.config.data.samples)
            if len(recs) != 1:
                raise SiamError("name the split record to redo (--record): the project has "
                                f"{len(recs)}", project.file)
            record_path = project.resolve(recs[0])
    record_file: Path = project.resolve(str(record_path))
    record = read_record(record_file)
    inputs = [project.resolve(str(i["path"])) for i in record["inputs"]]
    fractions = parse_split(split) if split is not None else record["fractions"]
    plan = plan_split(inputs, fractions, record["seed"] if seed is None else seed,
                      group_by or record["group_by"])
    files = {r: project.resolve(str(p)) for r, p in record["files"].items()}
    for r in ("train", "val", "test"):
        if r not in files and plan.role_sources(r):
            files[r] = root / "data" / f"{record_file.stem.replace('split', r)}.h5"
    return write_split(plan, files, record_file, base=root,
                       alphabet=str(record.get("alphabet", "")), force=True,
                       progress=progress, cancel=cancel)
