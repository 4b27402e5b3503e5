"""Model-assisted labeling: a folder of unlabeled crops → a glyph file of labelled samples.

The best run proposes its top-k classes for every image, framed exactly like the run's training
data; the queue shows the most doubtful images first (doubt = the margin between the first two
distances: a small margin means the run hesitates between two classes, so a person's answer is
worth the most there).

**Nothing typed is lost.** Every decision is one line appended to a journal beside the output
(``data/labelled.h5`` → ``data/labelled.journal.jsonl``) and fsynced before the call returns, so
before the next item can show. A kill at any instant leaves every confirmed line whole; a line
torn by the kill is ignored on replay (and fenced off by a newline on the next append). The
glyph file is only a view of the journal, rebuilt from it atomically (write + rename): a kill
during a rebuild leaves the previous file, and the next session rebuilds it. Each label record
carries the framed image itself, so the glyph file can be rebuilt even when the folder has moved.

Records (JSON, one per line): ``framing`` (once, first: the image_size / margin / size_mode every
stored image uses), ``label`` (id, key, class, how, image), ``skip`` (id, key) and ``undo``
(id, target: the id of the label or skip record it cancels). Replaying them in order gives the
state; undo always cancels the newest record still in force, so Ctrl+Z steps back through the
session and, after a restart, through the earlier ones.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from siam_workbench.base.atomic import fsync_dir
from siam_workbench.base.errors import Cancelled, SiamError
from siam_workbench.data.framing import SIZE_MODES, Preprocess

#: Files the folder scan offers (anything PIL decodes; the suffix only filters the listing).
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp",
                            ".pgm", ".ppm", ".pbm"})
DEFAULT_OUT = "data/labelled.h5"
TOP_K = 5
#: Images classified per network call.
_BATCH = 256


def journal_path(out: str | Path) -> Path:
    """``data/labelled.h5`` → ``data/labelled.journal.jsonl``."""
    out = Path(out)
    return out.with_name(f"{out.stem}.journal.jsonl")


def list_images(folder: str | Path) -> list[Path]:
    """Image files under ``folder`` (recursively, hidden entries left out), sorted by path."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SiamError("not a folder", folder)
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            if not name.startswith(".") and Path(name).suffix.lower() in IMAGE_SUFFIXES:
                found.append(Path(root) / name)
    return sorted(found)


def source_key(folder: Path, path: Path) -> str:
    """The sample's source in the glyph file: ``<folder name>/<path inside it>``, so a moved
    folder still matches its journal and two folders' ``001.png`` stay apart."""
    return f"{folder.name}/{path.relative_to(folder).as_posix()}"


def encode_image(image: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(image, np.uint8).tobytes()).decode("ascii")


def decode_image(text: str, size: int) -> np.ndarray:
    raw = base64.b64decode(text.encode("ascii"), validate=True)
    if len(raw) != size * size:
        raise ValueError("image of the wrong size")
    return np.frombuffer(raw, np.uint8).reshape(size, size).copy()


# -- the journal ------------------------------------------------------------------------------

