"""``siam alphabets | fonts | render | import | inspect``: the data side of the CLI.

Every command mirrors an action of the Data tab, so a dataset built in the GUI can be rebuilt
in a script and the other way round. Outputs are written atomically and never replace an
existing file without ``--force``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from siam_workbench.base.errors import SiamError
from siam_workbench.cli import cancel_on_signals
from siam_workbench.data.framing import FIT, size_mode_of

_ROLES = ("train", "val", "test")
_SHEET_MAX_PIXELS = 100_000_000


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("alphabets", help="list the named alphabets",
                       description="List the built-in alphabets with their size. A custom "
                       "alphabet is a UTF-8 file: one class per line, or one line of characters.")
    p.add_argument("--json", action="store_true", help="print JSON on stdout")
    p.set_defaults(handler=cmd_alphabets)

    p = sub.add_parser("fonts", help="list font faces and their coverage of an alphabet",
                       description="List installed font faces (fontconfig and the usual font "
                       "folders) plus any given files or folders, with the share of the "
                       "alphabet each face can draw, the design family each belongs to (a "
                       "family serves one role only), the files dropped as other formats of a "
                       "listed face, and the faces whose glyphs are not the characters (symbol "
                       "fonts, ink unlike the other faces'), which automatic roles leave out. "
                       "With --project: the alphabet, font folders and roles of that project. "
                       "Coverage and the glyph check are cached, so repeated calls are fast.")
    p.add_argument("--alphabet", default=None,
                   help="named alphabet or class-list file (default: the project's, else "
                   "hangul-2350)")
    p.add_argument("--project", type=Path, default=None, metavar="DIR",
                   help="show this project's font roles (and use its alphabet and font_dirs)")
    p.add_argument("--min-coverage", type=float, default=0.0, metavar="X",
                   help="only list faces covering at least this share (0–1) of the alphabet")
    p.add_argument("--fonts", nargs="+", default=[], metavar="PATH",
                   help="extra font files or folders")
    p.add_argument("--no-system", action="store_true",
                   help="list only the --fonts given, not the installed fonts")
    p.add_argument("--json", action="store_true", help="print JSON on stdout")
    p.set_defaults(handler=cmd_fonts)

    p = sub.add_parser("render", help="render glyphs of fonts into a glyph .h5 file",
                       description="Render every class of an alphabet in every given font face "
                       "into a glyph HDF5 file (ink 255 on 0, framed as --size-mode says; "
                       "with --project as the project frames its data). With --project and no "
                       "--out, render the project's train, val and test files from its "
                       "project.toml.",
                       epilog="examples:\n"
                       "  siam render --alphabet hangul-2350 --fonts 'Nanum*' --out train.h5\n"
                       "  siam render --chars classes.txt --fonts fonts/ --out t.h5 "
                       "--distort rotate=4,blur=0.6 --variants 3\n"
                       "  siam render --project projects/hangul --font-role val --out v.h5\n"
                       "  siam render --project projects/hangul --force",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group()
    src.add_argument("--alphabet", help="named alphabet (siam alphabets) or class-list file")
    src.add_argument("--chars", type=Path, metavar="FILE", help="UTF-8 class-list file")
    p.add_argument("--fonts", nargs="+", metavar="PATH",
                   help="font files, folders, or installed faces by name / family / glob")
    p.add_argument("--font-role", choices=_ROLES,
                   help="use the project's fonts for this role (needs --project)")
    p.add_argument("--project", type=Path, metavar="DIR", help="project folder")
    p.add_argument("--out", type=Path, metavar="FILE.h5", help="output glyph file")
    p.add_argument("--size", type=int, help="image side in pixels (default 37, or the "
                   "project's data.image_size)")
    p.add_argument("--margin", type=int, help="empty border in pixels (default 2, or the "
                   "project's data.margin)")
    p.add_argument("--size-mode", choices=("fit", "em"), help="framing: fit = the ink box "
                   "fills the image, em = the em box does (default fit, or the project's "
                   "data.size_mode); recorded in the file, checked by every reader")
    p.add_argument("--distort", metavar="SPEC",
                   help="distortions, e.g. rotate=4,blur=0.6,noise=0.04,thicken=1")
    p.add_argument("--variants", type=int, default=1, metavar="K",
                   help="distorted copies per glyph (with --distort)")
    p.add_argument("--seed", type=int, default=0, help="seed of the distortions")
    p.add_argument("--workers", type=int, metavar="N", help="processes (default: all cores)")
    p.add_argument("--force", action="store_true", help="replace an existing output file")
    p.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    p.set_defaults(handler=cmd_render)

    p = sub.add_parser("import", help="import images, Omniglot or PHD08 into a glyph .h5 file",
                       description="Convert an existing collection into the glyph HDF5 schema. "
                       "Every image is normalised like rendered glyphs (ink 255), framed as "
                       "--size-mode says: fit centres each image's ink box and scales it to "
                       "fill; em takes the whole image as the em box (a drawing canvas or a "
                       "scan cut to a fixed cell), as the Draw tab frames drawings. With "
                       "--project the project's image size, margin and size mode are used.",
                       epilog="layouts:\n"
                       "  folder    SRC/<class>/<image> (any image format, either polarity)\n"
                       "  omniglot  SRC/<alphabet>/<characterNN>/<id>_<drawer>.png\n"
                       "  phd08     SRC/<syllable>.txt (or one such file)",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("kind", choices=("folder", "omniglot", "phd08"), help="source layout")
    p.add_argument("src", type=Path, help="source folder (or PHD08 file)")
    p.add_argument("--out", type=Path, required=True, metavar="FILE.h5", help="output file")
    p.add_argument("--size", type=int, help="image side in pixels (default 37, or the "
                   "project's data.image_size)")
    p.add_argument("--margin", type=int, help="empty border in pixels (default 2, or the "
                   "project's data.margin)")
    p.add_argument("--size-mode", choices=("fit", "em"), help="framing (default fit, or the "
                   "project's data.size_mode)")
    p.add_argument("--project", type=Path, metavar="DIR",
                   help="frame the images as this project does (data.image_size, data.margin, "
                   "data.size_mode)")
    p.add_argument("--alphabet", help="folder/phd08: take class order from this alphabet so "
                   "labels match rendered files (e.g. hangul-2350)")
    p.add_argument("--keep-frame", action="store_true",
                   help="omniglot: resize the whole frame instead of centring on the ink")
    p.add_argument("--map", metavar="NAME|FILE.tsv",
                   help="omniglot: name the classes by a shipped mapping (e.g. katakana) or a "
                   "TSV file) and keep only those")
    p.add_argument("--workers", type=int, metavar="N", help="processes (default: all cores)")
    p.add_argument("--force", action="store_true", help="replace an existing output file")
    p.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    p.set_defaults(handler=cmd_import)

    p = sub.add_parser("inspect", help="summarise a glyph .h5 file, optionally as a contact sheet",
                       description="Print classes, samples, sources and per-source counts of a "
                       "glyph file. --grid writes a PNG contact sheet: one row per class, one "
                       "cell per source (font face, drawer…), dark ink on a light background.")
    p.add_argument("file", type=Path, help="glyph .h5 file")
    p.add_argument("--json", action="store_true", help="print JSON on stdout")
    p.add_argument("--grid", type=Path, metavar="OUT.png", help="write a contact sheet")
    p.add_argument("--classes", type=int, default=16, metavar="N",
                   help="rows of the contact sheet (default 16)")
    p.add_argument("--offset", type=int, default=0, metavar="K",
                   help="start the contact sheet at class K (default 0)")
    p.add_argument("--faces", type=int, default=8, metavar="M",
                   help="columns (sources) of the contact sheet (default 8)")
    p.add_argument("--scale", type=int, default=2, help="pixel zoom of the sheet (default 2)")
    p.add_argument("--force", action="store_true", help="replace an existing PNG")
    p.set_defaults(handler=cmd_inspect)


# -- helpers ------------------------------------------------------------------------------------


def _progress(label: str, quiet: bool) -> tuple[Any, Any]:
    """A (callback, bar) pair; the bar draws on stderr when it is a terminal."""
    from siam_workbench.cli.progress import ProgressBar

    bar = ProgressBar(1, label)

    def update(done: int, total: int) -> None:
        if quiet:
            return
        bar.total = max(int(total), 1)
        bar.update(done, suffix=f"{done}/{total}")

    return update, bar


def _check_range(name: str, value: int | None, lo: int, hi: int) -> None:
    if value is not None and not lo <= value <= hi:
        raise SiamError(f"{name} must be in [{lo}, {hi}], got {value}")


def _load_alphabet(args: argparse.Namespace, project: Any | None) -> Any:
    from siam_workbench.data.alphabets import resolve_alphabet

    if args.chars is not None:
        path = args.chars.expanduser()
        if not path.exists():
            raise SiamError("class-list file not found", path)
        return resolve_alphabet(str(path.resolve()))
    if args.alphabet:
        return resolve_alphabet(args.alphabet, base=Path.cwd())
    if project is not None:
        return resolve_alphabet(project.config.data.alphabet, base=project.root)
    raise SiamError("give --alphabet NAME or --chars FILE (siam alphabets lists the names)")


def _alphabet_arg(args: argparse.Namespace, project: Any | None) -> str:
    """The alphabet as a command line would name it again from anywhere: a named alphabet,
    else the class list's absolute path (recorded so a reader can say how to re-make a file)."""
    from siam_workbench.data.alphabets import NAMED

    spec = str(args.chars) if args.chars is not None else args.alphabet
    base = Path.cwd()
    if spec is None and project is not None:
        spec, base = project.config.data.alphabet, project.root
    if spec is None or spec in NAMED:
        return spec or ""
    path = Path(spec).expanduser()
    return str((path if path.is_absolute() else base / path).resolve())


