"""Pictures of what ``[augment]`` does to a project's glyphs: the Train tab's preview panel and
``siam augment`` draw the same arrays, so the GUI and the CLI never disagree.

Two views, both from :class:`siam_workbench.parts.augment.Augmenter` itself (not a
re-implementation, so the preview is exactly what training draws):

* **Mixed** — a few training glyphs, each shown clean and as ``variants`` augmentations with
  the settings as they are (probabilities included: with ``p = 0.7`` about a third of the
  variants keep the paper's geometry untouched, just as in training).
* **Each alone** — one row per distortion, applied on its own to every cell at its configured
  strength (its probability raised to 1 so every cell shows it; the strength is still drawn at
  random within the configured range). A distortion that is switched off, or augmentation that
  is disabled, leaves its row identical to the source row.

Everything is deterministic for a given ``seed``. Images are uint8 with ink = 255 (the glyph
file convention); :func:`tile` turns them into dark ink on light paper for people.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from siam_workbench.base.errors import SiamError

GAP = 2  # gutter between cells, pixels of the tiled image
SEPARATOR = 6  # wider gutter after the clean column of the mixed view
PAPER, GUTTER, RULE = 255, 200, 120  # grey levels: background, gutters, clean-column rule

# The switches and probabilities of the distortions; the paper's three share ``p``.
_PAPER_SWITCHES = ("projective", "rotation", "scale")
_EXTRA = {"elastic": "elastic_p", "stroke": "stroke_p", "blur": "blur_p", "noise": "noise_p",
          "pen": "pen_p", "shape": "shape_p"}


@dataclass(frozen=True)
class Operation:
    """One distortion as the preview names it: ``switch`` is its ``[augment]`` on/off key."""

    name: str
    label: str
    switch: str
    strength: Callable[[Mapping[str, Any]], str]


OPERATIONS: tuple[Operation, ...] = (
    Operation("projective", "Projective", "projective",
              lambda v: f"corners ±{v['projective_shift']:.0%} of the side"),
    Operation("rotation", "Rotation", "rotation", lambda v: f"±{v['rotation_deg']:g}°"),
    Operation("pixelation", "Pixelation", "scale",
              lambda v: f"scale {v['scale_min']:g}–{v['scale_max']:g}"),
    Operation("elastic", "Elastic warp", "elastic", lambda v: f"±{v['elastic_px']:g} px"),
    Operation("stroke", "Stroke weight", "stroke",
              lambda v: f"−{v['thin_px']:g} … +{v['thicken_px']:g} px"),
    Operation("blur", "Blur", "blur", lambda v: f"σ ≤ {v['blur_sigma']:g} px"),
    Operation("noise", "Noise", "noise", lambda v: f"σ ≤ {v['noise_std']:g}"),
    Operation("pen", "Pen redraw", "pen",
              lambda v: f"{v['pen_min_px']:g}–{v['pen_max_px']:g} px nib"),
    Operation("shape", "Proportions", "shape",
              lambda v: f"squeeze ≤ {v['shape_aspect']:.0%}, shear ≤ {v['shape_shear']:g}"),
)


@dataclass(frozen=True)
class OperationRow:
    """One distortion alone: ``images`` is ``[V, H, W]`` uint8, ``active`` whether it did
    anything at all (switched on, with a non-zero strength, and augmentation enabled)."""

    operation: Operation
    active: bool
    detail: str
    images: np.ndarray


@dataclass(frozen=True)
class Preview:
    """Everything the preview shows, as arrays (uint8, ink = 255).

    ``mixed`` is ``[S, 1 + V, H, W]`` (column 0 the clean glyph); ``source`` is the ``[V, H, W]``
    row the distortions alone start from (cell ``j`` is glyph ``j mod S``); ``state`` is
    ``"on"``, ``"disabled"`` (``augment.enabled`` false) or ``"inactive"`` (enabled, but every
    distortion off or at zero strength).
    """

    mixed: np.ndarray
    source: np.ndarray
    operations: list[OperationRow]
    state: str
    classes: list[str] = dataclasses.field(default_factory=list)


# -- settings ------------------------------------------------------------------------------------
def augment_values(settings: Any) -> dict[str, Any]:
    """The complete, validated ``[augment]`` table from a mapping or an attribute object (e.g.
    ``Config().augment``); missing keys take their defaults, bad values raise
    :class:`SiamError` naming the key."""
    from siam_workbench.project.config import SCHEMA, Config

    if isinstance(settings, Mapping):
        given = dict(settings)
    else:
        given = {k: getattr(settings, k) for k in SCHEMA["augment"] if hasattr(settings, k)}
    return Config({"augment": given}).to_dict()["augment"]


def state_of(values: Mapping[str, Any]) -> str:
    """``"disabled"``, ``"inactive"`` (nothing would change a glyph) or ``"on"``."""
    from siam_workbench.parts.augment import Augmenter

    if not values["enabled"]:
        return "disabled"
    return "on" if Augmenter(SimpleNamespace(**values), 37).active else "inactive"


def isolate(values: Mapping[str, Any], operation: Operation) -> dict[str, Any]:
    """Settings under which only ``operation`` can happen, always (probability 1), at its
    configured strength; its own switch and ``enabled`` keep their values."""
    out = dict(values)
    for switch in (*_PAPER_SWITCHES, *_EXTRA):
        out[switch] = values[switch] if switch == operation.switch else False
    out["p"] = 1.0
    for prob in _EXTRA.values():
        out[prob] = 1.0
    return out


# -- the pictures --------------------------------------------------------------------------------
def _augment(images: np.ndarray, values: Mapping[str, Any], seed: int) -> np.ndarray:
    """``images`` uint8 ``[N, H, W]`` through the training augmenter; uint8 back (an untouched
    sample comes back bit-exact: k/255·255 rounds to k).

    One intra-op thread: a preview is a few dozen 37×37 images, many small ops, and on a loaded
    2-core machine two threads made it 40× slower (0.75 s → 30 s measured) waiting at barriers.
    """
    import torch

    from siam_workbench.model.perf import intra_op_threads
    from siam_workbench.parts.augment import Augmenter

    n, h, w = images.shape
    aug = Augmenter(SimpleNamespace(**values), h)
    x = torch.from_numpy(np.ascontiguousarray(images)).to(torch.float32).div_(255.0)
    gen = torch.Generator().manual_seed(int(seed))
    with torch.no_grad(), intra_op_threads(1):
        y = aug(x.view(n, 1, h, w), gen)
    return (y.view(n, h, w) * 255.0).round_().clamp_(0, 255).to(torch.uint8).numpy()


def _check(glyphs: np.ndarray, count: int, what: str) -> np.ndarray:
    glyphs = np.asarray(glyphs)
    if glyphs.ndim != 3 or glyphs.dtype != np.uint8 or glyphs.shape[0] == 0:
        raise ValueError(f"glyphs must be uint8 [N, H, W] with N ≥ 1, got {glyphs.dtype} "
                         f"{glyphs.shape}")
    if count < 1:
        raise ValueError(f"{what} must be ≥ 1, got {count}")
    return glyphs


def mixed_variants(glyphs: np.ndarray, settings: Any, samples: int = 4, variants: int = 6,
                   seed: int = 0) -> np.ndarray:
    """``[S, 1 + V, H, W]``: the first ``samples`` glyphs, each clean (column 0) and as
    ``variants`` augmentations drawn as training draws them."""
    glyphs = _check(glyphs, samples, "samples")[:samples]
    _check(glyphs, variants, "variants")
    values = augment_values(settings)
    s, h, w = glyphs.shape
    drawn = _augment(np.repeat(glyphs, variants, axis=0), values, seed)
    return np.concatenate([glyphs[:, None], drawn.reshape(s, variants, h, w)], axis=1)


def source_row(glyphs: np.ndarray, samples: int, variants: int) -> np.ndarray:
    """``[V, H, W]``: cell ``j`` is glyph ``j mod S`` (the row the distortions alone start
    from)."""
    glyphs = _check(glyphs, samples, "samples")[:samples]
    return glyphs[np.arange(variants) % glyphs.shape[0]]


def operation_rows(glyphs: np.ndarray, settings: Any, samples: int = 4, variants: int = 6,
                   seed: int = 0) -> list[OperationRow]:
    """One :class:`OperationRow` per distortion of :data:`OPERATIONS`, each alone on
    :func:`source_row`, its probability raised to 1 (its own seed: rows do not share draws)."""
    _check(glyphs, variants, "variants")
    src = source_row(glyphs, samples, variants)
    values = augment_values(settings)
    rows = []
    for k, op in enumerate(OPERATIONS):
        alone = isolate(values, op)
        active = state_of(alone) == "on"
        images = _augment(src, alone, seed + 1000 * (k + 1)) if active else src.copy()
        if not values["enabled"]:
            detail = "augmentation disabled"
        elif not values[op.switch]:
            detail = f"off (augment.{op.switch} = false)"
        elif not active:
            detail = "strength 0"
        else:
            detail = op.strength(values)
        rows.append(OperationRow(op, active, detail, images))
    return rows


def build_preview(glyphs: np.ndarray, settings: Any, samples: int = 4, variants: int = 6,
                  seed: int = 0, classes: list[str] | None = None) -> Preview:
    """Both views at once (what the GUI's worker thread computes)."""
    values = augment_values(settings)
    return Preview(mixed=mixed_variants(glyphs, values, samples, variants, seed),
                   source=source_row(glyphs, samples, variants),
                   operations=operation_rows(glyphs, values, samples, variants, seed),
                   state=state_of(values), classes=list(classes or [])[:samples])


def grid_shape(rows: int, cols: int, size: int, scale: int = 1,
               separator: bool = False) -> tuple[int, int]:
    """(height, width) of :func:`tile`'s image for ``rows × cols`` cells of ``size`` pixels."""
    pitch = size * scale + GAP
    width = cols * pitch + GAP + ((SEPARATOR - GAP) if separator and cols > 1 else 0)
    return rows * pitch + GAP, width


def tile(cells: np.ndarray, scale: int = 1, separator: bool = False) -> np.ndarray:
    """uint8 picture of ``cells`` ``[R, C, H, W]`` (ink = 255): dark ink on white paper, grey
    gutters, each pixel ``scale``× (nearest neighbour); ``separator`` sets column 0 apart by a
    wider, darker rule (the clean column of the mixed view)."""
    cells = np.asarray(cells)
    if cells.ndim != 4 or cells.dtype != np.uint8:
        raise ValueError(f"cells must be uint8 [R, C, H, W], got {cells.dtype} {cells.shape}")
    if scale < 1:
        raise ValueError(f"scale must be ≥ 1, got {scale}")
    r, c, h, w = cells.shape
    if h != w:
        raise ValueError(f"cells must be square, got {h}×{w}")
    out = np.full(grid_shape(r, c, h, scale, separator), GUTTER, np.uint8)
    paper = PAPER - cells
    if scale > 1:
        paper = np.repeat(np.repeat(paper, scale, axis=2), scale, axis=3)
    side = h * scale
    extra = (SEPARATOR - GAP) if separator and c > 1 else 0
    for j in range(c):
        x = GAP + j * (side + GAP) + (extra if j >= 1 else 0)
        for i in range(r):
            y = GAP + i * (side + GAP)
            out[y:y + side, x:x + side] = paper[i, j]
    if extra:
        x0 = GAP + side + GAP // 2
        out[:, x0:x0 + extra] = RULE
    return out


def preview_grid(glyphs: np.ndarray, settings: Any, samples: int = 4, variants: int = 6,
                 seed: int = 0, scale: int = 1) -> np.ndarray:
    """The mixed view as one uint8 image: a row per glyph, the clean glyph left of a rule, then
    ``variants`` augmentations; shape :func:`grid_shape` ``(S, 1 + V, H, scale, True)`` with
    ``S = min(samples, len(glyphs))``."""
    return tile(mixed_variants(glyphs, settings, samples, variants, seed), scale,
                separator=True)


def operation_grid(glyphs: np.ndarray, settings: Any, samples: int = 4, variants: int = 6,
                   seed: int = 0, scale: int = 1) -> np.ndarray:
    """Each distortion alone as one uint8 image: row 0 the source cells, then one row per
    :data:`OPERATIONS` entry in order; shape :func:`grid_shape` ``(1 + 7, V, H, scale)``."""
    src = source_row(glyphs, samples, variants)
    rows = operation_rows(glyphs, settings, samples, variants, seed)
    return tile(np.stack([src] + [row.images for row in rows]), scale)


# -- the project's glyphs ------------------------------------------------------------------------
def training_glyphs(path: str | Path, count: int = 4,
                    seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """``count`` training glyphs of distinct classes (random but fixed by ``seed``), excluded
    samples skipped: (uint8 ``[n, H, W]``, their class names). Raises :class:`SiamError`
    naming the file when it is missing, unreadable or holds no usable sample."""
    from siam_workbench.data.glyphs import GlyphFile

    path = Path(path)
    if not path.exists():
        raise SiamError("training data not found (render the project first: siam render "
                        "--project …)", path)
    with GlyphFile(path) as gf:
        usable = np.flatnonzero(~gf.excluded)
        if usable.size == 0:
            raise SiamError("no training samples (all excluded or none rendered)", path)
        rng = np.random.default_rng(seed)
        labels = gf.labels[usable]
        present = np.unique(labels)
        chosen = rng.choice(present, size=min(count, present.size), replace=False)
        rows = np.array([rng.choice(usable[labels == c]) for c in chosen], np.int64)
        return gf.images(rows), [gf.classes[int(c)] for c in chosen]
