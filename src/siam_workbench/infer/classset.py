"""A run's enrolled classes: ``runs/<id>/enrolled.json`` (schema ``siam-classset/1``).

Enrolment adds classes to a trained run without touching its weights: a class is one center
in the run's embedding space, the mean of its samples' embeddings. The file keeps, for every
enrolled class, its center, each sample as the network saw it (the framed uint8 image, so the
center can be recomputed when the weights change), where the sample came from, its hash and
when it was added. The centers belong to the checkpoint named by ``checkpoint_digest``; a run
loaded with other weights (``last`` instead of ``best``, a resumed run) recomputes them from
the kept samples, so a center never mixes two networks' spaces.

This module reads and writes the file only (numpy and json, no torch), so the kill-at-syscall
harness can exercise the write cheaply. Writes replace the file whole (temporary file, fsync,
rename: :func:`siam_workbench.base.atomic.write_text_atomic`) under the file's edit lock, so a kill
-9 leaves the old or the new class set and two concurrent enrolments keep both classes.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from siam_workbench.base.atomic import write_text_atomic
from siam_workbench.base.errors import SiamError
from siam_workbench.project.runfolder import ENROLLED, RunFolder

SCHEMA = "siam-classset/1"
FILE_NAME = ENROLLED
#: A class set larger than this is refused before it is parsed (a damaged or foreign file).
MAX_FILE_BYTES = 512 * 2**20


def now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def classset_path(run_dir: str | Path) -> Path:
    return RunFolder(run_dir).enrolled


def image_hash(image: np.ndarray) -> str:
    """SHA-256 of a framed image's shape and pixels: the identity of a sample (the same
    drawing enrolled twice counts once)."""
    a = np.ascontiguousarray(image, dtype=np.uint8)
    h = hashlib.sha256(f"{a.shape[0]}x{a.shape[1]}:".encode())
    h.update(a.tobytes())
    return h.hexdigest()


@dataclass
class Sample:
    image: np.ndarray  # uint8 [S, S], ink 255: as the network sees it
    origin: str  # where it came from: an image path, "drawn.h5#12", "file.h5#row"
    source: str = ""  # the drawer / face / "drawn", when known
    added: str = ""
    sha256: str = ""

    def __post_init__(self) -> None:
        if not self.sha256:
            self.sha256 = image_hash(self.image)
        if not self.added:
            self.added = now()


@dataclass
class EnrolledClass:
    name: str
    center: np.ndarray  # float32 [D] in the run's space
    samples: list[Sample]
    added: str = ""
    updated: str = ""
    #: True when the name is one of the run's trained classes and this center replaces the
    #: trained one (``siam enrol --force``).
    override: bool = False


@dataclass
class ClassSet:
    """The enrolled classes of one run, in enrolment order."""

    path: Path
    image_size: int = 0
    space: str = ""
    checkpoint_digest: str = ""
    updated: str = ""
    classes: list[EnrolledClass] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.classes]

    def get(self, name: str) -> EnrolledClass | None:
        return next((c for c in self.classes if c.name == name), None)

    def __len__(self) -> int:
        return len(self.classes)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "image_size": self.image_size,
            "space": self.space,
            "checkpoint_digest": self.checkpoint_digest,
            "updated": self.updated or now(),
            "classes": [{
                "name": c.name,
                "override": c.override,
                "added": c.added,
                "updated": c.updated,
                "center": [float(v) for v in np.asarray(c.center, np.float32)],
                "samples": [{
                    "sha256": s.sha256, "origin": s.origin, "source": s.source,
                    "added": s.added,
                    "image": base64.b64encode(np.ascontiguousarray(
                        s.image, np.uint8).tobytes()).decode("ascii"),
                } for s in c.samples],
            } for c in self.classes],
        }


def read_class_set(run_dir: str | Path) -> ClassSet:
    """The run's class set; an empty one when the run has none. A damaged file is one line
    naming it (never a half-read set)."""
    path = classset_path(run_dir)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return ClassSet(path)
    except OSError as exc:
        raise SiamError(f"cannot read ({exc.strerror or exc})", path) from None
    if size > MAX_FILE_BYTES:
        raise SiamError(f"class set of {size:,} bytes is larger than {MAX_FILE_BYTES:,}; "
                        "refused", path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise SiamError(f"not a readable class set ({type(exc).__name__})", path) from None
    return _parse(raw, path)


def _parse(raw: Any, path: Path) -> ClassSet:
    def bad(what: str) -> SiamError:
        return SiamError(f"damaged class set: {what}", path)

    if not isinstance(raw, dict) or raw.get("schema") != SCHEMA:
        raise bad(f"schema is not {SCHEMA}")
    size = raw.get("image_size")
    if not isinstance(size, int) or not 1 <= size <= 1024:
        raise bad(f"image_size {size!r}")
    out = ClassSet(path, size, str(raw.get("space", "")), str(raw.get("checkpoint_digest", "")),
                   str(raw.get("updated", "")))
    entries = raw.get("classes")
    if not isinstance(entries, list):
        raise bad("no class list")
    dim = None
    for e in entries:
        if not isinstance(e, dict) or not isinstance(e.get("name"), str) or not e["name"]:
            raise bad("a class without a name")
        name = e["name"]
        if out.get(name) is not None:
            raise bad(f"class {name!r} appears twice")
        center = e.get("center")
        if (not isinstance(center, list) or not center
                or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in center)):
            raise bad(f"class {name!r} has no finite center")
        if dim is not None and len(center) != dim:
            raise bad(f"class {name!r} has a {len(center)}-d center, the others {dim}-d")
        dim = len(center)
        samples = []
        for s in e.get("samples") or []:
            try:
                pixels = np.frombuffer(base64.b64decode(s["image"], validate=True), np.uint8)
                origin, source, added, digest = (str(s.get(k, "")) for k in
                                                 ("origin", "source", "added", "sha256"))
            except (TypeError, KeyError, binascii.Error, AttributeError):
                raise bad(f"class {name!r} has an unreadable sample") from None
            if pixels.size != size * size:
                raise bad(f"class {name!r} has a sample of {pixels.size} pixels, not "
                          f"{size}×{size}")
            samples.append(Sample(pixels.reshape(size, size).copy(), origin, source, added,
                                  digest))
        if not samples:
            raise bad(f"class {name!r} has no samples")
        out.classes.append(EnrolledClass(name, np.asarray(center, np.float32), samples,
                                         str(e.get("added", "")), str(e.get("updated", "")),
                                         bool(e.get("override", False))))
    return out


def write_class_set(cs: ClassSet) -> None:
    """Replace the file whole (temporary file + fsync + rename); an empty set removes it.
    Callers hold :func:`siam_workbench.base.locks.lock_edit` on ``cs.path`` around
    read-change-write."""
    if not cs.classes:
        cs.path.unlink(missing_ok=True)
        return
    cs.updated = now()
    write_text_atomic(cs.path, json.dumps(cs.to_json(), ensure_ascii=False) + "\n")
