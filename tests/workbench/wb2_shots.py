"""Screenshots of the Miners, Draw and Runs tabs with real data.

    QT_QPA_PLATFORM=offscreen .venv/bin/python tests/workbench/wb2_shots.py [OUT_DIR]

Builds (once, under $TMPDIR/wb2-shot-project) a small Hangul project — 48 syllables rendered from
Korean fonts — trains two short runs (auto-probabilistic + auto-clustering with the metric loss;
random + random with the triplet loss), saves a few drawings, then opens the real main window at
1400×900 with the three tabs in place of their placeholders and saves a PNG per view to OUT_DIR
(default /tmp/wb2-shots). A synthetic 11,172-class run gives the large-alphabet shots.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
if "SIAM_WORKBENCH_SETTINGS_DIR" not in os.environ:  # private settings, removed at exit
    os.environ["SIAM_WORKBENCH_SETTINGS_DIR"] = tempfile.mkdtemp(prefix="wb2-settings-")
    atexit.register(shutil.rmtree, os.environ["SIAM_WORKBENCH_SETTINGS_DIR"], True)
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import wb2_helpers as helpers  # noqa: E402

SYLLABLES = ("가나다라마바사아자차카타파하각난닫랄맘밥삿앙"
             "잦찿캌탙팦핳거너더러머버서어저처커터퍼허고노")
PROJECT_TOML = """
[project]
name = "hangul-48 demo"

[data]
alphabet = "classes.txt"
train_fonts = ["batang.ttf", "gulim.ttf", "NanumGothic.ttf", "NanumMyeongjo.ttf",
               "UnDotum.ttf", "UnBatang.ttf", "NanumSquareR.ttf", "BMJUA_ttf.ttf"]
val_fonts = ["NanumBarunGothic.ttf", "UnGraphic.ttf"]
test_fonts = ["LexiGulim.ttf"]
min_coverage = 0.5

[mining]
positive = "auto-probabilistic"
negative = "auto-clustering"
eta = 40

