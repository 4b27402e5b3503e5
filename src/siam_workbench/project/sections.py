"""Typed, read-only views of the configuration's sections (``cfg.train.epochs`` is an ``int``
to mypy), so a misspelt built-in key or a value used as the wrong type is caught where it is
read rather than when a run reaches that line.

The views mirror :data:`siam_workbench.project.config.SCHEMA`'s built-in keys one for one
(tests/core/train/test_config_sections.py fails when they drift apart). The ``[loss]`` and
``[mining]`` sections also hold the keys parts add when they register — a plug-in's own
parameter, or a namespaced ``<part>.<key>`` — which no class can declare in advance: those are
kept aside and read by attribute at run time (``getattr(cfg.mining, "focal.alpha")``, which
is how :meth:`siam_workbench.base.part.Part.value` reads a part's settings), but mypy does not
see that fallback, so code outside a part names such keys through ``Config.get``.

A view has no methods of its own, so no name a plug-in may give its parameter is shadowed.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar


@dataclass(frozen=True)
class SectionView:
    """Base of the typed views: the declared keys as fields, every other key of the section
    in ``_extra`` (reachable by attribute at run time)."""

    _section: ClassVar[str] = ""
    _extra: Mapping[str, Any] = field(default_factory=dict, kw_only=True, repr=False)

    if not TYPE_CHECKING:  # hidden from mypy, which then flags an undeclared name
        def __getattr__(self, key: str) -> Any:
            if key.startswith("__"):  # copy / pickle probing for hooks
                raise AttributeError(key)
            extra = self.__dict__.get("_extra", {})
            try:
                return extra[key]
            except KeyError:
                name = self.__dict__.get("_name") or self._section or "section"
                raise AttributeError(f"{name}.{key}") from None


@dataclass(frozen=True)
class ProjectSection(SectionView):
    _section: ClassVar[str] = "project"
    name: str
    description: str
    plugins: list[str]


@dataclass(frozen=True)
class DataSection(SectionView):
    _section: ClassVar[str] = "data"
    alphabet: str
    image_size: int
    margin: int
    size_mode: str
    train: str
    val: str
    test: str
    train_fonts: list[str]
    val_fonts: list[str]
    test_fonts: list[str]
    font_dirs: list[str]
    min_coverage: float
    test_distort: str
    test_variants: int
    drawn: str
    include_drawn: bool
    extra_train: list[str]
    samples: list[str]


@dataclass(frozen=True)
class ModelSection(SectionView):
    _section: ClassVar[str] = "model"
    backbone: str
    embedding_dim: int


@dataclass(frozen=True)
class LossSection(SectionView):
    """``kind`` and the built-in losses' parameters; a plug-in loss's own ones in ``_extra``."""

    _section: ClassVar[str] = "loss"
    kind: str
    alpha: float
    rho: float
    tau: float
    xi: float
    centers: str
    center_momentum: float
    normalize: bool


@dataclass(frozen=True)
class MiningSection(SectionView):
    """The three roles and the built-in miners' parameters; a plug-in miner's in ``_extra``."""

    _section: ClassVar[str] = "mining"
    positive: str
    negative: str
    batch: str
    gamma: float
    w: float
    theta: float
    eta: int
    distance_sharpness: float
    hard_ratio: int


@dataclass(frozen=True)
class AugmentSection(SectionView):
    _section: ClassVar[str] = "augment"
    enabled: bool
    p: float
    projective: bool
    projective_shift: float
    rotation: bool
    rotation_deg: float
    scale: bool
    scale_min: float
    scale_max: float
    elastic: bool
    elastic_p: float
    elastic_px: float
    stroke: bool
    stroke_p: float
    thicken_px: float
    thin_px: float
    blur: bool
    blur_p: float
    blur_sigma: float
    noise: bool
    noise_p: float
    noise_std: float
    pen: bool
    pen_p: float
    pen_min_px: float
    pen_max_px: float
    shape: bool
    shape_p: float
    shape_aspect: float
    shape_shear: float


@dataclass(frozen=True)
class TrainSection(SectionView):
    _section: ClassVar[str] = "train"
    epochs: int
    iterations: int
    batch_mode: str
    classes_per_batch: int
    samples_per_class: int
    triplets: int
    optimizer: str
    lr: float
    lr_schedule: str
    warmup: float
    lr_min: float
    grad_clip: float
    momentum: float
    weight_decay: float
    seed: int
    device: str
    cuda_scale: float
    threads: int
    eval_max: int
    train_eval_max: int


V = TypeVar("V", bound=SectionView)

#: section name → its typed view.
VIEWS: dict[str, type[SectionView]] = {
    cls._section: cls for cls in (ProjectSection, DataSection, ModelSection, LossSection,
                                  MiningSection, AugmentSection, TrainSection)}


def declared_keys(view: type[SectionView]) -> list[str]:
    """The keys a view declares as typed fields, in declaration order."""
    return [f.name for f in fields(view) if f.name != "_extra"]


def section_view(view: type[V], values: Mapping[str, Any], section: str = "") -> V:
    """A ``view`` of one section holding a copy of ``values`` (a validated, complete table:
    every key the view declares is present); the keys it does not declare go to ``_extra``.
    ``section`` names the section in messages (default: the view's own)."""
    names = set(declared_keys(view))
    own = {k: copy.deepcopy(v) for k, v in values.items() if k in names}
    extra = {k: copy.deepcopy(v) for k, v in values.items() if k not in names}
    out = view(**own, _extra=extra)
    if section and section != view._section:
        object.__setattr__(out, "_name", section)
    return out