class Journal:
    """Append-only JSON lines, each made durable (fsync) before :meth:`append` returns.

    Appends of several processes are serialised by the journal's edit lock; each reads what
    the others added (:meth:`sync`) before writing, so two sessions never lose each other's
    lines.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.records: list[dict[str, Any]] = []
        self.torn = 0  # lines that did not parse (a kill mid-write) and were ignored
        self._offset = 0
        self._lock = threading.Lock()
        self.sync()

    @property
    def size(self) -> int:
        """Bytes replayed so far (the glyph file remembers it, to know when it is stale)."""
        return self._offset

    def sync(self) -> list[dict[str, Any]]:
        """Read complete lines added since the last read; returns the new records."""
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self._offset)
                data = fh.read()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise SiamError(f"cannot read the labeling journal ({exc.strerror or exc})",
                            self.path) from None
        end = data.rfind(b"\n")
        if end < 0:
            return []
        new = []
        for line in data[:end].split(b"\n"):
            if not line.strip():
                continue
            try:
                rec = json.loads(line.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                self.torn += 1
                continue
            if isinstance(rec, dict) and isinstance(rec.get("op"), str):
                new.append(rec)
            else:
                self.torn += 1
        self._offset += end + 1
        self.records.extend(new)
        return new

    def append(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        """Write one record durably; returns the records new to this object (others' first,
        then ``record``), for the caller's state."""
        from siam_workbench.base.locks import lock_edit

        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        with self._lock, lock_edit(self.path):
            new = self.sync()
            created = not self.path.exists()
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC,
                             0o644)
            except OSError as exc:
                raise SiamError(f"cannot write the labeling journal ({exc.strerror or exc})",
                                self.path) from None
            try:
                size = os.fstat(fd).st_size
                # A line torn by a kill has no newline: fence it off so it stays one bad line.
                prefix = b"\n" if size > self._offset else b""
                data = prefix + line + b"\n"
                done = 0
                while done < len(data):
                    done += os.write(fd, data[done:])
                os.fsync(fd)
            except OSError as exc:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, size)  # no half record stays behind a failed write
                raise SiamError(f"cannot write the labeling journal ({exc.strerror or exc})",
                                self.path) from None
            finally:
                os.close(fd)
            if created:
                fsync_dir(self.path.parent)
            if prefix:
                self.torn += 1
            self._offset = size + len(data)
            self.records.append(record)
        return [*new, record]


# -- state replayed from the journal ----------------------------------------------------------

@dataclass
class Labelled:
    key: str
    label: str
    image: np.ndarray
    how: str  # "proposal N", "typed", "accepted top-1" …
    time: str
    record_id: str


@dataclass
class LabelState:
    """What the journal says now: the framing, the label of each key, the skipped keys and the
    records still in force (newest last: what undo cancels next)."""

    framing: dict[str, Any] | None = None
    active: list[dict[str, Any]] = field(default_factory=list)
    problems: int = 0  # records that did not make sense (ignored)

    def apply(self, rec: dict[str, Any]) -> None:
        op = rec.get("op")
        if op == "framing":
            if self.framing is None and _framing_ok(rec):
                self.framing = {k: rec[k] for k in ("image_size", "margin", "size_mode")}
            return
        if op in ("label", "skip") and isinstance(rec.get("id"), str) \
                and isinstance(rec.get("key"), str):
            self.active.append(rec)
            return
        if op == "undo":
            target = rec.get("target")
            for i in range(len(self.active) - 1, -1, -1):
                if self.active[i].get("id") == target:
                    del self.active[i]
                    return
        self.problems += 1

    def labels(self) -> dict[str, Labelled]:
        """key → its current label (the newest label record in force)."""
        size = int(self.framing["image_size"]) if self.framing else 0
        out: dict[str, Labelled] = {}
        for rec in self.active:
            if rec["op"] != "label":
                continue
            try:
                image = decode_image(str(rec["image"]), size)
                label = str(rec["class"])
            except (KeyError, ValueError, TypeError):
                continue
            if not label.strip():
                continue
            out.pop(rec["key"], None)  # re-insert: the dict keeps the order of the last label
            out[rec["key"]] = Labelled(rec["key"], label, image, str(rec.get("how", "")),
                                       str(rec.get("time", "")), rec["id"])
        return out

    def skipped(self) -> list[str]:
        """Keys skipped and not labelled since, in the order they were skipped."""
        labelled = set(self.labels())
        order: dict[str, None] = {}
        for rec in self.active:
            if rec["op"] == "skip" and rec["key"] not in labelled:
                order.pop(rec["key"], None)
                order[rec["key"]] = None
        return list(order)


def _framing_ok(rec: dict[str, Any]) -> bool:
    size, margin = rec.get("image_size"), rec.get("margin")
    return (isinstance(size, int) and isinstance(margin, int) and 1 <= size <= 1024
            and 0 <= 2 * margin < size and rec.get("size_mode") in SIZE_MODES)


def replay(records: Iterable[dict[str, Any]]) -> LabelState:
    state = LabelState()
    for rec in records:
        state.apply(rec)
    return state