[train]
epochs = 5
iterations = 20
triplets = 64
device = "cpu"
"""


def build_project(root: Path) -> Path:
    from siam_workbench.data.render_splits import render_splits
    from siam_workbench.project.project import load_project

    if (root / "runs" / "ap-ac-metric" / "status.json").exists():
        return root
    root.mkdir(parents=True, exist_ok=True)
    (root / "classes.txt").write_text(SYLLABLES, encoding="utf-8")
    (root / "project.toml").write_text(PROJECT_TOML, encoding="utf-8")
    render_splits(load_project(root), workers=1)
    helpers.train(root, "ap-ac-metric")
    helpers.train(root, "rnd-rnd-triplet", {"mining": {"positive": "random",
                                                       "negative": "random"},
                                            "loss": {"kind": "triplet", "alpha": 1.0},
                                            "train": {"epochs": 3}})
    return root


def add_drawings(root: Path) -> None:
    """Three drawings (a font glyph made to look hand-drawn) so the list and Evaluate show."""
    from siam_workbench.data.drawn import DrawnStore
    from siam_workbench.data.fonts import discover_fonts, match_faces
    from siam_workbench.data.render import render_glyph

    store = DrawnStore(root / "drawn.h5")
    if len(store):
        return
    face = match_faces("NanumPen.ttf", discover_fonts())[0]
    for ch in "가나다라":
        img = render_glyph(face, ch, size=180, margin=20)
        store.add(255 - img, ch, save=False)
    store.save()


def big_project(root: Path) -> Path:
    if (root / "runs" / "synthetic-11172" / "mining.h5").exists():
        return root
    root.mkdir(parents=True, exist_ok=True)
    (root / "project.toml").write_text('[project]\nname = "hangul-11172 (synthetic run)"\n\n'
                                       '[data]\nalphabet = "hangul-11172"\n', encoding="utf-8")
    helpers.write_synthetic_run(root / "runs" / "synthetic-11172", helpers.hangul_classes(),
                                epochs=6, eta=1000)
    return root


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/wb2-shots")
    out.mkdir(parents=True, exist_ok=True)
    base = Path(tempfile.gettempdir())
    t0 = time.monotonic()
    root = build_project(base / "wb2-shot-project")
    add_drawings(root)
    big = big_project(base / "wb2-shot-11172")
    print(f"data ready in {time.monotonic() - t0:.0f}s", flush=True)

    from siam_workbench.app.app import make_app, wait_until

    app = make_app(sys.argv[:1])
    from siam_workbench.app import dialogs
    from siam_workbench.app.draw_tab import DrawTab
    from siam_workbench.app.main_window import MainWindow
    from siam_workbench.app.miners_tab import MinersTab
    from siam_workbench.app.runs_tab import RunsTab
    from siam_workbench.app.workers import live_threads

    dialogs.handler = dialogs.RecordingHandler(ask_answer=False, echo=True)
    w = MainWindow()
    w.resize(1400, 900)
    tabs = {"Miners": w.miners_tab, "Draw": w.draw_tab, "Runs": w.runs_tab}
    w.show()

    def settle(seconds: float = 0.6) -> None:
        wait_until(app, lambda: False, seconds)

    def shot(name: str) -> None:
        settle()
        path = out / f"{name}.png"
        w.grab().save(str(path))
        print(path, flush=True)

    # Empty state first (no project is open yet).
    w.tabs.setCurrentWidget(tabs["Miners"])
    shot("miners-no-project")

    assert w.open_project(root, ask_save=False)
    miners: MinersTab = tabs["Miners"]
    w.tabs.setCurrentWidget(miners)
    wait_until(app, lambda: miners.history is not None and miners.glyphs.resolved, 60)
    miners.show_run(root / "runs" / "ap-ac-metric")
    wait_until(app, lambda: miners.history is not None
               and miners.history.positive == "auto-probabilistic", 30)
    settle(1.0)
    miners.select_class(int(miners.table_model.rows[2]))
    wait_until(app, lambda: not live_threads(), 20)
    shot("miners-probabilities")
    miners.views.setCurrentIndex(1)
    shot("miners-history")
    miners.views.setCurrentIndex(2)
    settle()
    clustered = np.flatnonzero(miners.history.clusters[-1] >= 0)
    miners.graph.select_class(int(clustered[0]))
    shot("miners-clusters")
    rnd = [i for i in range(miners.run_combo.count()) if "rnd-rnd" in
           str(miners.run_combo.itemData(i))]
    miners.run_combo.setCurrentIndex(rnd[0])
    miners._run_activated(rnd[0])
    wait_until(app, lambda: miners.history is not None and miners.history.positive == "random",
               30)
    miners.views.setCurrentIndex(0)
    shot("miners-random")
    miners.views.setCurrentIndex(2)
    shot("miners-random-clusters")

    draw: DrawTab = tabs["Draw"]
    w.tabs.setCurrentWidget(draw)
    ap = draw.run_combo.findData(str(root / "runs" / "ap-ac-metric"))
    draw.run_combo.setCurrentIndex(ap)
    wait_until(app, lambda: draw.run_model is not None
               and draw.run_model.run_dir.name == "ap-ac-metric", 60)
    draw.canvas.draw_polyline([(70, 90), (190, 90), (175, 290)], 18)
    draw.canvas.draw_polyline([(255, 50), (255, 320)], 18)
    draw.canvas.draw_polyline([(255, 180), (310, 180)], 18)
    wait_until(app, lambda: bool(draw.matches), 30)
    draw.evaluate()
    wait_until(app, lambda: draw._eval_runner is None and "top-1" in draw.eval_label.text(), 30)
    shot("draw")

    runs: RunsTab = tabs["Runs"]
    w.tabs.setCurrentWidget(runs)
    runs.set_checked(["ap-ac-metric", "rnd-rnd-triplet"])
    wait_until(app, lambda: len(runs.summaries) == 2, 30)
    shot("runs")

    # A synthetic 11,172-class run.
    assert w.open_project(big, ask_save=False)
    w.tabs.setCurrentWidget(miners)
    miners.views.setCurrentIndex(0)
    wait_until(app, lambda: miners.history is not None and miners.glyphs.resolved, 120)
    settle(1.0)
    miners.select_class(int(miners.table_model.rows[0]))
    wait_until(app, lambda: not live_threads(), 20)
    shot("miners-11172")
    miners.views.setCurrentIndex(1)
    shot("miners-11172-history")
    miners.views.setCurrentIndex(2)
    settle()
    clustered = np.flatnonzero(miners.history.clusters[-1] >= 0)
    miners.graph.select_class(int(clustered[0]))
    shot("miners-11172-clusters")
    w.tabs.setCurrentWidget(tabs["Draw"])
    shot("draw-no-runs")
    w.tabs.setCurrentWidget(tabs["Runs"])
    wait_until(app, lambda: not live_threads(), 20)
    shot("runs-11172")

    wait_until(app, lambda: not live_threads(), 30)
    w._close_confirmed = True
    w._closing_blocks = True
    w.close()
    print(f"done in {time.monotonic() - t0:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