def faces_from_args(items: list[str], classes: list[str]) -> list[Any]:
    """Faces named on the command line: files, folders, or installed faces by name or glob.

    A file or exact name whose faces draw no class of the alphabet is an error; folders and
    globs silently drop such faces but must keep at least one.
    """
    from siam_workbench.data.fonts import FontFace, coverage_fraction, discover_fonts, match_faces

    chosen: dict[Any, None] = {}
    system: list[Any] | None = None
    for item in items:
        path = Path(item).expanduser()
        if path.exists():
            faces = discover_fonts(extra=[path], system=False)
            if not faces:
                raise SiamError("no font files (.ttf .otf .ttc .otc .woff .woff2) in folder", path)
            kind = "folder" if path.is_dir() else "file"
        else:
            if system is None:
                system = discover_fonts()
            faces = match_faces(item, system)
            if not faces:
                raise SiamError(f"{item!r} is neither a font file or folder nor the name of an "
                                "installed face (siam fonts lists them)")
            kind = "glob" if any(c in item for c in "*?[") else "name"
        covering = [f for f in faces if coverage_fraction(f, classes) > 0]
        if not covering:
            where = path if kind in ("file", "folder") else None
            what = faces[0].id if len(faces) == 1 else f"{len(faces)} faces"
            raise SiamError(f"{what}: no glyph of the {len(classes)}-class alphabet", where)
        for f in covering:
            chosen[f] = None
    return sorted(chosen, key=FontFace.sort_key)