# -- the glyph file, a view of the journal ----------------------------------------------------

def write_labelled(out: str | Path, state: LabelState, journal_bytes: int = 0) -> Path:
    """(Re)write the labelled samples as a glyph file (``siam-glyphs/1``), atomically.

    Classes in the order they were first given; one source per sample, its ``key``. ``render``
    records the framing and the journal size it reflects.
    """
    from siam_workbench.data.glyphs import GlyphWriter

    out = Path(out)
    framing = state.framing or Preprocess().to_dict()
    size = int(framing["image_size"])
    labels = list(state.labels().values())
    classes = list(dict.fromkeys(s.label for s in labels))
    index = {c: i for i, c in enumerate(classes)}
    render = {"importer": "label", "journal": journal_path(out).name,
              "journal_bytes": int(journal_bytes), "size": size,
              "margin": int(framing["margin"]), "size_mode": framing["size_mode"]}
    with GlyphWriter(out, classes, [s.key for s in labels], size, alphabet="labelled",
                     render=render, force=True) as w:
        if labels:
            w.append(np.stack([s.image for s in labels]),
                     np.array([index[s.label] for s in labels]), np.arange(len(labels)))
    return out


def labelled_is_current(out: str | Path, journal_bytes: int) -> bool:
    """True if the glyph file reflects the journal up to ``journal_bytes``."""
    from siam_workbench.data.glyphs import read_info

    try:
        render = read_info(out)["attrs"].get("render")
    except (SiamError, OSError, KeyError):
        return False
    if isinstance(render, str):
        with contextlib.suppress(ValueError):
            render = json.loads(render)
    return isinstance(render, dict) and render.get("journal_bytes") == journal_bytes


# -- proposals --------------------------------------------------------------------------------

@dataclass
class Item:
    """One image of the folder: the framed image that will be stored and the run's proposals."""

    key: str
    path: Path
    image: np.ndarray | None  # framed with the journal's framing; None: unreadable
    proposals: list[tuple[str, float]] = field(default_factory=list)  # (class, distance)
    error: str = ""

    @property
    def doubt(self) -> float:
        """Distance of the second proposal minus the first's: small = the run hesitates."""
        if len(self.proposals) < 2:
            return math.inf
        return self.proposals[1][1] - self.proposals[0][1]

    def as_json(self) -> dict[str, Any]:
        doubt = self.doubt
        return {"file": self.key.split("/", 1)[-1], "source": self.key,
                "doubt": None if math.isinf(doubt) else round(doubt, 6),
                "proposals": [{"class": c, "distance": round(d, 6)} for c, d in self.proposals]}


def frame(path: Path, framing: dict[str, Any]) -> np.ndarray:
    """An image file framed like training glyphs (ink 255; siam_workbench.data.imaging), as ``siam
    import`` and query frame theirs."""
    from siam_workbench.data.imaging import normalize_glyph
    from siam_workbench.data.importers import read_image

    try:
        return normalize_glyph(read_image(path), int(framing["image_size"]),
                               int(framing["margin"]), mode=str(framing["size_mode"]))
    except SiamError as exc:
        raise SiamError(str(exc).split(": ")[-1], path) from None


