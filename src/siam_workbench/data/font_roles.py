"""Which installed faces train, validate and test: named roles checked, empty roles filled by
the automatic split, one design group at a time (a family and the faces that draw the same
glyphs under other names). Above :mod:`siam_workbench.data.fonts` (discovery and coverage) and
:mod:`siam_workbench.data.font_checks` (symbol / ink checks, which render samples), so neither
of those imports this."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from siam_workbench.base.errors import SiamError
from siam_workbench.data.alphabets import alphabet_hash
from siam_workbench.data.cache import cache_dir
from siam_workbench.data.font_checks import analyse_faces
from siam_workbench.data.font_groups import family_groups, merge_groups
from siam_workbench.data.fonts import (
    ROLES,
    FontFace,
    coverage,
    coverage_fraction,
    is_glob,
    match_faces,
)

log = logging.getLogger("siam_workbench.data.fonts")


def _spread(n: int, holdouts: Sequence[str]) -> list[str]:
    """Deterministic role per unit: mostly train, each hold-out role ~15 % (at least one unit),
    hold-out units spread evenly over the sorted list so no alphabetical block lands in one role.
    """
    per = max(1, round(0.15 * n))
    k = per * len(holdouts)
    roles = ["train"] * n
    for j in range(k):
        roles[int((j + 0.5) * n / k)] = holdouts[j % len(holdouts)]
    return roles


def _auto_assign(faces: list[FontFace], missing: list[str], group_of: dict[FontFace, str],
                 min_coverage: float, n_classes: int) -> dict[str, list[FontFace]]:
    """Split ``faces`` (already filtered to eligible ones) over the ``missing`` roles, one design
    group at a time, groups in name order."""
    groups: dict[str, list[FontFace]] = {}
    for f in faces:
        groups.setdefault(group_of[f], []).append(f)
    units = [groups[k] for k in sorted(groups, key=lambda g: (g.casefold(), g))]
    out: dict[str, list[FontFace]] = {r: [] for r in missing}
    if "train" in missing:
        holdouts = [r for r in missing if r != "train"]
        if len(units) < 1 + len(holdouts):
            raise SiamError(
                f"automatic font split needs at least {1 + len(holdouts)} font families (design "
                f"groups) covering ≥ {min_coverage:.0%} of the {n_classes}-class alphabet, found "
                f"{len(units)} ({', '.join(sorted(groups)) or 'none'}); install fonts, add "
                "data.font_dirs, lower data.min_coverage or name data.*_fonts")
        assignment = _spread(len(units), holdouts) if holdouts else ["train"] * len(units)
    else:
        if len(units) < len(missing):
            raise SiamError(
                f"data.{missing[0]}_fonts is empty and only {len(units)} unused font "
                f"famil{'y' if len(units) == 1 else 'ies'} (design groups) covering "
                f"≥ {min_coverage:.0%} of the alphabet remain to fill {', '.join(missing)}; "
                "name those fonts explicitly")
        assignment = [missing[i % len(missing)] for i in range(len(units))]
    for unit, role in zip(units, assignment, strict=True):
        out[role].extend(unit)
    return out


_ANALYSIS_MEMO: dict[tuple, Any] = {}


def font_analysis(faces: Sequence[FontFace], classes: list[str]) -> Any:
    """:func:`siam_workbench.data.font_checks.analyse_faces` for ``faces`` against an alphabet: per
    face the symbol-table / name / ink checks, and the pairs of faces drawing the same glyphs.
    Memoised per face set, file versions and alphabet (the Data tab asks again on every role
    edit); rendered samples are cached on disk, so a new process pays only the reading."""
    faces = list(faces)
    stamp = []
    for f in faces:
        try:
            st = os.stat(f.path)
            stamp.append((str(f.path), f.index, st.st_mtime_ns, st.st_size))
        except OSError:
            stamp.append((str(f.path), f.index, 0, 0))
    key = (tuple(stamp), alphabet_hash(classes), str(cache_dir()))
    hit = _ANALYSIS_MEMO.get(key)
    if hit is not None:
        return hit
    disk = _analysis_cache_path(key)
    result = _read_analysis(disk, faces)
    if result is None:
        cov = (np.stack([coverage(f, classes) for f in faces]) if faces
               else np.zeros((0, len(classes)), dtype=bool))
        result = analyse_faces(faces, cov, classes)
        _write_analysis(disk, faces, result)
    if len(_ANALYSIS_MEMO) >= 4:
        _ANALYSIS_MEMO.pop(next(iter(_ANALYSIS_MEMO)))
    _ANALYSIS_MEMO[key] = result
    return result


#: Bump when the checks' thresholds or features change: cached verdicts are then recomputed.
_ANALYSIS_VERSION = "analysis1"


def _analysis_cache_path(key: tuple) -> Path:
    """On disk beside the samples: a new process (the next launch) reads the verdicts instead of
    recomputing every face's ink features (0.4 s of CPU for 80 faces at start-up)."""
    from siam_workbench.data.font_checks import _CACHE_VERSION

    digest = hashlib.sha1(f"{_ANALYSIS_VERSION}|{_CACHE_VERSION}|{key!r}".encode()).hexdigest()
    return cache_dir() / "analysis" / f"{digest}.json"


