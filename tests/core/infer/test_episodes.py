"""Few-shot episodes: queries never share a source with the episode's supports, the same seed
gives the same episodes (another seed others), within-group episodes stay in one group, and
``siam eval --episodes`` reports the run beside pixel 1-NN on the same episodes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from siam_workbench.base.errors import SiamError
from siam_workbench.cli import main
from siam_workbench.data.glyphs import GlyphWriter, load_glyphs
from siam_workbench.infer.episodes import EpisodeSampler, class_groups, evaluate_episodes, mean_ci
from siam_workbench.infer.evaluate import load_run
from tests.conftest import synth_glyphs
from tests.core.infer.fewshot_helpers import train_tiny


def _table(seed: int = 0):
    """30 classes in 3 groups, 8 sources; each class misses a few sources at random and has
    one or two samples of the ones it has (like drawers who skipped or redid a character)."""
    rng = np.random.default_rng(seed)
    labels, sources = [], []
    for c in range(30):
        for s in rng.choice(8, size=int(rng.integers(3, 9)), replace=False):
            for _ in range(int(rng.integers(1, 3))):
                labels.append(c)
                sources.append(int(s))
    groups = [f"g{c % 3}" for c in range(30)]
    return np.array(labels), np.array(sources), groups


@pytest.mark.parametrize("way, shot, queries", [(5, 1, 1), (4, 2, 3), (10, 1, 2)])
def test_queries_never_come_from_a_support_source(way, shot, queries):
    labels, sources, _ = _table()
    eps = EpisodeSampler(labels, sources, way, shot, queries).sample(200, seed=3)
    for ep in eps:
        assert len(set(ep.classes.tolist())) == way
        assert ep.support.size == way * shot
        support_sources = set(sources[ep.support].tolist())
        assert not support_sources & set(sources[ep.query].tolist())
        np.testing.assert_array_equal(labels[ep.support], ep.classes[ep.support_labels])
        np.testing.assert_array_equal(labels[ep.query], ep.classes[ep.query_labels])
        assert set(ep.query_labels.tolist()) == set(range(way))  # every class is queried
        assert len(set(ep.query.tolist())) == ep.query.size
        assert len(set(ep.support.tolist())) == ep.support.size


def test_same_seed_same_episodes_other_seed_others():
    labels, sources, _ = _table()

    def draw(seed):
        return [(e.classes.tolist(), e.support.tolist(), e.query.tolist())
                for e in EpisodeSampler(labels, sources, 5, 1, 2).sample(50, seed=seed)]

    assert draw(7) == draw(7)
    assert draw(7) != draw(8)


def test_within_group_episodes_stay_in_one_group():
    labels, sources, groups = _table()
    sampler = EpisodeSampler(labels, sources, 8, 1, 1, groups, within_group=True)
    eps = sampler.sample(100, seed=0)
    for ep in eps:
        assert {groups[c] for c in ep.classes} == {ep.group}
    assert {ep.group for ep in eps} == {"g0", "g1", "g2"}
    with pytest.raises(SiamError, match="any one group"):
        EpisodeSampler(labels, sources, 11, 1, 1, groups, within_group=True)


def test_impossible_options_are_one_line():
    labels = np.repeat(np.arange(6), 2)
    sources = np.zeros(12, np.int64)  # one source: no query can come from another
    with pytest.raises(SiamError, match="at least two sources"):
        EpisodeSampler(labels, sources, 5, 1)
    with pytest.raises(SiamError, match="--way must be"):
        EpisodeSampler(labels, sources, 1, 1)


def test_groups_from_omniglot_names_and_attrs(tmp_path):
    names = ["Tagalog/character01", "Tagalog/character02", "Balinese/character01", "plain"]
    images, labels, sources = synth_glyphs(4, 2)
    with GlyphWriter(tmp_path / "g.h5", names, ["drawer01", "drawer02"], 37) as w:
        w.append(images, labels, sources)
    data = load_glyphs(tmp_path / "g.h5")
    assert class_groups(data, "prefix") == ["Tagalog", "Tagalog", "Balinese", ""]
    assert class_groups(data, "none") == [""] * 4
    with pytest.raises(SiamError, match="class_groups"):
        class_groups(data, "attr")
    data.attrs["class_groups"] = json.dumps({"plain": "x", "Tagalog/character01": "y"})
    assert class_groups(data, "attr") == ["y", "", "", "x"]


def test_mean_ci():
    m, ci = mean_ci(np.array([0.0, 1.0] * 50))
    assert m == pytest.approx(0.5) and ci == pytest.approx(1.96 * np.std([0, 1] * 50, ddof=1)
                                                           / 10)


@pytest.fixture(scope="module")
def run_and_file(tmp_path_factory):
    root = tmp_path_factory.mktemp("episodes")
    run_dir = train_tiny(root / "proj")
    names = [f"Alpha/c{i}" for i in range(6)] + [f"Beta/c{i}" for i in range(6)]
    images, labels, sources = synth_glyphs(12, 4, seed=11)
    with GlyphWriter(root / "novel.h5", names, [f"drawer{i}" for i in range(4)], 37) as w:
        w.append(images, labels, sources)
    return run_dir, root / "novel.h5"


def test_evaluate_episodes_beside_pixel_nn(run_and_file):
    run_dir, data = run_and_file
    run = load_run(run_dir)
    seen = []
    r = evaluate_episodes(run, data, episodes=30, way=4, shot=1, queries=2, seed=1,
                          progress=lambda d, t: seen.append((d, t)))
    assert r["episodes"] == 30 and r["queries_total"] == 30 * 4 * 2
    assert 0.0 <= r["top1"] <= 1.0 and 0.0 <= r["pixel_top1"] <= 1.0
    assert r["ci95"] >= 0 and r["classes_known_to_run"] == 0
    assert seen[-1] == (30, 30)
    again = evaluate_episodes(run, data, episodes=30, way=4, shot=1, queries=2, seed=1)
    assert (again["top1"], again["pixel_top1"]) == (r["top1"], r["pixel_top1"])
    within = evaluate_episodes(run, data, episodes=10, way=5, shot=2, within_group=True)
    assert within["groups"] == 2 and within["within_group"]


def test_cli_episodes_json_and_errors(run_and_file, capsys):
    run_dir, data = run_and_file
    code = main(["eval", str(run_dir), "--data", str(data), "--episodes", "12", "--way", "3",
                 "--shot", "2", "--within-source-group", "--seed", "4", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    r = json.loads(out)
    assert (r["way"], r["shot"], r["episodes"], r["seed"]) == (3, 2, 12, 4)
    assert {"top1", "ci95", "pixel_top1", "pixel_ci95"} <= set(r)
    code = main(["eval", str(run_dir), "--data", str(data), "--episodes", "5", "--way", "13"])
    _, err = capsys.readouterr()
    assert code == 2 and len(err.strip().splitlines()) == 1 and "fewer than 13" in err
    code = main(["eval", str(run_dir), "--data", str(data), "--episodes", "0"])
    _, err = capsys.readouterr()
    assert code == 2 and "--episodes must be" in err
    code = main(["eval", str(Path(run_dir).parent / "ghost"), "--episodes", "5"])
    _, err = capsys.readouterr()
    assert code == 2 and "not a run folder" in err


def test_kept_predictions_give_per_class_tables_and_the_cli_writes_them(run_and_file, capsys,
                                                                        tmp_path):
    """The few-shot per-class table (the Evaluate page fills it): every query counted once, in
    its own class's row, its answers among its episode's W classes only."""
    from siam_workbench.infer.evaluate import confused_pairs, per_class_table

    run_dir, data = run_and_file
    run = load_run(run_dir, which="last")  # as siam eval
    r = evaluate_episodes(run, data, episodes=20, way=4, shot=1, queries=2, seed=2,
                          keep_predictions=True)
    plain = evaluate_episodes(run, data, episodes=20, way=4, shot=1, queries=2, seed=2)
    assert r["top1"] == plain["top1"] and "labels" not in plain
    assert r["labels"].shape == (r["queries_total"],) and r["pred"].shape == (r["queries_total"],
                                                                            4)
    names = r["class_names"]
    rows = per_class_table(r, names)
    assert sum(x.n for x in rows) == r["queries_total"]
    hits = sum(x.n * x.top1 for x in rows)
    assert abs(hits / r["queries_total"] - r["top1"]) < 1e-9  # equal queries per episode
    assert all(x.top5 == 1.0 for x in rows)  # 4-way: the truth is always among the 4
    pairs = confused_pairs(r, names, 5)
    assert sum(p.count for p in confused_pairs(r, names, 10**6)) == \
        sum(round(x.n * (1 - x.top1)) for x in rows)
    csv = tmp_path / "pc.csv"
    code = main(["eval", str(run_dir), "--data", str(data), "--episodes", "20", "--way", "4",
                 "--queries", "2", "--seed", "2", "--per-class", str(csv), "--confused", "5",
                 "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    j = json.loads(out)
    assert j["top1"] == r["top1"] and "labels" not in j
    assert [(p["a"], p["b"]) for p in j["confused"]] == [(p.a_name, p.b_name) for p in pairs]
    lines = csv.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("index,class,n,top1") and len(lines) == len(rows) + 1