def propose(run: Any, paths: list[Path], keys: list[str], framing: dict[str, Any],
            k: int = TOP_K, progress: Callable[[int, int], None] | None = None,
            cancel: threading.Event | None = None) -> list[Item]:
    """Frame every image (for storage with ``framing``, for the run with its own preprocess)
    and attach the run's top-``k`` classes; ``run`` None gives items without proposals."""
    import torch

    from siam_workbench.model.perf import intra_op_threads

    pre = dict(framing)
    if run is not None:
        pre = run.preprocess.to_dict()
    same = pre == {k2: framing[k2] for k2 in ("image_size", "margin", "size_mode")}
    items: list[Item] = []
    for start in range(0, len(paths), _BATCH):
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        chunk: list[tuple[Item, np.ndarray]] = []
        for path, key in zip(paths[start:start + _BATCH], keys[start:start + _BATCH]):
            try:
                stored = frame(path, framing)
                seen = stored if same else frame(path, pre)
            except SiamError as exc:
                items.append(Item(key, path, None, error=str(exc).split(": ")[-1]))
                continue
            item = Item(key, path, stored)
            items.append(item)
            chunk.append((item, seen))
        if run is not None and chunk:
            import torch

            from siam_workbench.model.perf import intra_op_threads

            batch = torch.from_numpy(np.stack([s for _, s in chunk]))
            kk = min(k, len(run.classes))
            with intra_op_threads(1):
                dist, idx = run.classify(batch, k=kk)
            for (item, _), d_row, i_row in zip(chunk, dist.numpy(), idx.numpy()):
                item.proposals = [(run.classes[int(i)], float(d))
                                  for d, i in zip(d_row, i_row) if math.isfinite(float(d))]
        if progress is not None:
            progress(min(start + _BATCH, len(paths)), len(paths))
    return items


# -- a session --------------------------------------------------------------------------------