def _read_analysis(path: Path, faces: list[FontFace]) -> Any:
    from siam_workbench.data.font_checks import FaceCheck, FontAnalysis

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if len(data["checks"]) != len(faces):
            return None
        checks = {f: FaceCheck(reason=str(c[0]), kind=str(c[1]),
                               score=None if c[2] is None else float(c[2]), compared=int(c[3]))
                  for f, c in zip(faces, data["checks"], strict=True)}
        clones = [(faces[int(i)], faces[int(j)], float(v)) for i, j, v in data["clones"]]
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None  # missing or unreadable: recomputed
    return FontAnalysis(checks=checks, clones=clones)


def _write_analysis(path: Path, faces: list[FontFace], result: Any) -> None:
    from siam_workbench.base.atomic import write_text_atomic

    index = {f: i for i, f in enumerate(faces)}
    try:
        data = {"checks": [[c.reason, c.kind, c.score, c.compared]
                           for c in (result.checks[f] for f in faces)],
                "clones": [[index[a], index[b], s] for a, b, s in result.clones]}
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, json.dumps(data))
    except (OSError, KeyError, TypeError, ValueError):
        pass  # best effort, like the samples cache


def face_checks(faces: Sequence[FontFace], classes: list[str]) -> dict[FontFace, Any]:
    """Per face a :class:`siam_workbench.data.font_checks.FaceCheck`: is it a symbol font, is its
    ink unlike the other faces'? (``.ok``, ``.reason``)."""
    return font_analysis(faces, classes).checks


def design_groups(faces: Sequence[FontFace], classes: list[str]) -> dict[FontFace, str]:
    """Face → design group for this alphabet: the family groups of the names
    (:func:`siam_workbench.data.font_groups.family_groups`) joined wherever two faces draw the same
    glyphs
    of the alphabet (:func:`siam_workbench.data.font_checks.ink_clones`). The automatic split's
    unit."""
    return merge_groups(family_groups(faces), font_analysis(faces, classes).clones)


