"""``siam augment``: a picture of what ``[augment]`` does to a project's training glyphs — the
CLI twin of the Train tab's augmentation preview (both draw
:mod:`siam_workbench.train.augment_preview`).

The PNG has two parts: a few training glyphs, each clean (left of the rule) and as augmented
variants drawn exactly as training draws them; then the source cells and one row per
distortion alone at its configured strength. Row labels are printed on stdout as well.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from siam_workbench.base.errors import SiamError

DEFAULT_OUT = "augment-preview.png"  # inside the project folder unless --out says otherwise


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("augment", help="preview the augmentation on a project's glyphs",
                       description="Write a PNG of a project's training glyphs, each clean and "
                       "as augmented variants (as training draws them), and of each distortion "
                       "alone at its configured strength. The Train tab's preview panel shows "
                       "the same.",
                       epilog="examples:\n"
                       "  siam augment projects/quickstart\n"
                       "  siam augment projects/hangul-2350 --set augment.thicken_px=2 "
                       "--out thick.png --force",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("project", help="project folder (or its project.toml)")
    p.add_argument("--set", action="append", default=[], metavar="augment.KEY=VALUE",
                   help="override an [augment] setting, e.g. --set augment.rotation_deg=10 "
                   "(repeatable)")
    p.add_argument("--out", type=Path, metavar="FILE.png",
                   help=f"output PNG (default: {DEFAULT_OUT} in the project folder)")
    p.add_argument("--samples", type=int, default=4, metavar="N",
                   help="training glyphs to show (default 4)")
    p.add_argument("--variants", type=int, default=6, metavar="M",
                   help="augmented variants per glyph (default 6)")
    p.add_argument("--seed", type=int, default=0, metavar="S",
                   help="picks the glyphs and the random distortions (default 0)")
    p.add_argument("--scale", type=int, default=2, metavar="K",
                   help="pixel zoom of the picture (default 2)")
    p.add_argument("--force", action="store_true", help="replace an existing PNG")
    p.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    p.set_defaults(handler=cmd_augment)


def _check(name: str, value: int, lo: int, hi: int) -> None:
    if not lo <= value <= hi:
        raise SiamError(f"{name} must be between {lo} and {hi}, got {value}")


def _text_width(draw: Any, text: str, font: Any) -> int:
    left, _, right, _ = draw.textbbox((0, 0), text, font=font)
    return int(right - left)


def _row_label(i: int, classes: list[str]) -> str:
    """``glyph 2: f`` — the class name only where the default font can draw it (ASCII)."""
    name = classes[i] if i < len(classes) else ""
    if name and name.isascii() and name.isprintable():
        return f"glyph {i + 1}: {name}"
    return f"glyph {i + 1}"


def labelled_picture(preview: Any, scale: int) -> np.ndarray:
    """One uint8 picture: the mixed view, then the source row and each distortion alone, a
    label column on the left (plain ASCII: the default bitmap font has no Hangul or Greek)."""
    from PIL import Image, ImageDraw, ImageFont

    from siam_workbench.train import augment_preview as ap

    mixed = ap.tile(preview.mixed, scale, separator=True)
    ops = ap.tile(np.stack([preview.source] + [r.images for r in preview.operations]), scale)
    size = preview.mixed.shape[-1] * scale
    pitch = size + ap.GAP
    font = ImageFont.load_default(size=max(11, min(16, size // 3)))
    head = max(16, size // 3 + 6)
    labels_mixed = [_row_label(i, preview.classes) for i in range(preview.mixed.shape[0])]
    labels_ops = ["source"] + [r.operation.label + ("" if r.active else " (off)")
                               for r in preview.operations]
    state = {"on": "", "disabled": " - augmentation DISABLED (augment.enabled = false)",
             "inactive": " - every distortion is off"}[preview.state]
    titles = ["clean | as training draws them" + state, "each distortion alone, always applied"]
    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    label_w = 8 + max(_text_width(probe, t, font) for t in labels_mixed + labels_ops)
    width = label_w + max(mixed.shape[1], ops.shape[1],
                          *(_text_width(probe, t, font) + 4 for t in titles))
    height = head + mixed.shape[0] + head + ops.shape[0]
    canvas = Image.new("L", (width, height), 255)
    canvas.paste(Image.fromarray(mixed), (label_w, head))
    canvas.paste(Image.fromarray(ops), (label_w, 2 * head + mixed.shape[0]))
    draw = ImageDraw.Draw(canvas)
    draw.text((label_w, 2), titles[0], fill=0, font=font)
    draw.text((label_w, head + mixed.shape[0] + 2), titles[1], fill=0, font=font)
    for i, text in enumerate(labels_mixed):
        draw.text((4, head + ap.GAP + i * pitch + size // 2 - 6), text, fill=0, font=font)
    top = 2 * head + mixed.shape[0]
    for i, text in enumerate(labels_ops):
        draw.text((4, top + ap.GAP + i * pitch + size // 2 - 6), text, fill=0, font=font)
    return np.asarray(canvas)


def cmd_augment(args: argparse.Namespace) -> int:
    from PIL import Image

    from siam_workbench.base.atomic import atomic_path
    from siam_workbench.project.project import load_project
    from siam_workbench.train import augment_preview as ap

    _check("--samples", args.samples, 1, 64)
    _check("--variants", args.variants, 1, 64)
    _check("--scale", args.scale, 1, 16)
    _check("--seed", args.seed, 0, 2**31 - 1)
    for item in args.set:
        if not item.strip().startswith("augment."):
            raise SiamError(f"--set {item}: siam augment only takes augment.KEY=VALUE")
    project = load_project(args.project)
    config = project.config.with_overrides(args.set)
    out = args.out if args.out is not None else project.root / DEFAULT_OUT
    if out.exists() and not args.force:
        raise SiamError("already exists (use --force to replace it)", out)
    train = project.dataset_paths()["train"]
    glyphs, classes = ap.training_glyphs(train, args.samples, args.seed)
    preview = ap.build_preview(glyphs, config.augment, args.samples, args.variants,
                               args.seed, classes)
    picture = labelled_picture(preview, args.scale)
    try:
        with atomic_path(out, force=args.force) as tmp:
            Image.fromarray(picture).save(tmp, format="PNG")
    except OSError as exc:
        raise SiamError(f"cannot write PNG ({exc.strerror or exc})", out) from None
    summary = {"out": str(out), "state": preview.state, "train": str(train),
               "glyphs": preview.classes, "variants": args.variants, "seed": args.seed,
               "operations": [{"name": r.operation.name, "active": r.active,
                               "detail": r.detail} for r in preview.operations]}
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=1))
        return 0
    state = {"on": "", "disabled": "  (augmentation is disabled: augment.enabled = false)",
             "inactive": "  (every distortion is off: nothing changes)"}[preview.state]
    print(f"{out}{state}")
    print(f"  glyphs (rows 1–{len(preview.classes)}): {' '.join(preview.classes)}; "
          f"clean, then {args.variants} variants as training draws them")
    for r in preview.operations:
        print(f"  {r.operation.label:<14} {r.detail}")
    return 0