class LabelSession:
    """The folder, the journal and the queue; every decision is durable when a method returns.

    ``run`` is a :class:`siam_workbench.infer.evaluate.RunModel` (or None: no proposals, file
    order). ``framing`` is used when the journal has none yet (a new labelled file): the run's
    preprocess by default.
    """

    def __init__(self, folder: str | Path, out: str | Path, run: Any = None, k: int = TOP_K,
                 framing: dict[str, Any] | None = None,
                 progress: Callable[[int, int], None] | None = None,
                 cancel: threading.Event | None = None) -> None:
        self.folder = Path(folder).resolve()
        self.out = Path(out)
        self.run = run
        self.journal = Journal(journal_path(self.out))
        self.state = replay(self.journal.records)
        if self.state.framing is None:
            if run is not None:
                framing = run.preprocess.to_dict()
            framing = dict(framing or Preprocess().to_dict())
            framing = {k2: framing[k2] for k2 in ("image_size", "margin", "size_mode")}
            if not _framing_ok(framing):
                raise SiamError(f"unusable framing {framing}", self.out)
        else:
            framing = self.state.framing
        self.framing: dict[str, Any] = framing
        paths = list_images(self.folder)
        keys = [source_key(self.folder, p) for p in paths]
        labelled = self.state.labels()
        todo = [(p, key) for p, key in zip(paths, keys) if key not in labelled]
        # Labelled files need no proposals: a re-opened session starts where it stopped.
        self.items: dict[str, Item] = {key: Item(key, p, None) for p, key in zip(paths, keys)}
        for item in propose(run, [p for p, _ in todo], [key for _, key in todo], framing, k,
                            progress, cancel):
            self.items[item.key] = item
        self.unreadable = [it for it in self.items.values()
                           if it.image is None and it.key not in labelled]
        self._front: str | None = None  # the item an undo brought back shows first
        self._labels = labelled

    # -- what the queue holds
    def _refresh(self, new: list[dict[str, Any]]) -> None:
        for rec in new:
            self.state.apply(rec)
        self._labels = self.state.labels()

    def labels(self) -> dict[str, Labelled]:
        return dict(self._labels)

    def queue(self) -> list[Item]:
        """Unlabelled readable items: by doubt (smallest first; file order for ties and
        without a run), then the skipped ones in the order they were skipped."""
        skipped = self.state.skipped()
        skip_set = set(skipped)
        pending = [it for it in self.items.values()
                   if it.image is not None and it.key not in self._labels
                   and it.key not in skip_set]
        pending.sort(key=lambda it: it.doubt)  # stable: file order among equal doubts
        later = [self.items[k] for k in skipped if k in self.items
                 and self.items[k].image is not None and k not in self._labels]
        order = pending + later
        if self._front is not None:
            front = [it for it in order if it.key == self._front]
            if front:
                order = front + [it for it in order if it.key != self._front]
        return order

    def current(self) -> Item | None:
        q = self.queue()
        return q[0] if q else None

    @property
    def total(self) -> int:
        """Readable images in the folder."""
        return sum(1 for it in self.items.values() if it.image is not None
                   or it.key in self._labels)

    @property
    def done(self) -> int:
        """Images of this folder that have a label."""
        return sum(1 for key in self.items if key in self._labels)

    @property
    def left(self) -> int:
        return len(self.queue())

    # -- decisions (each durable on return)
    def _record(self, op: str, **fields: Any) -> dict[str, Any]:
        rec = {"op": op, "id": uuid.uuid4().hex[:16],
               "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **fields}
        if self.journal.size == 0 and not self.journal.records:
            self._refresh(self.journal.append({"op": "framing", **self.framing}))
            if self.state.framing is not None:
                self.framing = self.state.framing
        self._refresh(self.journal.append(rec))
        return rec

    def item(self, name: str | Path) -> Item:
        """The item of a file: its key, its path inside the folder or relative to it."""
        name = str(name)
        if name in self.items:
            return self.items[name]
        p = Path(name)
        candidates = [p if p.is_absolute() else self.folder / p, Path(name).resolve()]
        for c in candidates:
            with contextlib.suppress(ValueError):
                key = source_key(self.folder, c.resolve())
                if key in self.items:
                    return self.items[key]
        raise SiamError(f"not an image of the folder {self.folder}", name)

    def label(self, name: str | Path, label: str, how: str = "typed") -> Item:
        """Give a file its class (any text: a class the run does not know is an enrolment
        candidate); durable when this returns."""
        label = label.strip()
        if not label or "\n" in label:
            raise SiamError("a class name must be one non-empty line", str(name))
        item = self.item(name)
        if item.image is None:
            raise SiamError(f"cannot label an unreadable image ({item.error})", item.path)
        self._record("label", key=item.key, **{"class": label}, how=how,
                     image=encode_image(item.image),
                     proposals=[c for c, _ in item.proposals])
        if self._front == item.key:
            self._front = None
        return item

    def take(self, name: str | Path, rank: int) -> Item:
        """Label a file with its ``rank``-th proposal (1-based, as the keys 1–5)."""
        item = self.item(name)
        if not 1 <= rank <= len(item.proposals):
            raise SiamError(f"no proposal {rank} (it has {len(item.proposals)})", item.key)
        return self.label(item.key, item.proposals[rank - 1][0], how=f"proposal {rank}")

    def skip(self, name: str | Path) -> Item:
        item = self.item(name)
        self._record("skip", key=item.key)
        if self._front == item.key:
            self._front = None
        return item

    def undo(self) -> str | None:
        """Cancel the newest label or skip still in force (this session's or an earlier one's);
        returns its key (that item shows next), or None when there is nothing to undo."""
        self._refresh(self.journal.sync())
        if not self.state.active:
            return None
        target = self.state.active[-1]
        self._record("undo", target=target["id"], key=target["key"])
        self._front = target["key"] if target["key"] in self.items else None
        return target["key"]

    def accept_confident(self, margin: float) -> list[Item]:
        """Label every queued item whose doubt is at least ``margin`` with its top-1."""
        taken = []
        for it in list(self.queue()):
            if it.proposals and it.doubt >= margin:
                taken.append(self.label(it.key, it.proposals[0][0], how="accepted top-1"))
        return taken

    # -- the glyph file
    def write_glyphs(self) -> Path:
        """Rebuild the labelled glyph file from the journal (atomic)."""
        self._refresh(self.journal.sync())
        return write_labelled(self.out, self.state, self.journal.size)

    def glyphs_current(self) -> bool:
        return self.out.exists() and labelled_is_current(self.out, self.journal.size)

    def summary(self) -> dict[str, Any]:
        return {"folder": str(self.folder), "out": str(self.out),
                "journal": str(self.journal.path),
                "run": str(self.run.run_dir) if self.run is not None else None,
                "framing": dict(self.framing), "total": self.total, "labelled": self.done,
                "left": self.left, "labelled_in_file": len(self._labels),
                "unreadable": [{"file": it.key.split("/", 1)[-1], "error": it.error}
                               for it in self.unreadable]}
