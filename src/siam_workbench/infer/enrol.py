"""Enrolment: new classes for a trained run from a few samples, without touching its weights.

A metric network's point is that a class it never trained on is one center away. Enrolling
embeds the samples with the run's network, in the run's loss space, and keeps their mean as
the class's center in ``runs/<id>/enrolled.json`` (:mod:`siam_workbench.infer.classset`).
:func:`siam_workbench.infer.evaluate.load_run` merges that file into the run's centers and class
list (:func:`merge_enrolled`), so query, the Draw tab, ``siam eval`` and both exports see enrolled
classes as soon as they load the run.

Entry points (all Qt-free; the CLI and the GUI call these):

* :func:`enrol` — one class from images (framed uint8 ``[N,S,S]`` arrays or image files of
  any size, framed like training data);
* :func:`enrol_many` — several classes in one write (a glyph file, the project's drawings);
* :func:`enrol_from_glyphs`, :func:`enrol_from_drawings` — what ``siam enrol --from`` /
  ``--from-drawings`` enrol;
* :func:`remove`, :func:`load_class_set`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from siam_workbench.base.errors import SiamError
from siam_workbench.base.locks import lock_edit
from siam_workbench.data.framing import size_mode_of
from siam_workbench.infer.classset import (
    ClassSet,
    EnrolledClass,
    Sample,
    classset_path,
    now,
    read_class_set,
    write_class_set,
)
from siam_workbench.infer.enrolled import centers_of as _centers
from siam_workbench.infer.enrolled import merge_enrolled  # noqa: F401  (re-exported)
from siam_workbench.infer.enrolled import refresh as _refresh

if TYPE_CHECKING:
    from siam_workbench.infer.evaluate import RunModel

ImageInput = np.ndarray | str | Path
MAX_NAME = 200


@dataclass
class Batch:
    """The samples of one class to enrol, framed as the network sees them."""

    name: str
    images: np.ndarray  # uint8 [N, S, S]
    origins: list[str]
    sources: list[str]


def load_class_set(run_dir: str | Path) -> ClassSet:
    """The run's enrolled classes (empty when none); a damaged file is one line naming it."""
    _require_run(run_dir)
    return read_class_set(run_dir)


def _require_run(run_dir: str | Path) -> Path:
    from siam_workbench.project.project import is_run_dir

    run_dir = Path(run_dir)
    if not is_run_dir(run_dir):
        raise SiamError("not a run folder (no config.toml)", run_dir)
    return run_dir


def check_name(name: str) -> str:
    name = str(name).strip()
    if not name:
        raise SiamError("a class name is required (--class NAME)")
    if len(name) > MAX_NAME or any(ord(ch) < 32 for ch in name):
        raise SiamError(f"class name {name[:40]!r} is not usable (at most {MAX_NAME} "
                        "printable characters)")
    return name