def _print_report(rep: Any, as_json: bool, label: str = "") -> None:
    if as_json:
        return
    missing = {k: v for k, v in rep.missing_per_face.items() if v}
    line = (f"{label}{rep.path}: {rep.samples} glyphs, {rep.classes} classes, {rep.faces} "
            f"faces in {rep.seconds:.1f}s ({rep.glyphs_per_s:.0f} glyphs/s)")
    print(line)
    if missing:
        worst = sorted(missing.items(), key=lambda kv: -kv[1])[:5]
        print("  missing glyphs: " + ", ".join(f"{k} {v}" for k, v in worst)
              + (" …" if len(missing) > 5 else ""))


# -- commands -----------------------------------------------------------------------------------


def cmd_alphabets(args: argparse.Namespace) -> int:
    from siam_workbench.data.alphabets import NAMED, named_alphabet

    rows = [{"name": n, "classes": len(named_alphabet(n)), "description": d}
            for n, d in NAMED.items()]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return 0
    for r in rows:
        print(f"{r['name']:<14} {r['classes']:>6}  {r['description']}")
    return 0


def cmd_fonts(args: argparse.Namespace) -> int:
    from siam_workbench.data.alphabets import resolve_alphabet
    from siam_workbench.data.font_groups import family_groups
    from siam_workbench.data.font_roles import design_groups, font_analysis, resolve_font_roles
    from siam_workbench.data.fonts import coverage, discover_fonts, missing_script_hint

    if not 0.0 <= args.min_coverage <= 1.0:
        raise SiamError(f"--min-coverage must be in [0, 1], got {args.min_coverage}")
    project = None
    extra = list(args.fonts)
    if args.project is not None:
        from siam_workbench.project.project import load_project

        project = load_project(args.project)
        extra += [project.resolve(d) for d in project.config.data.font_dirs]
    if args.alphabet:
        alphabet = resolve_alphabet(args.alphabet, base=Path.cwd())
    elif project is not None:
        alphabet = resolve_alphabet(project.config.data.alphabet, base=project.root)
    else:
        alphabet = resolve_alphabet("hangul-2350")
    faces = discover_fonts(extra=extra, system=not args.no_system)
    names = family_groups(faces)
    groups = design_groups(faces, alphabet.classes)
    analysis = font_analysis(faces, alphabet.classes)
    checks = analysis.checks
    role_of: dict[Any, str] = {}
    warnings: list[str] = []
    if project is not None:
        resolved = resolve_font_roles(project.config.data, faces, alphabet.classes,
                                      warn=warnings.append)
        role_of = {f: r for r, fs in resolved.items() for f in fs}
    rows = []
    for f in faces:
        cov = coverage(f, alphabet.classes)
        frac = float(cov.mean()) if cov.size else 0.0
        if frac < args.min_coverage:
            continue
        rows.append({"id": f.id, "family": f.family, "style": f.style, "full_name": f.full_name,
                     "file": str(f.path), "index": f.index, "coverage": round(frac, 4),
                     "covered": int(cov.sum()), "group": groups[f],
                     "problem": checks[f].reason, "duplicates": [str(p) for p in f.duplicates],
                     **({"role": role_of.get(f, "")} if project is not None else {})})
    listed = {r["id"] for r in rows}
    clones = [{"a": a.id, "b": b.id, "similarity": round(sim, 4)}
              for a, b, sim in analysis.clones
              if names[a] != names[b] and a.id in listed and b.id in listed]
    if args.json:
        print(json.dumps({"alphabet": alphabet.name, "classes": len(alphabet), "faces": rows,
                          "same_glyphs": clones, "warnings": warnings},
                         ensure_ascii=False, indent=1))
        return 0
    n_groups = len({r["group"] for r in rows})
    print(f"{len(rows)} face(s) in {n_groups} design famil{'y' if n_groups == 1 else 'ies'}; "
          f"coverage of {alphabet.name} ({len(alphabet)} classes)")
    hint = missing_script_hint(alphabet.classes, sum(r["coverage"] > 0 for r in rows))
    if hint:
        print(hint, file=sys.stderr)
    for r in rows:
        mark = "!" if r["problem"] else " "
        role = f"{r.get('role') or '-':<6}" if project is not None else ""
        print(f"{mark}{100 * r['coverage']:6.1f}%  {role}{r['family'][:28]:<28} "
              f"{r['style'][:16]:<16} {r['group'][:20]:<20} {r['file']}#{r['index']}")
    dups = [(p, r) for r in rows for p in r["duplicates"]]
    if dups:
        print(f"dropped {len(dups)} duplicate file(s): other copies or formats of a face "
              "listed above")
        for p, r in dups:
            print(f"  {p}  (same face as {r['id']})")
    if clones:
        joined: dict[str, set[str]] = {}
        low: dict[str, float] = {}
        for a, b, sim in analysis.clones:
            if names[a] != names[b] and a.id in listed and b.id in listed:
                joined.setdefault(groups[a], set()).update((names[a], names[b]))
                low[groups[a]] = min(low.get(groups[a], 1.0), sim)
        print(f"{len(joined)} famil{'y draws' if len(joined) == 1 else 'ies draw'} the same "
              f"glyphs of {alphabet.name} under unrelated names (one family for the split):")
        for g in sorted(joined):
            print(f"  {g}: {', '.join(sorted(joined[g]))}  (similarity ≥ {low[g]:.3f})")
    odd = [r for r in rows if r["problem"]]
    if odd:
        print(f"{len(odd)} face(s) marked ! are left out of automatic roles (their glyphs are "
              "not the characters):")
        for r in odd:
            print(f"  {r['id']} ({r['full_name']}): {r['problem']}")
    for w in warnings:
        print(w, file=sys.stderr)
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    from siam_workbench.data.render import render_dataset
    from siam_workbench.data.render_splits import render_splits

    _check_range("--size", args.size, 8, 1024)
    _check_range("--margin", args.margin, 0, 64)
    _check_range("--variants", args.variants, 1, 1000)
    _check_range("--workers", args.workers, 1, 1024)
    project = None
    if args.project is not None:
        from siam_workbench.project.project import load_project

        project = load_project(args.project)
    if project is not None and args.out is None and not args.font_role and not args.fonts:
        extra = [n for n, v in (("--alphabet", args.alphabet), ("--chars", args.chars),
                                ("--size", args.size), ("--margin", args.margin),
                                ("--size-mode", args.size_mode),
                                ("--distort", args.distort)) if v is not None]
        if extra or args.variants != 1:
            raise SiamError(f"{', '.join(extra) or '--variants'}: rendering a project's splits "
                            "takes these from its project.toml (or give --out to render one file)")
        update, bar = _progress("render", args.json)
        try:
            with cancel_on_signals() as cancel:
                reports = render_splits(project, progress=update, force=args.force,
                                        missing_only=True, workers=args.workers, cancel=cancel)
        finally:
            bar.close()
        if args.json:
            print(json.dumps({k: r.to_dict() for k, r in reports.items()}, ensure_ascii=False))
        else:
            for role, rep in reports.items():
                _print_report(rep, False, label=f"{role}: ")
        return 0
    if args.out is None:
        raise SiamError("--out FILE.h5 is required (or --project DIR alone to render all "
                        "splits)")
    alphabet = _load_alphabet(args, project)
    if args.fonts and args.font_role:
        raise SiamError("give either --fonts or --font-role, not both")
    if args.fonts:
        faces = faces_from_args(args.fonts, alphabet.classes)
    elif args.font_role:
        if project is None:
            raise SiamError("--font-role needs --project DIR")
        from siam_workbench.data.font_roles import resolve_font_roles
        from siam_workbench.data.fonts import discover_fonts

        data = project.config.data
        found = discover_fonts(extra=[project.resolve(d) for d in data.font_dirs])
        faces = resolve_font_roles(data, found, alphabet.classes)[args.font_role]
    else:
        raise SiamError("give --fonts PATH… or --font-role ROLE --project DIR")
    size = args.size if args.size is not None else (
        project.config.data.image_size if project is not None else 37)
    margin = args.margin if args.margin is not None else (
        project.config.data.margin if project is not None else 2)
    mode = args.size_mode or (size_mode_of(project.config.data)
                              if project is not None else FIT)
    if args.font_role and project is not None:
        origin: dict[str, Any] = {"project": str(project.root.resolve()),
                                  "font_role": args.font_role}
    else:
        origin = {"alphabet_arg": _alphabet_arg(args, project)}
    update, bar = _progress("render", args.json)
    try:
        with cancel_on_signals() as cancel:
            rep = render_dataset(alphabet.classes, faces, args.out, size=size, margin=margin,
                                 mode=mode, alphabet_name=alphabet.name, distort=args.distort,
                                 variants=args.variants, seed=args.seed, workers=args.workers,
                                 force=args.force, progress=update, cancel=cancel,
                                 origin=origin)
    finally:
        bar.close()
    if args.json:
        print(json.dumps(rep.to_dict(), ensure_ascii=False))
    else:
        _print_report(rep, False)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    _check_range("--size", args.size, 8, 1024)
    _check_range("--margin", args.margin, 0, 64)
    _check_range("--workers", args.workers, 1, 1024)
    data = None
    if args.project is not None:
        from siam_workbench.project.project import load_project

        data = load_project(args.project).config.data
    if args.size is None:
        args.size = int(data.image_size) if data is not None else 37
    if args.margin is None:
        args.margin = int(data.margin) if data is not None else 2
    if args.size_mode is None:
        args.size_mode = size_mode_of(data) if data is not None else FIT
    if args.keep_frame and args.size_mode == "em":
        raise SiamError("--keep-frame resizes the whole frame as it is; em framing (the image "
                        "is the em box) is what to use for a project: drop --keep-frame")
    if 2 * args.margin >= args.size - 1:
        raise SiamError(f"--margin {args.margin} leaves no room in a {args.size}-pixel image")
    if args.keep_frame and args.kind != "omniglot":
        raise SiamError("--keep-frame applies to omniglot only")
    if getattr(args, "map", None) and args.kind != "omniglot":
        raise SiamError("--map applies to omniglot only")
    if args.alphabet and args.kind == "omniglot":
        raise SiamError("--alphabet applies to folder and phd08 imports only")
    update, bar = _progress(f"import {args.kind}", args.json)
    common: dict[str, Any] = {"margin": args.margin, "workers": args.workers,
                              "progress": update, "mode": args.size_mode}
    try:
        with cancel_on_signals() as cancel:
            rep = _run_import(args, dict(common, cancel=cancel))
    finally:
        bar.close()
    if args.json:
        print(json.dumps(rep.to_dict(), ensure_ascii=False))
    else:
        framed = "the whole frame" if args.keep_frame else f"{args.size_mode!r}"
        print(f"{rep.path}: {rep.samples} samples, {rep.classes} classes, {rep.sources} "
              f"source(s) in {rep.seconds:.1f}s, framed {framed} ({args.size}px, margin "
              f"{args.margin})")
        if rep.skipped:
            print(f"  skipped {len(rep.skipped)} blank image(s), e.g. {rep.skipped[0]}")
    return 0


