"""Mining read-back, PCA, run comparison, drawn-sample store and their CLI twins."""

import json

import h5py
import numpy as np
import pytest
from PIL import Image

from siam_workbench.base.errors import SiamError
from siam_workbench.cli import main
from siam_workbench.data.drawn import DrawnStore
from siam_workbench.data.glyphs import GlyphFile, load_glyphs
from siam_workbench.infer.compare import (
    comparison_table,
    differing_settings,
    summarize_run,
    table_csv,
)
from siam_workbench.infer.mining_log import pca_2d, read_mining
from siam_workbench.train.trainer import Trainer


@pytest.fixture
def two_runs(make_project):
    project = make_project(epochs=2, iterations=4)
    a = Trainer(project).run().run_dir
    cfg = project.config.replace({"mining": {"positive": "random", "negative": "random"}})
    b = Trainer(project, config=cfg).run().run_dir
    return project, a, b


def test_mining_history_and_rank_change(two_runs):
    _, ap_run, random_run = two_runs
    hist = read_mining(ap_run / "mining.h5")
    assert hist.num_epochs == 2 and len(hist.classes) == 12
    assert hist.positive == "auto-probabilistic" and hist.negative == "auto-clustering"
    assert hist.probabilities.shape == (2, 12) and not hist.missing
    change = hist.rank_change(1)
    assert change.sum() == 0 and change.shape == (12,)  # ranks are a permutation
    rnd = read_mining(random_run / "mining.h5")
    assert np.allclose(rnd.probabilities, 1 / 12)


def test_mining_file_from_an_older_run_without_some_fields(tmp_path):
    path = tmp_path / "mining.h5"
    with h5py.File(path, "w") as h5:
        h5["probabilities"] = np.full((3, 4), 0.25, np.float32)
    hist = read_mining(path)
    assert hist.classes == ["0", "1", "2", "3"] and hist.clusters is None
    assert set(hist.missing) >= {"classes", "clusters", "mean_distance"}
    with pytest.raises(SiamError, match="no mining history"):
        read_mining(tmp_path / "absent.h5")


def test_pca_projects_centers_and_keeps_nan_rows():
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(50, 25))
    centers[:, 0] *= 10  # the dominant direction must become the first axis
    centers[7] = np.nan
    xy = pca_2d(centers)
    assert xy.shape == (50, 2) and np.isnan(xy[7]).all()
    ok = ~np.isnan(xy[:, 0])
    assert np.var(xy[ok, 0]) > 5 * np.var(xy[ok, 1])
    corr = np.corrcoef(xy[ok, 0], centers[ok, 0])[0, 1]
    assert abs(corr) > 0.95


def test_compare_runs_table_and_csv(two_runs, tmp_path, capsys):
    _, a, b = two_runs
    summaries = [summarize_run(a), summarize_run(b)]
    assert differing_settings(summaries) == ["mining.positive", "mining.negative"]
    header, rows = comparison_table(summaries)
    assert header[-2:] == ["mining.positive", "mining.negative"]
    assert rows[0][2] == 2 and 0 <= rows[0][3] <= 1
    assert table_csv(header, rows).count("\n") == 3
    out_csv = tmp_path / "cmp.csv"
    assert main(["compare", str(a), str(b), "--csv", str(out_csv), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["mining.positive"] for d in data] == ["auto-probabilistic", "random"]
    assert out_csv.read_text().startswith("run,status,epochs")
    assert main(["mining", str(a), "--top", "3", "--json"]) == 0
    top = json.loads(capsys.readouterr().out)
    assert len(top["top"]) == 3 and top["uniform"] is False
    assert main(["mining", str(b), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["uniform"] is True


def _drawing(seed: int) -> np.ndarray:
    img = np.full((240, 200), 255, np.uint8)
    rng = np.random.default_rng(seed)
    x0, y0 = rng.integers(20, 80, size=2)
    img[y0:y0 + 120, x0:x0 + 20] = 0
    return img


def test_drawn_store_round_trip_and_outside_edits(tmp_path):
    path = tmp_path / "drawn.h5"
    store = DrawnStore(path)
    store.add(_drawing(0), "가")
    store.add(_drawing(1), "나")
    again = DrawnStore(path)
    assert [d.label for d in again.drawings] == ["가", "나"]
    assert again.drawings[0].original.shape == (240, 200)
    assert again.drawings[0].image.shape == (37, 37) and again.drawings[0].image.max() == 255
    with GlyphFile(path) as gf:  # a valid glyph file with source "drawn"
        assert gf.source_names == ["drawn"] and gf.classes == ["가", "나"]
    # Edited outside the app: originals no longer match the images.
    with h5py.File(path, "a") as h5:
        del h5["original_shapes"]
    edited = DrawnStore(path)
    assert "originals" in edited.warning and len(edited) == 2
    with pytest.raises(SiamError, match="no drawing 5"):
        edited.relabel(5, "다")


def test_draw_cli_and_training_with_drawings(make_project, tmp_path, capsys):
    project = make_project(epochs=1, iterations=2)
    images = []
    for i in range(2):
        p = tmp_path / f"d{i}.png"
        Image.fromarray(_drawing(i)).save(p)
        images.append(str(p))
    assert main(["draw", "add", str(project.root), *images, "--label", "B"]) == 0
    assert main(["draw", "add", str(project.root), images[0], "--label", "Z?"]) == 0
    assert main(["draw", "relabel", str(project.root), "2", "C"]) == 0
    assert main(["draw", "list", str(project.root), "--json"]) == 0
    listing = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert [d["label"] for d in listing["drawings"]] == ["B", "B", "C"]
    bad = tmp_path / "bad.png"
    bad.write_text("nope")
    assert main(["draw", "add", str(project.root), images[0], str(bad), "--label", "B"]) == 2
    assert len(DrawnStore(project.root / "drawn.h5")) == 3  # nothing half-added

    cfg = project.config.replace({"data": {"include_drawn": True}})
    trainer = Trainer(project, config=cfg)
    final = trainer.run()
    assert type(final).__name__ == "RunFinished"
    base = len(load_glyphs(project.root / "data" / "train.h5"))
    assert len(trainer.train_set) == base + 3
    assert main(["draw", "eval", str(project.root), str(final.run_dir), "--json"]) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["n"] == 3 and len(res["misses"]) == round(3 * (1 - res["top1"]))


def test_exclude_cli(make_project, capsys):
    project = make_project()
    path = project.root / "data" / "train.h5"
    n = len(load_glyphs(path))
    assert main(["exclude", str(path), "0", "5"]) == 0
    assert len(load_glyphs(path)) == n - 2
    assert main(["exclude", str(path), "5", "--include"]) == 0
    assert len(load_glyphs(path)) == n - 1
    assert main(["exclude", str(path), "99999"]) == 2
    assert "out of range" in capsys.readouterr().err
