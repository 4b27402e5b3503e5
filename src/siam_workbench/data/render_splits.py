"""Render a project's train / val / test glyph files from its ``[data]`` settings: resolve the
alphabet and the font roles, then :func:`siam_workbench.data.render.render_dataset` each role,
keeping the user's exclusions across a re-render. Separate from the rasteriser because the
font-role checks render samples themselves (:mod:`siam_workbench.data.font_checks`)."""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path
from typing import Any

from siam_workbench.base.atomic import sweep_stale
from siam_workbench.base.errors import Cancelled, SiamError
from siam_workbench.data.alphabets import resolve_alphabet
from siam_workbench.data.distort import parse_distort_spec
from siam_workbench.data.font_roles import resolve_font_roles
from siam_workbench.data.fonts import discover_fonts
from siam_workbench.data.framing import size_mode_of
from siam_workbench.data.glyphs import apply_exclusion_keys, exclusion_keys, journal_path
from siam_workbench.data.render import Progress, RenderReport, render_dataset
from siam_workbench.data.samples import refuse_render


def _carry_exclusions(old: Path, new: Path) -> int:
    """Re-apply the user's exclusions of ``old`` to its re-rendered ``new`` by (class, face,
    variant), so rendering again never silently brings back samples someone removed."""
    if not old.exists():
        return 0
    try:
        keys = exclusion_keys(old)
    except SiamError:
        return 0  # an unreadable old file has no exclusions to keep
    return apply_exclusion_keys(new, keys)


def render_splits(
    project: Any,
    *,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    force: bool = False,
    workers: int | None = None,
    missing_only: bool = False,
) -> dict[str, RenderReport]:
    """Render a project's train, val and test files from its ``[data]`` settings.

    With ``missing_only`` (and no ``force``) the splits whose files exist are kept and only the
    others are rendered — a deleted val file comes back without re-rendering the training data.

    Train and val are clean renders, test gets ``data.test_distort`` × ``data.test_variants``.
    Every target is checked before any work so an existing file (without ``force``) fails fast;
    the three files replace their targets together only when all are complete (cancel or error
    leaves every existing file as it was). ``progress`` counts (face, class) pairs across all
    three splits.
    """

    refuse_render(project)  # a project made from imported samples never renders fonts
    data = project.config.data
    alphabet = resolve_alphabet(data.alphabet, base=project.root)
    test_spec = parse_distort_spec(data.test_distort)  # fail on a typo before rendering
    extra = [project.resolve(d) for d in data.font_dirs]
    faces = discover_fonts(extra=extra)
    roles = resolve_font_roles(data, faces, alphabet.classes)
    paths = project.output_dataset_paths()  # only inside the project folder
    if len({p.resolve() for p in paths.values()}) < len(paths):
        raise SiamError("data.train, data.val and data.test must be three different files",
                        project.file)
    if missing_only and not force:
        present = [p for p in paths.values() if p.exists()]
        if len(present) == len(paths):
            raise SiamError("every split is rendered already (use --force to replace them)",
                            present[0].parent)
        paths = {r: p for r, p in paths.items() if not p.exists()}
    for role, path in paths.items():
        if path.exists() and not force:
            raise SiamError(f"{role} file already exists (use --force to replace it)", path)
    for path in paths.values():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SiamError(f"cannot create folder ({exc.strerror or exc})", path.parent) from None
        sweep_stale(path)  # staged files of a render that was killed
    totals = {r: len(alphabet.classes) * len(roles[r]) for r in paths}
    grand = sum(totals.values())
    offset = 0
    reports: dict[str, RenderReport] = {}
    seed = int(getattr(project.config.train, "seed", 0))
    # All three files are staged beside their targets and renamed together at the end, so a
    # cancel or error in the test split never leaves a new train file next to an old test file.
    staged = {r: p.with_name(f".{p.name}.{os.getpid()}.staged") for r, p in paths.items()}
    try:
        for role in paths:
            base = offset

            def sub(done: int, _total: int, base: int = base) -> None:
                if progress is not None:
                    progress(base + done, grand)

            distorted = role == "test" and not test_spec.is_identity
            reports[role] = render_dataset(
                alphabet.classes, roles[role], staged[role], size=data.image_size,
                margin=data.margin, mode=size_mode_of(data),
                alphabet_name=alphabet.name,
                distort=test_spec.to_string() if distorted else None,
                variants=data.test_variants if distorted else 1,
                seed=seed, workers=workers, force=True, progress=sub, cancel=cancel,
                origin={"project": str(project.root), "split": role})
            offset += totals[role]
        for role, path in paths.items():
            if path.exists() and not force:  # appeared while rendering: keep it
                raise SiamError(f"{role} file already exists (use --force to replace it)", path)
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        for role, path in paths.items():
            reports[role].kept_exclusions = _carry_exclusions(path, staged[role])
        for role, path in paths.items():
            os.replace(staged[role], path)
            journal_path(path).unlink(missing_ok=True)  # exclusions of the replaced file
            reports[role].path = path
    finally:
        for tmp in staged.values():
            with contextlib.suppress(OSError):
                tmp.unlink()
    return reports
