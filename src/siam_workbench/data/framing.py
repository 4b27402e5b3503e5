"""How a glyph file was framed, and the one check every reader makes against what it needs.

A network trained on ``fit`` glyphs (ink box fills the image) reads ``em`` glyphs (the em box
fills the image) as other pictures: issue 17 measured, on the quickstart project, a val file
rendered ``fit`` for an ``em`` run scoring 40.3 % where the project's own ``em`` val file scored
90.6 %.
So every writer records its framing in the file's ``render`` attrs (``size_mode``, ``margin``,
``size``) and every reader — the trainer, evaluation, the Draw tab — compares it with the
framing it needs and refuses a mismatch in one line that names the command re-making the file
(:func:`remake_command`, rebuilt from what the writer recorded). Drawings keep their originals,
so a drawings file is re-framed instead (:func:`conform_drawn`).

Files made before framing was recorded: a render always recorded ``size_mode``; an import that
recorded none was framed ``fit`` (cropped to its ink box) or, with Omniglot's keep-frame,
``frame`` (the whole canvas resized: neither fit nor em, so neither kind of project takes it).
A file that records nothing at all (hand-made, synthetic) cannot be checked and is taken as is.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from siam_workbench.base.errors import SiamError

DEFAULT_MARGIN = 2
DEFAULT_SIZE = 37
#: Size modes: the ink box fills the image, or the em box does; ``frame`` (the whole canvas
#: resized) only describes old keep-frame imports, never a project or a run.
FIT, EM, FRAME = "fit", "em", "frame"
SIZE_MODES = (FIT, EM)


@dataclass(frozen=True)
class Framing:
    """Image side, empty border and size mode (``fit`` | ``em``; ``frame`` for old
    keep-frame imports) of a file, a project or a run.

    A run's *preprocess* is this value (:data:`Preprocess`): how every image is framed before
    its network sees it. Checkpoints, exports and the run's config keep writing it as the dict
    ``{"image_size", "margin", "size_mode"}`` (:meth:`to_dict`), and :meth:`from_dict` reads
    every older form (no ``size_mode``: ``fit``; no ``image_size``: the network's)."""

    size_mode: str = FIT
    margin: int = DEFAULT_MARGIN
    image_size: int = DEFAULT_SIZE

    @classmethod
    def of_data(cls, data: Any) -> Framing:
        """The framing of a project's ``[data]`` section (or a run's config)."""
        return cls(size_mode_of(data), int(data.margin), int(data.image_size))

    @classmethod
    def of_preprocess(cls, pre: dict[str, Any], image_size: int) -> Framing:
        """The framing a run's checkpoint records (its ``"preprocess"`` dict)."""
        return cls(str(pre.get("size_mode", FIT)), int(pre.get("margin", DEFAULT_MARGIN)),
                   int(pre.get("image_size", image_size)))

    from_dict = of_preprocess

    def to_dict(self) -> dict[str, Any]:
        """The checkpoint's ``"preprocess"`` (and a glyph file's framing), as always written."""
        return {"image_size": int(self.image_size), "margin": int(self.margin),
                "size_mode": str(self.size_mode)}

    @property
    def fits_ink(self) -> bool:
        """The ink box fills the image (``fit``), rather than the em box or the canvas."""
        return self.size_mode == FIT

    def describe(self) -> str:
        return f"{self.size_mode!r} with margin {self.margin}"


#: A run's preprocess: the framing its network was trained on (see :class:`Framing`).
Preprocess = Framing


def size_mode_of(data: Any) -> str:
    """A ``[data]`` section's size mode (configs older than the setting: ``fit``)."""
    return str(getattr(data, "size_mode", FIT))


def recorded_framing(attrs: dict[str, Any]) -> Framing | None:
    """The framing a glyph file's attrs record; None when they record none."""
    render = attrs.get("render") if isinstance(attrs, dict) else None
    if not isinstance(render, dict):
        return None
    mode = render.get("size_mode")
    if mode is None and render.get("importer"):
        mode = "fit" if render.get("crop", True) else "frame"
    if mode is None and render.get("source") == "drawn":
        return None  # a drawings file from before framing was recorded
    if mode is None:
        return None
    size = render.get("size", attrs.get("image_size", DEFAULT_SIZE))
    margin = render.get("margin", DEFAULT_MARGIN)
    if mode == "frame":
        margin = 0
    try:
        return Framing(str(mode), int(margin), int(size))
    except (TypeError, ValueError):
        return None


def mismatch(have: Framing | None, want: Framing) -> str | None:
    """What differs between a file's framing and the one a reader needs (None: nothing, or
    nothing recorded). The image side is checked by every reader on its own."""
    if have is None:
        return None
    if have.size_mode != want.size_mode:
        return f"framed {have.size_mode!r}"
    if have.size_mode != "frame" and have.margin != want.margin:
        return f"framed with margin {have.margin}"
    return None


def remake_command(path: str | Path, attrs: dict[str, Any], want: Framing,
                   project_reader: bool = False) -> str:
    """The ``siam`` command that writes this file again framed as ``want`` (from what its
    writer recorded); a generic hint when the file does not say how it was made.
    ``project_reader``: the reader is the project the file's split belongs to, so
    re-rendering its splits (all framed alike) is the fix."""
    render = attrs.get("render") if isinstance(attrs, dict) else None
    render = render if isinstance(render, dict) else {}
    frame = ["--size-mode", want.size_mode, "--margin", str(want.margin)]
    if want.image_size != DEFAULT_SIZE:
        frame = ["--size", str(want.image_size), *frame]
    out = ["--out", str(path), "--force"]
    distort: list[str] = []
    if render.get("distort"):
        distort = ["--distort", str(render["distort"]), "--variants",
                   str(render.get("variants", 1)), "--seed", str(render.get("seed", 0))]
    project = render.get("project")
    role = render.get("font_role") or render.get("split")
    if render.get("renderer") and project and render.get("split") and project_reader:
        return _join(["siam", "render", "--project", project, "--force"])
    if render.get("renderer") and project and role:
        return _join(["siam", "render", "--project", project, "--font-role", role, *distort,
                      *frame, *out])
    if render.get("renderer") and render.get("fonts"):
        fonts = [str(f.get("path")) for f in render["fonts"] if isinstance(f, dict)]
        alphabet = render.get("alphabet_arg") or attrs.get("alphabet") or "ALPHABET"
        return _join(["siam", "render", "--alphabet", str(alphabet), "--fonts",
                      *dict.fromkeys(fonts), *distort, *frame, *out])
    importer = render.get("importer")
    if importer in ("folder", "omniglot", "phd08"):
        src = render.get("root") or render.get("source") or "SRC"
        extra = []
        if render.get("alphabet_arg"):
            extra += ["--alphabet", str(render["alphabet_arg"])]
        return _join(["siam", "import", importer, str(src), *extra, *frame, *out])
    if render.get("source") == "drawn":
        return "draw them again (this drawings file keeps no originals to re-frame)"
    return (f"re-make it with the framing {want.describe()} (siam render or siam import with "
            f"{' '.join(frame)})")


def _join(argv: list[str]) -> str:
    return shlex.join(argv)


class FramingMismatch(SiamError):
    """A file framed otherwise than its reader needs; ``fix`` is the command re-making it."""

    def __init__(self, message: str, path: str | Path, fix: str, have: Framing,
                 want: Framing) -> None:
        super().__init__(message, path)
        self.fix, self.have, self.want = fix, have, want


def check_framing(path: str | Path, attrs: dict[str, Any], want: Framing,
                  reader: str = "the project") -> Framing | None:
    """Refuse a file whose recorded framing differs from ``want``, in one line naming the
    command that re-makes it; returns the recorded framing (None: not recorded)."""
    have = recorded_framing(attrs)
    what = mismatch(have, want)
    if what is None:
        return have
    assert have is not None
    fix = remake_command(path, attrs, want, project_reader=reader == "the project")
    raise FramingMismatch(f"{what}, but {reader} uses {want.describe()}; re-make it: {fix}",
                          path, fix, have, want)


def framing_meta(mode: str, margin: int, size: int) -> dict[str, Any]:
    """The ``render`` attrs keys a writer records (the renderer's own spelling)."""
    return {"size": int(size), "margin": int(margin), "size_mode": str(mode)}
