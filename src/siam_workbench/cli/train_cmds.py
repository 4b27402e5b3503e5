"""``siam train | eval | query | export | runs | new``: the engine side of the CLI."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path
from typing import Any

from siam_workbench.base.errors import SiamError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a network on a project's data",
                       description="Train a Siamese network on a project's glyph files. Renders "
                       "the project's data first when it is missing. Ctrl-C stops cleanly and "
                       "leaves a resumable run.")
    p.add_argument("project", help="project folder (or its project.toml)")
    p.add_argument("--epochs", type=int, help="override train.epochs")
    p.add_argument("--iterations", type=int, help="override train.iterations (per epoch)")
    p.add_argument("--triplets", type=int, help="override train.triplets (per iteration)")
    p.add_argument("--run-dir", type=Path, help="where to write the run (default runs/<id>)")
    p.add_argument("--resume", type=Path, metavar="RUN", help="continue a stopped/killed run")
    p.add_argument("--finetune", type=Path, metavar="RUN",
                   help="a new run from RUN's weights on fonts + the --with files "
                   "(src/siam_workbench/train/finetune.py: RUN's settings, 2 epochs, 0.3 × its lr)")
    p.add_argument("--with", action="append", default=[], type=Path, dest="with_files",
                   metavar="FILE", help="labelled glyph file to fine-tune on (siam label)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), help="override train.device")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override any setting, e.g. --set mining.gamma=2 (repeatable)")
    p.add_argument("--preset", choices=("recipe", "paper"),
                   help="start from a shipped settings preset (resources/defaults/<name>.toml) "
                   "for the training sections: recipe = the measured default, paper = the paper's "
                   "settings (§3–§5); --set and the other options apply on top")
    p.add_argument("--no-render", action="store_true",
                   help="fail instead of rendering missing data")
    p.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    p.add_argument("--nproc", type=int, default=1, metavar="N",
                   help="train with N processes on this machine (torch.distributed, "
                   "DistributedDataParallel; gloo on the CPU, one GPU each on CUDA); the global "
                   "batch stays the configured one. Several machines: launch with torchrun "
                   "(README, Scale out)")
    p.set_defaults(handler=cmd_train)

    p = sub.add_parser("eval", help="nearest-center accuracy of a run on a glyph file",
                       description="Top-1 / top-5 nearest-center accuracy of a run on any glyph "
                       "HDF5 file (classes matched by name).")
    p.add_argument("run", type=Path, help="run folder (runs/<id>)")
    p.add_argument("--data", type=Path, help="glyph .h5 (default: the project file of --split)")
    p.add_argument("--split", choices=("test", "val", "train", "drawn"), default="test",
                   help="which of the project's files to evaluate on (default test)")
    p.add_argument("--checkpoint", choices=("best", "last"), default="last",
                   help="last (default): the weights training ended with; best: the epoch "
                   "that scored highest on val — chosen on val, so its val figure is "
                   "optimistic (the output says which was used)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="cpu")
    p.add_argument("--ignore-framing", action="store_true",
                   help="score a file framed otherwise than the run was trained (size mode, "
                   "margin) instead of refusing it; the output carries the mismatch")
    p.add_argument("--per-class", type=Path, metavar="CSV",
                   help="write per-class top-1 / top-5 and the most frequent wrong answer")
    p.add_argument("--confused", type=int, default=0, metavar="N",
                   help="list the N most-confused class pairs")
    p.add_argument("--no-record", action="store_true",
                   help="do not keep the result in the run's evaluations.json (Runs table)")
    p.add_argument("--json", action="store_true", help='print {"top1":…, "top5":…, "n":…}')
    from siam_workbench.cli.fewshot_cmds import add_episode_args

    add_episode_args(p)
    p.set_defaults(handler=cmd_eval)

    p = sub.add_parser("query", help="nearest classes of character images",
                       description="Classify images (PNG/JPEG, any size, dark or light ink).")
    p.add_argument("run", type=Path, help="run folder")
    p.add_argument("images", nargs="+", type=Path, help="image files")
    p.add_argument("--k", type=int, default=5, help="how many classes to list (default 5)")
    p.add_argument("--checkpoint", choices=("best", "last"), default="best")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_query)

    p = sub.add_parser("export", help="export a run for deployment (TorchScript or ONNX)",
                       description="Write the network, class centers and class list for use "
                       "without this package. torchscript (default): one file that loads with "
                       "torch.jit.load. onnx: a dynamic-batch model.onnx (outputs embedding and "
                       "distance to every class center; class list in its metadata); --out "
                       "X.onnx writes that file alone, any other --out a folder that adds "
                       "centers.npy, classes.json, meta.json and classify.py, a reference "
                       "classifier on onnxruntime alone (needs the onnx extra: "
                       "pip install 'siam-workbench[onnx]').")
    p.add_argument("run", type=Path)
    p.add_argument("--format", dest="fmt", choices=("torchscript", "onnx"),
                   default="torchscript", help="torchscript (default) or onnx")
    p.add_argument("--out", type=Path, required=True,
                   help="output .pt file (torchscript); .onnx file or folder (onnx)")
    p.add_argument("--checkpoint", choices=("best", "last"), default="best")
    p.add_argument("--force", action="store_true", help="replace an existing file or folder")
    p.set_defaults(handler=cmd_export)

    p = sub.add_parser("runs", help="list a project's runs",
                       description="List runs with status, epochs and best accuracy.")
    p.add_argument("project", type=Path)
    p.add_argument("--best", action="store_true",
                   help="print only the best run's folder (what the Draw tab loads)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_runs)

    p = sub.add_parser("run", help="delete, rename or annotate a run (the Runs tab)",
                       description="Manage one run folder.")
    rsub = p.add_subparsers(dest="run_command", required=True)
    q = rsub.add_parser("delete", help="delete a run folder")
    q.add_argument("run", type=Path)
    q.add_argument("--yes", action="store_true", help="do not ask")
    q.set_defaults(handler=cmd_run_delete)
    q = rsub.add_parser("rename", help="rename a run folder")
    q.add_argument("run", type=Path)
    q.add_argument("name")
    q.set_defaults(handler=cmd_run_rename)
    q = rsub.add_parser("note", help="show or set a run's notes")
    q.add_argument("run", type=Path)
    q.add_argument("text", nargs="?", help="new notes (omit to print them; '' clears)")
    q.set_defaults(handler=cmd_run_note)

    p = sub.add_parser("advise", help="what to change for the next run",
                       description="The Train tab's notices for a run: collapsed clusters, a "
                       "degenerate sampling distribution, a climbing or flat loss, memorised "
                       "faces, accuracy below pixel 1-NN — each with the setting to try.")
    p.add_argument("run", type=Path)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_advise)

    p = sub.add_parser("new", help="create a new project folder",
                       description="Create a project.toml (the GUI's New Project) with the "
                       "default recipe sized to the alphabet: P×K batch, epochs × iterations "
                       "for a few minutes of an idle 2-core CPU, framing "
                       "(siam_workbench.project.recipe).")
    p.add_argument("folder", type=Path)
    p.add_argument("--name", default="")
    p.add_argument("--alphabet", help="named alphabet (siam alphabets) or a UTF-8 class-list "
                   "file, one class a line (copied into the project)")
    p.add_argument("--preset", choices=("recipe", "paper"), default="recipe",
                   help="recipe (default): the measured default; paper: the paper's settings "
                   "(§3–§5: metric loss α = 10, independent triplets; slow on a CPU)")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    from siam_workbench.cli.samples_cmds import add_split_arguments

    add_split_arguments(p, new=True)  # --samples FILE|DIR … --split --seed --group-by
    p.set_defaults(handler=cmd_new)


def _check_positive(name: str, value: int | None) -> None:
    if value is not None and value < 1:
        raise SiamError(f"{name} must be ≥ 1, got {value}")


def cmd_train(args: argparse.Namespace) -> int:
    from siam_workbench.project.project import load_project

    project = load_project(args.project)
    for name in ("epochs", "iterations", "triplets", "nproc"):
        _check_positive(f"--{name}", getattr(args, name))
    config = project.config
    if getattr(args, "preset", None):
        from siam_workbench.project.recipe import preset_sections

        config = config.replace(preset_sections(args.preset))
    config = config.with_overrides(args.set)
    train_over: dict[str, Any] = {k: v for k, v in (("epochs", args.epochs),
                                                    ("iterations", args.iterations),
                                                    ("triplets", args.triplets),
                                                    ("device", args.device)) if v is not None}
    if train_over:
        config = config.replace({"train": train_over})
    if args.resume is None and not project.dataset_paths()["train"].exists():
        from siam_workbench.train.distributed import env_world_size

        if args.no_render or env_world_size() > 1:  # ranks must not render side by side
            raise SiamError("train data not found (run siam render --project first)",
                            project.dataset_paths()["train"])
        _render_missing(project)
    nproc = getattr(args, "nproc", 1) or 1
    if getattr(args, "finetune", None) is not None and (nproc > 1 or args.resume):
        raise SiamError("--finetune starts a new run in one process (no --resume, --nproc)")
    if nproc > 1:
        return _launch(args, nproc)
    from siam_workbench.train import distributed

    ctx = None
    if distributed.env_world_size() > 1:  # one rank under torchrun or siam train --nproc
        from siam_workbench.model.backbones import resolve_device

        ctx = distributed.init_from_env(resolve_device(config.train.device))
    try:
        return _train(args, project, config, train_over, ctx)
    finally:
        if ctx is not None:
            ctx.close()


def _train(args: argparse.Namespace, project, config, train_over: dict[str, Any],
           ctx) -> int:
    from siam_workbench.train.trainer import Trainer

    resume_cfg = config if (args.resume and (train_over or args.set)) else None
    if getattr(args, "finetune", None) is not None:
        trainer: Trainer = _finetuner(args, project, train_over, ctx)
    else:
        trainer = Trainer(project, config=resume_cfg if args.resume else config,
                          run_dir=args.run_dir, resume=args.resume, dist=ctx)
    main = ctx is None or ctx.is_main  # other ranks say nothing but their errors
    reporter = _TrainReporter(trainer, quiet_stdout=args.json)
    if main:
        trainer.subscribe(reporter)
    # Ctrl-C and SIGTERM stop at the next iteration, leaving a resumable run.
    previous = {s: signal.signal(s, lambda *_: trainer.stop())
                for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        final = trainer.run()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        reporter.close()
    summary: dict[str, Any] = {
        "run": str(trainer.run_dir), "status": trainer.state,
        "epochs_done": trainer.epoch if hasattr(trainer, "epoch") else 0,
        "best_top1": getattr(trainer, "best", None), "last_epoch": reporter.last_epoch}
    from siam_workbench.train.events import RunFailed

    started = hasattr(trainer, "epoch")
    if not main:
        pass
    elif args.json:
        print(json.dumps(summary))
    elif started:
        print(f"run {trainer.run_dir} {trainer.state}; best top-1 "
              f"{_pct(summary['best_top1'])}")
    if isinstance(final, RunFailed):
        who = "" if main else f" [rank {ctx.rank}]"
        print(f"siam train{who}: error: {' '.join(final.message.split())}", file=sys.stderr)
        return 2
    return 0


def _finetuner(args: argparse.Namespace, project, train_over: dict[str, Any], ctx):
    from siam_workbench.train.finetune import FinetuneTrainer, finetune_config

    if ctx is not None:
        raise SiamError("--finetune starts a new run in one process (not under torchrun)")
    config = finetune_config(args.finetune, args.set, train_over)
    return FinetuneTrainer(project, args.finetune, args.with_files, config=config,
                           run_dir=args.run_dir)


def _launch(args: argparse.Namespace, nproc: int) -> int:
    """``--nproc N``: start N ranks of this same command on this machine and wait for them
    (the data was rendered above, so no rank renders)."""
    from siam_workbench.train import distributed

    if distributed.env_world_size() > 1:
        raise SiamError("--nproc starts its own processes; under torchrun leave it out "
                        "(torchrun --nproc-per-node sets the count)")
    argv = ["train", str(args.project), "--no-render"]
    for flag in ("epochs", "iterations", "triplets", "run_dir", "resume", "device", "preset"):
        value = getattr(args, flag, None)
        if value is not None:
            argv += [f"--{flag.replace('_', '-')}", str(value)]
    for item in args.set:
        argv += ["--set", item]
    if args.json:
        argv.append("--json")
    return distributed.launch_local(argv, nproc)


def _render_missing(project) -> None:
    from siam_workbench.data.render_splits import render_splits

    from .progress import ProgressBar

    project.output_dataset_paths()  # refuse data outside the project before saying anything
    from siam_workbench.data.samples import refuse_render

    refuse_render(project)  # a project made from imported samples: never fonts
    print(f"rendering the project's data into {project.root / 'data'} …", file=sys.stderr)
    (project.root / "data").mkdir(exist_ok=True)
    bar = ProgressBar(1, "render")

    def progress(done: int, total: int) -> None:
        bar.total = max(total, 1)
        bar.update(done)

    from siam_workbench.cli import cancel_on_signals

    try:
        with cancel_on_signals() as cancel:
            reports = render_splits(project, progress=progress, cancel=cancel,
                                    missing_only=True)
    finally:
        bar.close()
    for split, rep in reports.items():
        print(f"  {split}: {rep.samples} glyphs, {rep.classes} classes, {rep.faces} faces "
              f"({rep.glyphs_per_s:.0f} glyphs/s)", file=sys.stderr)


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.2f}%"


class _TrainReporter:
    """Turns trainer events into a progress bar and one summary line per epoch (stderr)."""

    def __init__(self, trainer, quiet_stdout: bool) -> None:
        from .progress import ProgressBar

        self.trainer = trainer
        self.bar: ProgressBar | None = None
        self._bar_cls = ProgressBar
        self.last_epoch: dict[str, Any] | None = None
        from siam_workbench.infer.advice import Snapshot

        self.snapshot = Snapshot(config=trainer.config)
        self.noticed: set[str] = set()

    def _advise(self) -> None:
        from siam_workbench.infer.advice import advise

        for n in advise(self.snapshot):
            if n.code in self.noticed:
                continue
            self.noticed.add(n.code)
            sets = n.set_args()
            msg = f"notice: {n.title}. {n.detail}" + (f" Next run: {sets}" if sets else "")
            if self.bar:
                self.bar.message(msg)
            else:
                print(msg, file=sys.stderr)

    def __call__(self, ev) -> None:
        from siam_workbench.train import events as E

        from .progress import fmt_seconds

        if isinstance(ev, E.RunStarted):
            self.snapshot.pixel_nn_val = getattr(ev, "pixel_nn_val_top1", None)
            total = (ev.epochs - ev.start_epoch) * ev.iterations
            self.bar = self._bar_cls(total, "train")
            from .train_progress import EpochProgress

            self.pace = EpochProgress(ev.epochs, ev.start_epoch, ev.iterations)
            self.start_step = ev.start_epoch * ev.iterations
            self.iterations = ev.iterations
            self.bar.message(f"training {ev.num_classes} classes, {ev.train_samples} samples on "
                             f"{ev.device} → {self.trainer.run_dir}"
                             + (f" (resumed at epoch {ev.start_epoch + 1})"
                                if ev.start_epoch else ""))
        elif isinstance(ev, E.IterationFinished) and self.bar:
            if self.snapshot.add_iteration(ev) is not None:
                self._advise()
            parts = " ".join(f"{k} {v:.3g}" for k, v in ev.parts.items())
            done = ev.epoch * self.iterations + ev.iteration + 1 - self.start_step
            self.pace.iteration(ev)
            if self.bar.tty:
                epoch_left, _ = self.pace.etas(ev)
                self.bar.update(done, f"e{ev.epoch + 1} it {ev.iteration + 1}/{self.iterations}"
                                f" {ev.images_per_s:.0f} img/s epoch ETA "
                                f"{fmt_seconds(epoch_left)} loss {ev.loss:.4g} ({parts})")
            elif self.pace.due(ev):  # a log: a line now and then, never one per iteration
                self.bar.message(self.pace.text(ev))
        elif isinstance(ev, E.EpochFinished):
            if getattr(self, "pace", None) is not None:
                self.pace.epoch_finished()
            self.last_epoch = {"epoch": ev.epoch + 1, "top1": ev.top1, "top5": ev.top5,
                               "val_top1": ev.val_top1, "val_top5": ev.val_top5,
                               "loss": ev.loss}
            val = (f", val top-1 {_pct(ev.val_top1)} top-5 {_pct(ev.val_top5)}"
                   if ev.val_top1 is not None else "")
            msg = (f"epoch {ev.epoch + 1}/{ev.epochs}: loss {ev.loss:.4g}, train top-1 "
                   f"{_pct(ev.top1)}{val}, {ev.seconds:.1f}s{' *best' if ev.is_best else ''}")
            if self.bar:
                self.bar.message(msg)
            else:
                print(msg, file=sys.stderr)
            self.snapshot.add_epoch(ev)
            self._advise()
        elif isinstance(ev, E.RunStopped):
            print(f"stopped; resume with: siam train {self.trainer.project.root} --resume "
                  f"{ev.run_dir}", file=sys.stderr)

    def close(self) -> None:
        if self.bar:
            self.bar.close()


def _project_of_run(run: Path):
    from siam_workbench.project.project import PROJECT_FILE, load_project

    for parent in (run.parent.parent, run.parent):
        if (parent / PROJECT_FILE).exists():
            return load_project(parent)
    return None


def cmd_eval(args: argparse.Namespace) -> int:
    from siam_workbench.base.atomic import write_text_atomic
    from siam_workbench.infer.compare import table_csv
    from siam_workbench.infer.evaluate import (
        confused_pairs,
        evaluate,
        load_run,
        per_class_table,
        save_evaluation,
    )
    from siam_workbench.infer.runs import split_path

    if args.confused < 0:
        raise SiamError(f"--confused must be ≥ 0, got {args.confused}")
    project = None
    try:  # first: its trusted plug-ins may define the backbone
        project = _project_of_run(args.run)
    except SiamError:
        if args.data is None:
            raise
    if args.episodes is not None:
        from siam_workbench.cli.fewshot_cmds import cmd_episodes

        return cmd_episodes(args)
    run = load_run(args.run, which=args.checkpoint, device=args.device)
    data, split = args.data, args.split
    if data is None:
        if project is None:
            raise SiamError("--data is required: the run is not inside a project", args.run)
        data = split_path(project, split)
    else:
        split = Path(data).name
    detail = bool(args.per_class or args.confused)
    from siam_workbench.data.framing import FramingMismatch

    try:
        result = evaluate(run, data, keep_predictions=detail,
                          allow_mismatch=args.ignore_framing)
    except FramingMismatch as exc:
        if args.json:  # a script reading stdout gets the refusal and its fix as fields too
            print(json.dumps({"error": " ".join(str(exc).split()), "fix": exc.fix,
                              "framing": {"run": vars_of(exc.want), "data": vars_of(exc.have),
                                          "match": False},
                              "data": str(data), "split": split, "run": str(args.run),
                              "checkpoint": run.meta.get("which")}, ensure_ascii=False))
        raise
    which = run.meta.get("which", args.checkpoint)
    if not args.no_record:
        try:
            save_evaluation(args.run, split, result, checkpoint=which)
        except SiamError as exc:
            print(f"siam eval: warning: result not kept ({exc})", file=sys.stderr)
    pairs = confused_pairs(result, run.classes, args.confused) if args.confused else []
    if args.per_class:
        rows = per_class_table(result, run.classes)
        write_text_atomic(args.per_class, table_csv(
            ["index", "class", "n", "top1", "top5", "confused_with", "confused_count"],
            [[r.index, r.name, r.n, round(r.top1, 4), round(r.top5, 4), r.confused_with,
              r.confused_count] for r in rows]))
    if args.json:
        out = {"top1": result["top1"], "top5": result["top5"], "n": result["n"],
               "unknown_classes": result["unknown_classes"], "data": str(data),
               "split": split, "run": str(args.run), "checkpoint": which,
               "epoch": result.get("epoch"), "framing": result["framing"]}
        if result.get("warning"):
            out["warning"] = result["warning"]
        if args.confused:
            out["confused"] = [{"a": p.a_name, "b": p.b_name, "a_as_b": p.a_as_b,
                                "b_as_a": p.b_as_a} for p in pairs]
        print(json.dumps(out, ensure_ascii=False))
    else:
        print(f"{data}: top-1 {_pct(result['top1'])}, top-5 {_pct(result['top5'])} "
              f"on {result['n']} images"
              + (f" ({result['unknown_classes']} of unknown classes skipped)"
                 if result["unknown_classes"] else "")
              + f"; checkpoint {which} (epoch {result.get('epoch')}"
              + (", chosen on val" if which == "best" else "") + ")")
        if result.get("warning"):
            print(f"siam eval: warning: {result['warning']}", file=sys.stderr)
        for p in pairs:
            print(f"  {p.a_name} ↔ {p.b_name}: {p.count} ({p.a_name}→{p.b_name} {p.a_as_b}, "
                  f"{p.b_name}→{p.a_name} {p.b_as_a})")
        if args.per_class:
            print(f"per-class table: {args.per_class}")
    return 0


def vars_of(framing: Any) -> dict[str, Any] | None:
    from dataclasses import asdict

    return None if framing is None else asdict(framing)


def cmd_query(args: argparse.Namespace) -> int:
    from siam_workbench.infer.evaluate import load_run
    from siam_workbench.infer.query import query

    if args.k < 1:
        raise SiamError(f"--k must be ≥ 1, got {args.k}")
    run = load_run(args.run, which=args.checkpoint)
    results = query(run, list(args.images), k=args.k)
    if args.json:
        print(json.dumps([{"image": str(img), "matches": [
            {"class": m.label, "distance": m.distance, "confidence": m.confidence}
            for m in matches]} for img, matches in zip(args.images, results)],
            ensure_ascii=False))
    else:
        for img, matches in zip(args.images, results):
            listing = "  ".join(f"{m.label} ({m.distance:.3f})" for m in matches)
            print(f"{img}: {listing}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from siam_workbench.infer.evaluate import load_run
    from siam_workbench.infer.export import export_run

    run = load_run(args.run, which=args.checkpoint)
    out = export_run(run, args.out, force=args.force, fmt=args.fmt)
    print(f"wrote {out} ({args.fmt}, {len(run.classes)} classes)")
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    from siam_workbench.cli.textsafe import terminal_safe
    from siam_workbench.project.project import load_project

    project = load_project(args.project)
    runs = project.runs()
    if args.best:
        from siam_workbench.infer.runs import best_run

        best = best_run(project, runs)
        if best is None:
            raise SiamError("no run with a checkpoint yet", project.runs_dir)
        print(terminal_safe(best.path))
        return 0
    if args.json:
        print(json.dumps([{"id": r.id, "path": str(r.path), "status": r.status,
                           "epoch": r.epoch, "epochs": r.epochs, "best_top1": r.best_top1}
                          for r in runs]))
    else:
        if not runs:
            print(f"no runs in {project.runs_dir}")
        for r in runs:
            print(f"{terminal_safe(r.id):40s} {terminal_safe(r.status):9s} "
                  f"{r.epoch:>4}/{r.epochs:<4} best {_pct(r.best_top1)}")
    return 0


def cmd_new(args: argparse.Namespace) -> int:
    from siam_workbench.cli import samples_cmds  # --samples: a project from imported samples

    if getattr(args, "samples", None):
        return samples_cmds.new_from_samples(args)
    samples_cmds.check_new_only(args)
    from siam_workbench.project.project import create_project
    from siam_workbench.project.recipe import estimate_minutes

    project = create_project(args.folder, name=args.name or Path(args.folder).name,
                             alphabet=args.alphabet, preset=args.preset, overrides=args.set)
    c, t = project.config, project.config.train
    shape = (f"{t.classes_per_batch} classes × {t.samples_per_class} samples a step"
             if t.batch_mode == "pk" else f"{t.triplets:,} triplets a step")
    print(f"created {project.file}: {c.data.alphabet}, {args.preset} settings "
          f"({c.loss.kind} loss, {c.mining.positive} + {c.mining.negative}), {t.epochs} epochs "
          f"× {t.iterations} iterations × {shape}, ~{estimate_minutes(c):.0f} min on an idle "
          f"2-core CPU; framing {c.data.size_mode}")
    return 0


def cmd_run_delete(args: argparse.Namespace) -> int:
    from siam_workbench.infer.runs import delete_run

    if not args.yes:
        if not sys.stdin.isatty():
            raise SiamError("refusing to delete without --yes (no terminal to ask)", args.run)
        answer = input(f"delete {args.run} and everything in it? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("not deleted")
            return 1
    delete_run(args.run)
    print(f"deleted {args.run}")
    return 0


def cmd_run_rename(args: argparse.Namespace) -> int:
    from siam_workbench.infer.runs import rename_run

    print(rename_run(args.run, args.name))
    return 0


def cmd_run_note(args: argparse.Namespace) -> int:
    from siam_workbench.infer.runs import check_run, read_notes, write_notes

    check_run(args.run)
    if args.text is None:
        print(read_notes(args.run), end="")
    else:
        write_notes(args.run, args.text)
    return 0


def cmd_advise(args: argparse.Namespace) -> int:
    from siam_workbench.infer.advice import advise_run
    from siam_workbench.infer.runs import check_run

    check_run(args.run)
    notices = advise_run(args.run)
    if args.json:
        print(json.dumps([{"code": n.code, "title": n.title, "detail": n.detail,
                           "severity": n.severity, "suggestion": n.suggestion}
                          for n in notices], ensure_ascii=False))
        return 0
    if not notices:
        print("nothing to remark")
    for n in notices:
        print(f"{n.severity}: {n.title}\n  {n.detail}"
              + (f"\n  next run: {n.suggestion_text()}" if n.suggestion else ""))
    return 0
