"""The default training recipe, sized to the alphabet: what a project made with ``siam new`` (or
the GUI's New Project) trains unless the user says otherwise.

The recipe itself — semi-hard triplets on the unit sphere (α = 0.1) of P×K batches,
auto-probabilistic positives and auto-clustering negatives, the augmentation beyond the paper,
Adam at 0.003 with warm-up and cosine decay — is the schema's defaults (``Config()``;
``resources/defaults/recipe.toml`` states the same values and a test keeps them
equal). It is
what ``benchmarks/quality.py`` and ``benchmarks/alphabets.py`` measured best on 2 CPU cores
(docs/RESULTS.md). The paper's own settings stay one option away (``--preset paper``, the Train
tab's "Paper defaults"); on new alphabets they ended below pixel 1-NN (docs/RESULTS.md).

What depends on the alphabet is sized here from the number of classes C:

* **images** through the network: ``26,000·√C`` clamped to 100,000 … 2,400,000 — about a minute
  for 10 classes, 2 for 62, 12 for 2,350 and 24 for 11,172 on an idle 2-core CPU (~1,700
  images/s); more classes need more images, but far fewer per class;
* **P × K**: every class in the batch up to P = 128, and K samples each so that a batch holds
  at least 256 images (K = 4 above 128 classes, as for hangul-2350);
* **epochs × iterations**: 10 epochs (20 from 1,000 classes: the miners update at epoch ends and
  large alphabets need more of them), iterations to spend the images;
* **framing**: ``em`` (the font's em box is the frame) when the alphabet has classes that differ
  by size or position alone — upper / lower case pairs, small kana — since ``fit`` makes x and X
  the same image; ``fit`` otherwise.

η (auto-clustering pairs) is 0 = scaled to C when the run starts, γ, θ and w are the paper's.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence
from typing import Any

from siam_workbench.data.framing import EM, FIT

IMAGES_PER_CLASS_ROOT = 26_000  # images = this × √C, clamped below
MIN_IMAGES, MAX_IMAGES = 100_000, 2_400_000
MAX_P = 128
MIN_BATCH = 256
IDLE_IMAGES_PER_S = 1_700  # the 37×37 network on an idle 2-core CPU (README, Measured)


def budget_images(num_classes: int) -> int:
    """Images through the network for an alphabet of ``num_classes`` (see the module doc)."""
    c = max(int(num_classes), 2)
    return int(min(MAX_IMAGES, max(MIN_IMAGES, IMAGES_PER_CLASS_ROOT * math.sqrt(c))))


def needs_em(classes: Sequence[str]) -> bool:
    """Whether some classes differ only by size or position once each fills its image: a case
    pair (x / X, о / О) or a small form (ァ / ア)."""
    names = set(classes)
    for c in names:
        if len(c) == 1 and c != c.upper() and c.upper() in names:
            return True
        if len(c) == 1 and "SMALL" in unicodedata.name(c, "") and not c.islower():
            return True
    return False


def sized(classes: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The sections of a new project's config that depend on its alphabet."""
    c = max(len(classes), 2)
    p = min(c, MAX_P)
    k = 4 if c > MAX_P else min(32, max(8, math.ceil(MIN_BATCH / p)))
    epochs = 20 if c >= 1000 else 10
    iterations = max(10, math.ceil(budget_images(c) / (epochs * p * k)))
    return {
        "data": {"size_mode": EM if needs_em(classes) else FIT},
        "train": {"classes_per_batch": p, "samples_per_class": k, "epochs": epochs,
                  "iterations": iterations},
    }


def estimate_minutes(config: Any) -> float:
    """Idle-machine training minutes of a P×K config (epoch ends not counted)."""
    t = config.train
    images = t.epochs * t.iterations * (t.classes_per_batch * t.samples_per_class
                                        if t.batch_mode == "pk" else 3 * t.triplets)
    return images / IDLE_IMAGES_PER_S / 60.0


PRESETS = ("recipe", "paper")


def preset_sections(name: str) -> dict[str, dict[str, Any]]:
    """A settings preset's training sections
    (``resources/defaults/<name>.toml``)."""
    import tomllib

    import siam_workbench.resources
    from siam_workbench.base.errors import SiamError

    if name not in PRESETS:
        raise SiamError(f"unknown preset {name!r} (known: {', '.join(PRESETS)})")
    return tomllib.loads(siam_workbench.resources.read_text("defaults", f"{name}.toml"))