def _run_import(args: argparse.Namespace, common: dict[str, Any]) -> Any:
    from siam_workbench.data import importers

    if args.kind == "folder":
        return importers.import_folder(args.src, args.out, args.size, args.force,
                                       alphabet=args.alphabet, **common)
    if args.kind == "omniglot":
        from siam_workbench.data.omniglot import read_mapping

        mapping = read_mapping(args.map) if getattr(args, "map", None) else None
        return importers.import_omniglot(args.src, args.out, args.size, args.force,
                                         crop=not args.keep_frame, mapping=mapping, **common)
    return importers.import_phd08(args.src, args.out, args.size, args.force,
                                  alphabet=args.alphabet, **common)


def contact_sheet(file: Path, classes: int = 16, faces: int = 8, offset: int = 0,
                  scale: int = 2) -> np.ndarray:
    """uint8 sheet: one row per class (first ``classes`` with samples from ``offset``), one
    column per source (first ``faces`` with samples); dark ink on light paper, grey gutters,
    an empty cell where a source lacks the class."""
    from siam_workbench.data.glyphs import GlyphFile

    with GlyphFile(file) as gf:
        present = np.zeros(gf.num_classes, bool)
        present[np.unique(gf.labels)] = True
        rows = [c for c in np.flatnonzero(present) if c >= offset][:classes]
        src_present = np.unique(gf.sources)
        cols = [int(s) for s in src_present[:faces]]
        if not rows or not cols:
            raise SiamError("no samples to show", file)
        first: dict[tuple[int, int], int] = {}
        wanted_rows, wanted_cols = set(rows), set(cols)
        for i, (lab, src) in enumerate(zip(gf.labels.tolist(), gf.sources.tolist(),
                                           strict=True)):
            if lab in wanted_rows and src in wanted_cols and (lab, src) not in first:
                first[(lab, src)] = i
        order = sorted(first.values())
        h = gf.image_size
        gap = 2
        tall = (len(rows) * (h + gap) + gap) * scale
        wide = (len(cols) * (h + gap) + gap) * scale
        if tall * wide > _SHEET_MAX_PIXELS:
            raise SiamError(f"the contact sheet would be {wide}×{tall} pixels, more than "
                            f"{_SHEET_MAX_PIXELS // 1_000_000} MP; lower --classes, --faces or "
                            "--scale", file)
        imgs = dict(zip(order, gf.images(np.array(order, np.int64)), strict=True))
    sheet = np.full((len(rows) * (h + gap) + gap, len(cols) * (h + gap) + gap), 160, np.uint8)
    for r, lab in enumerate(rows):
        for c, src in enumerate(cols):
            y, x = gap + r * (h + gap), gap + c * (h + gap)
            idx = first.get((int(lab), src))
            cell = np.full((h, h), 235, np.uint8) if idx is None else 255 - imgs[idx]
            sheet[y:y + h, x:x + h] = cell
    if scale > 1:
        sheet = np.repeat(np.repeat(sheet, scale, axis=0), scale, axis=1)
    return sheet