def resolve_font_roles(data_cfg: Any, faces: list[FontFace], classes: list[str], *,
                       warn: Callable[[str], None] | None = None) -> dict[str, list[FontFace]]:
    """Faces for ``train`` / ``val`` / ``test``.

    Named roles: each spec of ``data_cfg.<role>_fonts`` must match at least one face; a glob keeps
    only faces covering ≥ ``min_coverage`` of the alphabet that pass the symbol / ink checks
    (:func:`face_checks`), an exact name keeps its face unless it covers nothing (a named face
    that fails the checks keeps its role, with a warning). A face in two roles, or one family
    group (:func:`siam_workbench.data.font_groups.family_groups`: ``NanumSquareR`` in train,
    ``NanumSquareRoundR`` in val) in two roles, raises :class:`SiamError` naming both faces and
    roles; named faces in different roles that draw the same glyphs under unrelated names
    (:func:`design_groups`) get a warning. Roles left empty are filled automatically, one design
    group at a time, from eligible faces: covering ≥ ``min_coverage``, passing the checks, of a
    design group no named role uses. ``warn`` receives each warning line (default: this
    module's logger, which prints to stderr when nothing else is configured).
    """
    say = warn if warn is not None else log.warning
    min_cov = float(getattr(data_cfg, "min_coverage", 0.0))
    frac_cache: dict[FontFace, float] = {}

    def frac(face: FontFace) -> float:
        if face not in frac_cache:
            frac_cache[face] = coverage_fraction(face, classes)
        return frac_cache[face]

    faces = sorted(faces, key=FontFace.sort_key)
    group_of = family_groups(faces)
    analysis = font_analysis(faces, classes)
    checks = analysis.checks
    design_of = design_groups(faces, classes)
    specs = {r: list(getattr(data_cfg, f"{r}_fonts", []) or []) for r in ROLES}
    roles: dict[str, list[FontFace]] = {}
    for role in ROLES:
        if not specs[role]:
            continue
        chosen: dict[FontFace, None] = {}
        for spec in specs[role]:
            hits = match_faces(spec, faces)
            if not hits:
                raise SiamError(f"data.{role}_fonts: {spec!r} matches no font face "
                                f"(siam fonts lists them)")
            if is_glob(spec):
                hits = [f for f in hits if frac(f) >= min_cov and frac(f) > 0]
                if not hits:
                    raise SiamError(f"data.{role}_fonts: {spec!r} matches no font face covering "
                                    f"≥ {min_cov:.0%} of the alphabet")
                odd = [f for f in hits if not checks[f].ok]
                for f in odd:
                    say(f"data.{role}_fonts: {spec!r} leaves out {f.id} ({f.full_name}): "
                        f"{checks[f].reason}")
                hits = [f for f in hits if checks[f].ok]
                if not hits:
                    raise SiamError(f"data.{role}_fonts: {spec!r} matches only faces whose "
                                    "glyphs are not the characters (siam fonts says why)")
            else:
                for f in hits:
                    if frac(f) == 0:
                        raise SiamError(f"data.{role}_fonts: {f.id} ({f.full_name}) has no "
                                        "glyph of the alphabet", f.path)
                    if not checks[f].ok:
                        say(f"warning: data.{role}_fonts names {f.id} ({f.full_name}), "
                            f"{checks[f].reason}; it is used because it is named")
            for f in hits:
                chosen[f] = None
        roles[role] = sorted(chosen, key=FontFace.sort_key)
    owner: dict[FontFace, str] = {}
    for role, fs in roles.items():
        for f in fs:
            if f in owner:
                raise SiamError(f"font face {f.id} ({f.full_name}) is in both "
                                f"data.{owner[f]}_fonts and data.{role}_fonts; roles must be "
                                "disjoint")
            owner[f] = role
    group_owner: dict[str, FontFace] = {}
    for f, role in owner.items():
        g = group_of[f]
        first = group_owner.setdefault(g, f)
        if owner[first] != role:
            raise SiamError(
                f"font faces {first.id} ({first.family}, data.{owner[first]}_fonts) and {f.id} "
                f"({f.family}, data.{role}_fonts) are one design family ({g}); a family may "
                "serve only one role — move one of them (siam fonts shows the families)")
    for a, b, sim in analysis.clones:
        if a in owner and b in owner and owner[a] != owner[b]:
            say(f"warning: {a.id} ({a.family}, data.{owner[a]}_fonts) and {b.id} ({b.family}, "
                f"data.{owner[b]}_fonts) draw the same glyphs of this alphabet (similarity "
                f"{sim:.3f}): {owner[b]} is not unseen for those faces")
    used_designs = {design_of[f] for f in owner}
    missing = [r for r in ROLES if r not in roles]
    if missing:
        eligible = [f for f in faces
                    if f not in owner and design_of[f] not in used_designs
                    and frac(f) >= min_cov and frac(f) > 0 and checks[f].ok]
        if not eligible:
            raise SiamError(f"no unused font face covers ≥ {min_cov:.0%} of the "
                            f"{len(classes)}-class alphabet to fill data."
                            f"{'/'.join(missing)}_fonts; install fonts, add data.font_dirs or "
                            "lower data.min_coverage")
        auto = _auto_assign(eligible, missing, design_of, min_cov, len(classes))
        for role in missing:
            roles[role] = sorted(auto[role], key=FontFace.sort_key)
    return {r: roles[r] for r in ROLES}
