"""Few-shot episodes of a trained run beside pixel 1-NN and a softmax baseline (JSON lines).

    python benchmarks/fewshot.py RUN EVAL.h5 [--episodes 400] [--seed 0] [--no-softmax]
    python benchmarks/fewshot.py --smoke   # a tiny synthetic project trained for 2 steps, one
                                           # JSON object (make test: it runs, nothing more)

For each protocol (20-way 1-shot within group, 20-way 1-shot, 5-way 1-shot within group,
5-way 1-shot, 5-way 5-shot) it prints the run's episode accuracy with pixel 1-NN on the same
episodes (:func:`siam_workbench.infer.episodes.evaluate_episodes`) and, unless ``--no-softmax``, the
same episodes read with the embedding of a softmax classifier trained on the run's training
file with the run's backbone, augmentation, optimiser and budget in images
(:func:`siam_workbench.train.softmax.train_softmax`): the question is whether metric learning
carries over to unseen classes better than a classifier's features do.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # tests.conftest (the smoke run's tiny project)
sys.path.insert(0, str(REPO / "src"))

PROTOCOLS = [(20, 1, True), (20, 1, False), (5, 1, True), (5, 1, False), (5, 5, False)]


@dataclass
class FeatureRun:
    """What evaluate_episodes needs of a run, for any backbone's raw embedding."""

    model: torch.nn.Module
    image_size: int
    run_dir: Path
    space: str = "raw"
    trained_classes: list[str] = field(default_factory=list)

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        from siam_workbench.parts.centers import embed

        return embed(self.model, images, "cpu", self.space)


def budget_images(run_dir: Path) -> int:
    """Images through the network in the run: steps × batch (from its config)."""
    cfg = tomllib.loads((run_dir / "config.toml").read_text(encoding="utf-8"))["train"]
    batch = (cfg["classes_per_batch"] * cfg["samples_per_class"] if cfg["batch_mode"] == "pk"
             else 3 * cfg["triplets"])
    return int(cfg["epochs"] * cfg["iterations"] * batch)


def smoke() -> int:
    """Train a tiny synthetic project (the tests' make_tiny_project) with ``siam train`` and run
    one protocol on its val file with the softmax column, printing one JSON object."""
    import contextlib
    import io
    import subprocess
    import tempfile

    from tests.conftest import make_tiny_project

    with tempfile.TemporaryDirectory() as tmp:
        root = make_tiny_project(Path(tmp) / "tiny", epochs=1, iterations=2)
        subprocess.run([sys.executable, "-m", "siam_workbench.cli", "train", str(root)], check=True,
                       capture_output=True, text=True, timeout=600)
        run = next(p.parent for p in sorted(root.glob("runs/*/config.toml")))
        out = io.StringIO()
        argv = [sys.argv[0], str(run), str(root / "data" / "val.h5"), "--episodes", "5",
                "--protocols", "5:1"]
        saved, sys.argv = sys.argv, argv
        try:
            with contextlib.redirect_stdout(out):
                main()
        finally:
            sys.argv = saved
    rows = [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]
    print(json.dumps({"benchmark": "fewshot", "smoke": True, "rows": rows}, indent=1))
    return 0


def main() -> int:
    from siam_workbench.data.glyphs import load_glyphs
    from siam_workbench.infer.episodes import evaluate_episodes
    from siam_workbench.infer.evaluate import load_run
    from siam_workbench.project.config import Config
    from siam_workbench.train.softmax import train_softmax

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("data", type=Path)
    ap.add_argument("--episodes", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-softmax", action="store_true")
    ap.add_argument("--softmax-only", action="store_true",
                    help="only the softmax column (the run's and pixel 1-NN's episodes are "
                    "the same for the same seed: siam eval --episodes gives them)")
    ap.add_argument("--protocols", default="all",
                    help="comma-separated W:K[:within], e.g. 20:1:within,5:1 (default all)")
    args = ap.parse_args()
    protocols = PROTOCOLS if args.protocols == "all" else [
        (int(p.split(":")[0]), int(p.split(":")[1]), p.endswith(":within"))
        for p in args.protocols.split(",")]
    torch.set_num_threads(1)
    run = load_run(args.run)
    data = load_glyphs(args.data)
    softmax = None
    if not args.no_softmax:
        config = Config(tomllib.loads((args.run / "config.toml").read_text(encoding="utf-8")))
        train_path = Path(config.data.train)
        if not train_path.is_absolute():
            train_path = args.run.parent.parent / train_path
        images = budget_images(args.run)
        t0 = time.process_time()
        res = train_softmax(load_glyphs(train_path), config, images)
        softmax = FeatureRun(res.backbone, run.image_size, args.run,
                             trained_classes=list(run.trained_classes))
        print(json.dumps({"softmax_images": res.images,
                          "softmax_cpu_s": round(time.process_time() - t0, 1)}), flush=True)
    for way, shot, within in protocols:
        opts: dict[str, Any] = dict(episodes=args.episodes, way=way, shot=shot,
                                    within_group=within, seed=args.seed)
        out: dict[str, Any] = {"way": way, "shot": shot, "within_group": within,
                               "episodes": args.episodes, "seed": args.seed}
        if not args.softmax_only:
            r = evaluate_episodes(run, data, **opts)
            out.update({k: r[k] for k in ("queries_total", "top1", "ci95", "pixel_top1",
                                          "pixel_ci95")})
        if softmax is not None:
            s = evaluate_episodes(softmax, data, pixel=False, **opts)
            out.update(softmax_top1=s["top1"], softmax_ci95=s["ci95"])
        print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(smoke() if sys.argv[1:] == ["--smoke"] else main())