def cmd_inspect(args: argparse.Namespace) -> int:
    from siam_workbench.data.glyphs import read_info, scan

    info = read_info(args.file)
    info.update(scan(args.file))  # every image read once: checksums verified, blanks counted
    if args.grid is not None:
        _check_range("--classes", args.classes, 1, 10_000)
        _check_range("--faces", args.faces, 1, 10_000)
        _check_range("--scale", args.scale, 1, 16)
        from PIL import Image

        from siam_workbench.base.atomic import atomic_path

        sheet = contact_sheet(args.file, args.classes, args.faces, args.offset, args.scale)
        try:
            with atomic_path(args.grid, force=args.force) as tmp:
                Image.fromarray(sheet).save(tmp, format="PNG")
        except OSError as exc:
            raise SiamError(f"cannot write PNG ({exc.strerror or exc})", args.grid) from None
        info["grid"] = str(args.grid)
    if args.json:
        print(json.dumps(info, ensure_ascii=False, indent=1, default=str))
        return 0
    attrs = info.get("attrs", {})
    print(f"{info['path']}")
    print(f"  schema {attrs.get('schema', '?')}, images {info['image_size']}×"
          f"{info['image_size']}, alphabet {attrs.get('alphabet') or '?'}, "
          f"created {attrs.get('created', '?')}")
    print(f"  {info['samples']} samples, {info['classes']} classes "
          f"({info['min_per_class']}–{info['max_per_class']} per class), "
          f"{info['sources']} sources, {info['excluded']} excluded")
    print("  checksums verified" if info["checksummed"] else
          "  no checksums (written before they existed): corruption cannot be detected")
    if info["blank"]:
        print(f"  warning: {info['blank']} blank (all-zero) image(s), e.g. rows "
              f"{', '.join(map(str, info['blank_rows'][:5]))}: nothing to learn from; exclude "
              "them (siam exclude)", file=sys.stderr)
    render = attrs.get("render")
    if isinstance(render, dict) and render:
        keys = ("renderer", "importer", "size", "margin", "size_mode", "distort", "variants",
                "seed")
        brief = {k: render[k] for k in keys if k in render and render[k] not in ("", None)}
        if brief:
            print("  made with " + ", ".join(f"{k}={v}" for k, v in brief.items()))
    per = info["per_source"]
    if per:
        print("  per source:")
        width = min(40, max(len(k) for k in per))
        shown = list(per.items())
        for name, count in shown[:50]:
            print(f"    {name:<{width}} {count:>8}")
        if len(shown) > 50:
            print(f"    … {len(shown) - 50} more")
    if args.grid is not None:
        print(f"  contact sheet: {args.grid}")
    return 0

