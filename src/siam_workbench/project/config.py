"""The training configuration schema: one table drives validation, the CLI ``--set`` flag, the
Train-tab form and the written ``config.toml``, so the three can never disagree.

Every value is checked against its :class:`Field`; an unknown key or a bad value raises
:class:`SiamError` naming ``section.key``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from siam_workbench.base.errors import SiamError
from siam_workbench.base.fields import Field
from siam_workbench.parts import losses, miners
from siam_workbench.project.sections import (
    AugmentSection,
    DataSection,
    LossSection,
    MiningSection,
    ModelSection,
    ProjectSection,
    SectionView,
    TrainSection,
    section_view,
)

V = TypeVar("V", bound=SectionView)

SCHEMA: dict[str, dict[str, Field]] = {
    "project": {
        "name": Field(str, "untitled", "Display name of the project"),
        "description": Field(str, "", "Free text shown in the project panel"),
        "plugins": Field(list, [], "Python files (relative to the project) defining miners or "
                         "losses of your own; they run when the project opens"),
    },
    "data": {
        "alphabet": Field(str, "latin-digits",
                          "Named alphabet (siam alphabets) or a path to a UTF-8 class list"),
        "image_size": Field(int, 37, "Side of the square glyph images, pixels", min=8, max=256),
        "margin": Field(int, 2, "Empty border kept around each rendered glyph, pixels",
                        min=0, max=32),
        "size_mode": Field(str, "fit", "How a glyph is framed: fit = its ink box fills the "
                           "image (size and position are lost); em = the font's em box is "
                           "the image, so o/O and x/X keep their relative size and baseline "
                           "(drawings are framed the same way)", choices=("fit", "em")),
        "train": Field(str, "data/train.h5", "Training glyph file (relative to the project)"),
        "val": Field(str, "data/val.h5", "Validation glyph file, fonts unseen in training"),
        "test": Field(str, "data/test.h5", "Test glyph file, held-out fonts, distorted"),
        "train_fonts": Field(list, [], "Fonts for the training file: file names, family names "
                             "or globs; empty = automatic split of the installed fonts"),
        "val_fonts": Field(list, [], "Fonts for the validation file"),
        "test_fonts": Field(list, [], "Fonts for the test file"),
        "font_dirs": Field(list, [], "Extra folders or files searched for fonts"),
        "min_coverage": Field(float, 0.95, "Faces covering less of the alphabet are not used",
                              min=0.0, max=1.0),
        "test_distort": Field(str, "rotate=4,blur=0.6,noise=0.04,thicken=1",
                              "Distortions applied to the test file (siam render --distort)"),
        "test_variants": Field(int, 2, "Distorted variants per test glyph", min=1, max=64),
        "drawn": Field(str, "drawn.h5", "Labelled hand drawings (Draw tab, siam draw)"),
        "include_drawn": Field(bool, False, "Add the labelled drawings of known classes to "
                               "the training data"),
        "extra_train": Field(list, [], "More training glyph files (e.g. imported samples) "
                             "appended to data.train by class name; unknown classes are skipped"),
        "samples": Field(list, [], "Split records of imported samples (siam new --samples, "
                         "siam data add-samples): which source serves which role. A project "
                         "whose data.train one of them wrote never renders fonts"),
    },
    "model": {
        "backbone": Field(str, "mokin37", "Network from the model registry",
                          label="Backbone"),
        "embedding_dim": Field(int, 25, "Size of the embedding (paper: 25)", min=2, max=1024,
                               label="Embedding size"),
    },
    # Declared by the registered losses and miners (built in and plug-ins): see
    # siam_workbench.parts.losses.registry and siam_workbench.parts.miners.registry.
    "loss": losses.FIELDS,
    "mining": miners.FIELDS,
    "augment": {
        "enabled": Field(bool, True, "Augment training images",
                         label="Augment training images"),
        "p": Field(float, 0.7, "Probability that a sample is distorted geometrically",
                   min=0.0, max=1.0, label="p — share of samples distorted (paper: 0.7)",
                   used_when=("augment.enabled", (True,))),
        "projective": Field(bool, True, "Random projective corner shifts",
                            label="Projective shifts", used_when=("augment.enabled", (True,))),
        "projective_shift": Field(float, 0.08, "Largest corner shift, share of the image side",
                                  min=0.0, max=0.5,
                                  label="Largest shift", used_when=("augment.projective", (True,))),
        "rotation": Field(bool, True, "Random rotation",
                          label="Rotation", used_when=("augment.enabled", (True,))),
        "rotation_deg": Field(float, 5.0, "Largest rotation, degrees", min=0.0, max=180.0,
                              label="Largest rotation", unit="°",
                              used_when=("augment.rotation", (True,))),
        "scale": Field(bool, True, "Down-then-up scaling (pixelation)",
                       label="Pixelation", used_when=("augment.enabled", (True,))),
        "scale_min": Field(float, 0.7, "Smallest down-scaling factor", min=0.05, max=1.0,
                           label="Smallest scale", used_when=("augment.scale", (True,))),
        "scale_max": Field(float, 0.9, "Largest down-scaling factor", min=0.05, max=1.0,
                           label="Largest scale", used_when=("augment.scale", (True,))),
        "elastic": Field(bool, True, "Smooth random warps, like handwriting and uneven print",
                         label="Elastic warp", used_when=("augment.enabled", (True,))),
        "elastic_p": Field(float, 0.5, "Probability of an elastic warp", min=0.0, max=1.0,
                           label="p — share warped", used_when=("augment.elastic", (True,))),
        "elastic_px": Field(float, 1.5, "Largest elastic displacement, pixels", min=0.0,
                            max=16.0,
                            label="Largest warp", unit="px",
                            used_when=("augment.elastic", (True,))),
        "stroke": Field(bool, True, "Random stroke weight (dilate / erode), like heavy and "
                        "light print",
                        label="Stroke weight", used_when=("augment.enabled", (True,))),
        "stroke_p": Field(float, 0.6, "Probability of a stroke-weight change", min=0.0,
                          max=1.0,
                          label="p — share re-weighted", used_when=("augment.stroke", (True,))),
        "thicken_px": Field(float, 1.5, "Largest dilation, pixels (1 = a 3×3 max filter)",
                            min=0.0, max=4.0,
                            label="Largest thickening", unit="px",
                            used_when=("augment.stroke", (True,))),
        "thin_px": Field(float, 0.7, "Largest erosion, pixels (1 = a 3×3 min filter)",
                         min=0.0, max=4.0,
                         label="Largest thinning", unit="px",
                         used_when=("augment.stroke", (True,))),
        "blur": Field(bool, True, "Random Gaussian blur",
                      label="Blur", used_when=("augment.enabled", (True,))),
        "blur_p": Field(float, 0.5, "Probability of a blur", min=0.0, max=1.0,
                        label="p — share blurred", used_when=("augment.blur", (True,))),
        "blur_sigma": Field(float, 1.0, "Largest blur σ, pixels", min=0.0, max=8.0,
                            label="Largest blur σ", unit="px",
                            used_when=("augment.blur", (True,))),
        "noise": Field(bool, True, "Random additive Gaussian noise",
                       label="Noise", used_when=("augment.enabled", (True,))),
        "noise_p": Field(float, 0.5, "Probability of noise", min=0.0, max=1.0,
                         label="p — share with noise", used_when=("augment.noise", (True,))),
        "noise_std": Field(float, 0.06, "Largest noise standard deviation (intensity 0–1)",
                           min=0.0, max=1.0,
                           label="Largest noise σ", used_when=("augment.noise", (True,))),
        # What a pen drawing has that a font lacks (src/siam_workbench/parts/handdrawn.py; measured
        # in docs/RESULTS.md "Real handwriting").
        "pen": Field(bool, False, "Redraw glyphs along their skeleton with a uniform round "
                     "pen, like a drawing on a canvas",
                     label="Pen redraw", used_when=("augment.enabled", (True,))),
        "pen_p": Field(float, 0.5, "Probability of a pen redraw", min=0.0, max=1.0,
                       label="p — share redrawn", used_when=("augment.pen", (True,))),
        "pen_min_px": Field(float, 1.5, "Narrowest pen, pixels", min=1.0, max=12.0,
                            label="Narrowest pen", unit="px", used_when=("augment.pen", (True,))),
        "pen_max_px": Field(float, 3.0, "Widest pen, pixels", min=1.0, max=12.0,
                            label="Widest pen", unit="px", used_when=("augment.pen", (True,))),
        "shape": Field(bool, False, "Random proportions (aspect ratio) and slant (shear), "
                       "like a hand's",
                       label="Proportions and slant", used_when=("augment.enabled", (True,))),
        "shape_p": Field(float, 0.5, "Probability of a proportion / slant change", min=0.0,
                         max=1.0,
                         label="p — share reshaped", used_when=("augment.shape", (True,))),
        "shape_aspect": Field(float, 0.25, "Largest squeeze of one axis (0.25: to 1/1.25)",
                              min=0.0, max=2.0,
                              label="Largest squeeze", used_when=("augment.shape", (True,))),
        "shape_shear": Field(float, 0.2, "Largest shear (horizontal shift per unit height)",
                             min=0.0, max=1.0,
                             label="Largest shear", used_when=("augment.shape", (True,))),
    },
    "train": {
        "epochs": Field(int, 10, "Number of epochs", min=1, max=100_000,
                        label="Epochs"),
        "iterations": Field(int, 42, "Iterations (optimiser steps) per epoch (paper: 50)",
                            min=1, max=1_000_000,
                            label="Iterations per epoch"),
        "batch_mode": Field(str, "pk", "What a step embeds: 'pk' = P classes × K samples, "
                            "every triplet inside the batch; 'triplets' = independent triplets "
                            "of three images (the paper)", choices=("pk", "triplets"),
                            label="Batch layout"),
        "classes_per_batch": Field(int, 128, "'pk': classes P per step", min=2,
                                   max=1_000_000, label="P — classes per batch",
                                   used_when=("train.batch_mode", ("pk",))),
        "samples_per_class": Field(int, 8, "'pk': samples K per class", min=2, max=1024,
                                   label="K — samples per class",
                                   used_when=("train.batch_mode", ("pk",))),
        "triplets": Field(int, 512, "'triplets': triplets per step (paper: 10,240)",
                          min=1, max=1_000_000,
                          label="Triplets per iteration",
                          used_when=("train.batch_mode", ("triplets",))),
        "optimizer": Field(str, "adam", "Optimiser", choices=("adam", "sgd"),
                           label="Optimiser"),
        "lr": Field(float, 3e-3, "Peak learning rate (paper: 0.001)", min=1e-8, max=10.0,
                    label="Learning rate"),
        "lr_schedule": Field(str, "cosine", "Learning-rate schedule over the run: 'constant' "
                             "(paper) or linear warm-up then cosine decay",
                             choices=("constant", "cosine"),
                             label="LR schedule"),
        "warmup": Field(float, 0.05, "Share of the run's steps spent warming up", min=0.0,
                        max=0.5,
                        label="Warm-up", used_when=("train.lr_schedule", ("cosine",))),
        "lr_min": Field(float, 0.02, "Cosine schedule: final learning rate, share of lr",
                        min=0.0, max=1.0,
                        label="Smallest learning rate",
                        used_when=("train.lr_schedule", ("cosine",))),
        "grad_clip": Field(float, 0.0, "Largest gradient norm per step; larger gradients are "
                           "scaled down (0 = no clipping)", min=0.0, max=1e6,
                           label="Gradient clipping"),
        "momentum": Field(float, 0.9, "SGD momentum", min=0.0, max=1.0,
                          label="SGD momentum", used_when=("train.optimizer", ("sgd",))),
        "weight_decay": Field(float, 0.0, "L2 weight decay", min=0.0, max=1.0,
                              label="Weight decay"),
        "seed": Field(int, 0, "Random seed (model, sampler, augmentation)", min=0, max=2**31 - 1,
                      label="Random seed"),
        "device": Field(str, "auto", "Training device", choices=("auto", "cpu", "cuda"),
                        label="Device"),
        "cuda_scale": Field(float, 1.0, "On a CUDA device, train this many times more steps per "
                            "epoch (a GPU does in minutes what the CPU-sized run does in an "
                            "hour); the run's config records the result", min=0.01, max=1000.0,
                            label="CUDA: steps per epoch", unit="×"),
        "threads": Field(int, 0, "CPU threads of a training step (0 = as many as cores)",
                         min=0, max=1024,
                         label="CPU threads"),
        "eval_max": Field(int, 20000, "At most this many validation images per epoch "
                          "(0 = all)", min=0, max=100_000_000,
                          label="Validation images / epoch"),
        "train_eval_max": Field(int, 10000, "Training accuracy per epoch on at most this many "
                                "training images (0 = all)", min=0, max=100_000_000,
                                label="Train images / epoch"),
    },
}


def _coerce(section: str, key: str, value: Any) -> Any:
    """Return ``value`` checked and normalised for ``section.key``, or raise naming the key."""
    name = f"{section}.{key}"
    if section not in SCHEMA:
        raise _unknown_section_error(section)
    fields = SCHEMA[section]
    if key not in fields:
        hint = did_you_mean(key, list(fields))
        raise SiamError(f"unknown key {name}" + (f" (did you mean `{hint}`?)" if hint else "")
                        + f" (known in [{section}]: {', '.join(fields)})", section=section,
                        key=key, hint=hint, unknown=True)
    try:
        return _check_value(name, fields[key], value)
    except SiamError as exc:
        raise SiamError(exc.message, section=section, key=key) from None


def _check_value(name: str, f: Field, value: Any) -> Any:
    if f.kind is bool:
        if not isinstance(value, bool):
            raise SiamError(f"{name} must be true or false, got {value!r}")
    elif f.kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise SiamError(f"{name} must be an integer, got {value!r}")
    elif f.kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SiamError(f"{name} must be a number, got {value!r}")
        value = float(value)
        if not math.isfinite(value):
            raise SiamError(f"{name} must be finite, got {value!r}")
    elif f.kind is str:
        if not isinstance(value, str):
            raise SiamError(f"{name} must be a string, got {value!r}")
    elif f.kind is list:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise SiamError(f"{name} must be a list of strings, got {value!r}")
        value = list(value)
    if f.choices is not None and value not in f.choices:
        raise SiamError(f"{name} must be one of {', '.join(f.choices)}; got {value!r}")
    if f.min is not None and value < f.min:
        raise SiamError(f"{name} must be ≥ {f.min:g}, got {value!r}")
    if f.max is not None and value > f.max:
        raise SiamError(f"{name} must be ≤ {f.max:g}, got {value!r}")
    return value


def _unknown_section_error(section: str) -> SiamError:
    return SiamError(_unknown_section(section), section=section,
                     hint=did_you_mean(section, list(SCHEMA)), unknown=True)


def _unknown_section(section: str) -> str:
    hint = did_you_mean(section, list(SCHEMA))
    return (f"unknown section [{section}]" + (f" (did you mean [{hint}]?)" if hint else "")
            + f" (known: {', '.join(SCHEMA)})")


def did_you_mean(word: str, known: list[str]) -> str | None:
    """The known key nearest to a mistyped one (``epoch`` → ``epochs``), or None."""
    import difflib

    hits = difflib.get_close_matches(word, known, n=1, cutoff=0.6)
    if not hits:
        hits = [k for k in known if k.lower() == word.lower().replace("-", "_")]
    return hits[0] if hits else None


def _migrate(values: dict[str, Any]) -> dict[str, Any]:
    """Settings files written before a change of the schema, read as what they meant.

    Hard mining used to be configured as ``mining.negative = "hard"`` (random negatives,
    hardest triplets kept); it is now the batch miner ``mining.batch = "hard"``.
    """
    mining = values.get("mining")
    if isinstance(mining, dict) and mining.get("negative") == "hard":
        values = {**values, "mining": {**mining, "negative": "random"}}
        values["mining"].setdefault("batch", "hard")
    return values


def flatten_part_keys(section: str, table: dict[str, Any]) -> dict[str, Any]:
    """A section with its parts' own settings as ``<part>.<key>`` keys: a sub-table
    ``[loss.focal] alpha = 0.5`` (or ``focal.alpha = 0.5`` under ``[loss]``) reads as the key
    ``focal.alpha`` (src/siam_workbench/base/part.py: settings namespaced per part)."""
    fields = SCHEMA.get(section, {})
    if not any(isinstance(v, dict) and k not in fields for k, v in table.items()):
        return table
    out: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict) and key not in fields:
            for sub, v in value.items():
                out[f"{key}.{sub}"] = v
        else:
            out[key] = value
    return out


def parse_literal(text: str) -> Any:
    """Parse the right-hand side of ``--set key=value`` as TOML would (falls back to a string)."""
    import tomllib

    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


class Config:
    """A complete, validated configuration (defaults filled in)."""

    def __init__(self, values: dict[str, dict[str, Any]] | None = None) -> None:
        merged = {s: {k: copy.deepcopy(f.default) for k, f in fs.items()}
                  for s, fs in SCHEMA.items()}
        for section, table in _migrate(values or {}).items():
            if section not in SCHEMA:
                raise _unknown_section_error(section)
            if not isinstance(table, dict):
                raise SiamError(f"[{section}] must be a table", section=section)
            for key, value in flatten_part_keys(section, table).items():
                merged[section][key] = _coerce(section, key, value)
        self._check_relations(merged)
        self._values = merged

    @staticmethod
    def _check_relations(v: dict[str, dict[str, Any]]) -> None:
        if v["augment"]["scale_min"] > v["augment"]["scale_max"]:
            raise SiamError("augment.scale_min must be ≤ augment.scale_max", section="augment",
                            key="scale_min")
        if v["augment"]["pen_min_px"] > v["augment"]["pen_max_px"]:
            raise SiamError("augment.pen_min_px must be ≤ augment.pen_max_px", section="augment",
                            key="pen_min_px")
        # local: models imports torch, config must stay light
        from siam_workbench.model.backbones import MODELS

        if v["model"]["backbone"] not in MODELS:
            raise SiamError(f"model.backbone must be one of {', '.join(MODELS)}; "
                            f"got {v['model']['backbone']!r}", section="model", key="backbone")

    # Typed, read-only views of the sections (siam_workbench.project.sections): mypy knows
    # ``cfg.train.epochs`` is an int; a key a plug-in added reads by attribute at run time.
    def _view(self, section: str, kind: type[V]) -> V:
        views: dict[str, SectionView] = self.__dict__.setdefault("_views", {})
        view = views.get(section)
        if not isinstance(view, kind):
            view = views[section] = section_view(kind, self._values[section], section)
        return view

    @property
    def project(self) -> ProjectSection:
        return self._view("project", ProjectSection)

    @property
    def data(self) -> DataSection:
        return self._view("data", DataSection)

    @property
    def model(self) -> ModelSection:
        return self._view("model", ModelSection)

    @property
    def loss(self) -> LossSection:
        return self._view("loss", LossSection)

    @property
    def mining(self) -> MiningSection:
        return self._view("mining", MiningSection)

    @property
    def augment(self) -> AugmentSection:
        return self._view("augment", AugmentSection)

    @property
    def train(self) -> TrainSection:
        return self._view("train", TrainSection)

    if not TYPE_CHECKING:  # a section added to SCHEMA before its typed view exists
        def __getattr__(self, section: str) -> SectionView:
            if section.startswith("_") or section not in self.__dict__.get("_values", {}):
                raise AttributeError(section)
            return self._view(section, SectionView)

    def get(self, section: str, key: str) -> Any:
        """A value; a key declared after this config was built (a plug-in loaded later) reads
        as its default."""
        table = self._values[section]
        return table[key] if key in table else copy.deepcopy(SCHEMA[section][key].default)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return copy.deepcopy(self._values)

    def replace(self, updates: dict[str, dict[str, Any]]) -> Config:
        values = self.to_dict()
        for section, table in updates.items():
            values.setdefault(section, {}).update(table)
        return Config(values)

    def with_overrides(self, assignments: Iterable[str]) -> Config:
        """Apply CLI ``--set section.key=value`` strings."""
        updates: dict[str, dict[str, Any]] = {}
        for item in assignments:
            if "=" not in item or "." not in item.split("=", 1)[0]:
                raise SiamError(f"--set expects section.key=value, got {item!r}")
            lhs, rhs = item.split("=", 1)
            section, key = lhs.strip().split(".", 1)
            updates.setdefault(section, {})[key] = parse_literal(rhs.strip())
        return self.replace(updates)

    def differences(self, other: Config) -> Iterator[tuple[str, Any, Any]]:
        for section, fields in SCHEMA.items():
            for key in fields:
                a, b = self.get(section, key), other.get(section, key)
                if a != b:
                    yield f"{section}.{key}", a, b

    def to_toml(self) -> str:
        return dump_toml(self._values)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Config) and self._values == other._values

    def __repr__(self) -> str:
        return f"Config({self._values!r})"


def paper_defaults() -> dict[str, dict[str, Any]]:
    """The paper's settings (§3–§5; ``resources/defaults/paper.toml``) for the
    one-click
    button and ``siam train --preset paper``: the training sections only, data untouched."""
    from siam_workbench.project.recipe import preset_sections

    return preset_sections("paper")


def dump_toml(values: dict[str, dict[str, Any]]) -> str:
    """Write a two-level table as TOML (tomllib only reads). tomlkit escapes every control
    character (a ``\\r``, ``\\x07`` or ``\\x7f`` in a description round-trips) and refuses a
    value TOML cannot hold."""
    import tomlkit

    doc = tomlkit.document()
    for section, table in values.items():
        out = tomlkit.table()
        own: dict[str, Any] = {}
        for key, value in table.items():
            if not isinstance(value, (bool, int, float, str, list)):
                raise TypeError(f"cannot write {type(value).__name__} to TOML")
            part, dot, name = key.partition(".")
            if dot:  # a part's own setting ("soft-margin.alpha"): its [section.part] table
                own.setdefault(part, tomlkit.table())[name] = value
            else:
                out[key] = value
        for part, sub in own.items():
            out[part] = sub
        doc.add(section, out)
    return tomlkit.dumps(doc)


def new_project_config(alphabet: str | None = None, base: Any = None, preset: str = "recipe",
                       overrides: Sequence[str] = ()) -> Any:
    """The config ``siam new`` and the GUI's New Project write: the schema's defaults (the
    recipe) or the paper's preset, sized to the alphabet, then the user's ``--set``s.

    ``base`` is the folder a class-list path is relative to."""
    from siam_workbench.data.alphabets import resolve_alphabet
    from siam_workbench.project.recipe import preset_sections, sized

    config = Config()
    if alphabet:
        config = config.replace({"data": {"alphabet": alphabet}})
    classes = resolve_alphabet(config.data.alphabet, base=base).classes
    config = config.replace(sized(classes))
    if preset != "recipe":
        config = config.replace(preset_sections(preset))
    return config.with_overrides(overrides)