def frame(run: RunModel, images: Sequence[ImageInput] | np.ndarray,
          origins: Sequence[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """Inputs → (uint8 ``[N,S,S]`` framed like the run's training data, their origins).

    A uint8 ``[N,S,S]`` array at the run's size is taken as already framed; image files and
    other arrays go through :func:`siam_workbench.infer.query.prepare` with the run's margin and
    size mode. A blank image is an error naming it.
    """
    from siam_workbench.infer.query import prepare

    s = run.image_size
    pre = run.preprocess
    if isinstance(images, np.ndarray) and images.ndim == 3 and images.shape[1:] == (s, s) \
            and images.dtype == np.uint8:
        framed = np.ascontiguousarray(images)
        names = [f"array#{i}" for i in range(len(framed))]
    else:
        items = list(images)
        framed_list, names = [], []
        for i, im in enumerate(items):
            name = str(im) if isinstance(im, (str, Path)) else f"array#{i}"
            framed_list.append(prepare(im, s, name=name, margin=pre.margin,
                                       mode=pre.size_mode))
            names.append(name)
        framed = np.stack(framed_list) if framed_list else np.zeros((0, s, s), np.uint8)
    if origins is not None:
        if len(origins) != len(framed):
            raise SiamError(f"{len(origins)} origins for {len(framed)} images")
        names = [str(o) for o in origins]
    if len(framed) == 0:
        raise SiamError("no images to enrol")
    for im, name in zip(framed, names):
        if not im.any():
            raise SiamError("image is blank", name)
    return framed, names


def enrol_many(run_dir: str | Path, batches: list[Batch], *, force: bool = False,
               which: str = "best", run: RunModel | None = None) -> ClassSet:
    """Add (or extend) several classes in one locked read-change-write of ``enrolled.json``.

    A class already enrolled keeps its samples and gains the new ones (the same framed image
    twice counts once); its center is the mean over all of them. A name among the run's
    *trained* classes is refused unless ``force`` (then its enrolled center replaces the
    trained one). ``run``: the run loaded with ``enrolled=False`` (saves a second load).
    """
    from siam_workbench.infer.evaluate import load_run

    run_dir = _require_run(run_dir)
    if run is None:
        run = load_run(run_dir, which=which, enrolled=False)
    trained = set(run.trained_classes)
    for b in batches:
        if b.name in trained and not force:
            raise SiamError(f"class {b.name!r} is one of the run's trained classes (use "
                            "--force to replace its center with the enrolled samples' one)",
                            run_dir)
        if b.images.shape[1:] != (run.image_size, run.image_size):
            raise SiamError(f"images of {b.name!r} are {b.images.shape[1:]}, the run takes "
                            f"{run.image_size}×{run.image_size}", run_dir)
    path = classset_path(run_dir)
    with lock_edit(path):
        cs = read_class_set(run_dir)
        if cs.classes and cs.image_size != run.image_size:
            raise SiamError(f"class set holds {cs.image_size}-pixel samples, the run takes "
                            f"{run.image_size}", path)
        cs.image_size = run.image_size
        _refresh(cs, run)
        changed: list[EnrolledClass] = []
        stamp = now()
        for b in batches:
            entry = cs.get(b.name)
            if entry is None:
                entry = EnrolledClass(b.name, np.zeros(0, np.float32), [], stamp, stamp,
                                      b.name in trained)
                cs.classes.append(entry)
            known = {s.sha256 for s in entry.samples}
            for im, origin, source in zip(b.images, b.origins, b.sources):
                sample = Sample(np.array(im, np.uint8), origin, source, stamp)
                if sample.sha256 not in known:
                    entry.samples.append(sample)
                    known.add(sample.sha256)
            entry.updated = stamp
            if entry not in changed:
                changed.append(entry)
        for entry, center in zip(changed, _centers(run, [[s.image for s in e.samples]
                                                         for e in changed])):
            entry.center = center
        write_class_set(cs)
    return cs


def enrol(run_dir: str | Path, class_name: str, images: Sequence[ImageInput] | np.ndarray, *,
          origins: Sequence[str] | None = None, sources: Sequence[str] | None = None,
          force: bool = False, which: str = "best") -> ClassSet:
    """Enrol ``class_name`` from ``images``: a uint8 ``[N,S,S]`` array already framed at the
    run's size, or image files / arrays of any size (framed like training data). ``origins``
    say where each sample came from (default: the path, or ``array#i``); ``sources`` who drew
    it. Returns the run's class set after the write."""
    from siam_workbench.infer.evaluate import load_run

    run_dir = _require_run(run_dir)
    name = check_name(class_name)
    run = load_run(run_dir, which=which, enrolled=False)
    framed, names = frame(run, images, origins)
    src = [str(s) for s in sources] if sources is not None else [""] * len(framed)
    if len(src) != len(framed):
        raise SiamError(f"{len(src)} sources for {len(framed)} images")
    return enrol_many(run_dir, [Batch(name, framed, names, src)], force=force, run=run)


def remove(run_dir: str | Path, name: str) -> ClassSet:
    """Drop an enrolled class; an unknown name is an error listing what is enrolled."""
    run_dir = _require_run(run_dir)
    path = classset_path(run_dir)
    with lock_edit(path):
        cs = read_class_set(run_dir)
        entry = cs.get(name)
        if entry is None:
            listing = ", ".join(cs.names[:10]) or "none"
            raise SiamError(f"class {name!r} is not enrolled (enrolled: {listing})", path)
        cs.classes.remove(entry)
        write_class_set(cs)
    return cs


# -- sources of samples -----------------------------------------------------------------------


def batches_from_glyphs(path: str | Path, trained: set[str], classes: list[str] | None = None,
                        force: bool = False) -> list[Batch]:
    """One batch per class of a glyph file: ``classes`` (names), or by default every class
    not among ``trained`` (the run's alphabet). Excluded samples are left out."""
    from siam_workbench.data.glyphs import load_glyphs

    data = load_glyphs(path)
    if classes:
        missing = [c for c in classes if c not in data.classes]
        if missing:
            raise SiamError(f"no class {missing[0]!r} in the file", path)
        clash = [c for c in classes if c in trained]
        if clash and not force:
            raise SiamError(f"class {clash[0]!r} is one of the run's trained classes (use "
                            "--force to replace its center)", path)
        wanted = list(dict.fromkeys(classes))
    else:
        wanted = [c for c in data.classes if c not in trained]
        if not wanted:
            raise SiamError("every class of the file is already one of the run's classes "
                            "(name some with --classes and --force to replace them)", path)
    labels = data.labels.numpy()
    images = data.images.numpy()
    sources = data.sources.numpy()
    out = []
    for name in wanted:
        pick = np.flatnonzero(labels == data.classes.index(name))
        if pick.size == 0:
            continue
        out.append(Batch(check_name(name), images[pick],
                         [f"{Path(path).name}#{int(data.rows[i])}" for i in pick],
                         [data.source_names[int(sources[i])] for i in pick]))
    if not out:
        raise SiamError("no samples to enrol", path)
    return out


def enrol_from_glyphs(run_dir: str | Path, path: str | Path, classes: list[str] | None = None,
                      force: bool = False, which: str = "best") -> tuple[ClassSet, list[Batch]]:
    from siam_workbench.infer.evaluate import load_run

    run_dir = _require_run(run_dir)
    run = load_run(run_dir, which=which, enrolled=False)
    batches = batches_from_glyphs(path, set(run.trained_classes), classes, force)
    return enrol_many(run_dir, batches, force=force, run=run), batches


def project_of_run(run_dir: Path) -> Any:
    from siam_workbench.project.project import PROJECT_FILE, load_project

    for parent in (run_dir.parent.parent, run_dir.parent):
        if (parent / PROJECT_FILE).exists():
            return load_project(parent)
    return None


def drawing_batches(run_dir: str | Path, trained: set[str],
                    labels: list[str] | None = None) -> list[Batch]:
    """The project's labelled drawings (drawn.h5) whose label is not a trained class
    (``labels``: only those labels), one batch per label; excluded drawings are left out."""
    from siam_workbench.data.drawn import SOURCE, DrawnStore

    run_dir = Path(run_dir)
    project = project_of_run(run_dir)
    if project is None:
        raise SiamError("the run is not inside a project, so it has no drawings", run_dir)
    d = project.config.data
    path = project.resolve(d.drawn)
    if not path.exists():
        raise SiamError("no drawings yet (draw and label some in the Draw tab)", path)
    store = DrawnStore(path, d.image_size, d.margin, size_mode_of(d))
    groups: dict[str, list[int]] = {}
    for row, dr in enumerate(store.drawings):
        if dr.excluded or dr.label in trained or (labels is not None and dr.label not in labels):
            continue
        groups.setdefault(dr.label, []).append(row)
    if not groups:
        raise SiamError("no labelled drawing has a label outside the run's alphabet", path)
    return [Batch(check_name(label), np.stack([store.drawings[r].image for r in rows]),
                  [f"{path.name}#{r}" for r in rows], [SOURCE] * len(rows))
            for label, rows in groups.items()]


def enrol_from_drawings(run_dir: str | Path, labels: list[str] | None = None,
                        which: str = "best") -> tuple[ClassSet, list[Batch]]:
    from siam_workbench.infer.evaluate import load_run

    run_dir = _require_run(run_dir)
    run = load_run(run_dir, which=which, enrolled=False)
    batches = drawing_batches(run_dir, set(run.trained_classes), labels)
    return enrol_many(run_dir, batches, run=run), batches
