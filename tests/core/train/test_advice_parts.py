"""Guided training asks the run's own parts (issue 18): a part's advice lives in its
declaration (Part.advise), so a plug-in miner advises on its own parameter exactly as the
built-in auto-clustering does on η, and siam_workbench.infer.advice names no miner."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from siam_workbench.base.notice import Seen
from siam_workbench.infer import advice
from siam_workbench.infer.advice import Snapshot, advise
from siam_workbench.parts.losses import LOSSES
from siam_workbench.parts.miners import MINERS
from siam_workbench.parts.miners.auto_clustering import AutoClustering
from siam_workbench.project import plugins
from siam_workbench.project.config import SCHEMA, Config
from siam_workbench.project.partinfo import active_parts

PLUGIN = '''
import numpy as np

from siam_workbench.base.fields import Field
from siam_workbench.base.notice import Notice
from siam_workbench.parts.miners import PositiveMiner, register_miner, uniform_probabilities


@register_miner
class Favourite(PositiveMiner):
    """Prefers one class; says so when its distribution shows it."""

    name = "favourite"
    label = "favourite class (plug-in)"
    # Declared unlike auto-probabilistic's gamma: the key becomes mining.favourite.gamma.
    params = {"gamma": Field(float, 3.0, "favourite: preference", min=0.0, max=9.0)}

    def __init__(self, num_classes, present, settings):
        super().__init__(num_classes, present, settings)
        self._probs = uniform_probabilities(self.present)

    def probabilities(self):
        return self._probs

    @classmethod
    def advise(cls, settings, seen):
        if seen.probabilities is None or float(np.max(seen.probabilities)) < 0.5:
            return []
        gamma = float(cls.value(settings, "gamma"))
        return [Notice("favourite-dominates", "One class is drawn half the time",
                       f"With gamma = {gamma:g} ...", {cls.section: {
                           cls.schema_key("gamma"): gamma / 2}})]


@register_miner
class Broken(PositiveMiner):
    name = "broken-advice"

    def probabilities(self):
        return uniform_probabilities(self.present)

    @classmethod
    def advise(cls, settings, seen):
        raise RuntimeError("a bug in a plug-in")
'''


@pytest.fixture
def plugin(tmp_path):
    path = tmp_path / "favourite.py"
    path.write_text(PLUGIN)
    before = plugins._snapshot()
    plugins.load_plugin_file(path)
    yield
    plugins._undo(plugins._changes_since(before))
    assert "favourite" not in MINERS["positive"]


def _peaked(n: int = 10) -> np.ndarray:
    p = np.full(n, 0.4 / (n - 1))
    p[3] = 0.6
    return p


def test_a_plugin_miner_advises_on_its_own_namespaced_key(plugin):
    assert "favourite.gamma" in SCHEMA["mining"]
    cfg = Config({"mining": {"positive": "favourite", "negative": "random",
                             "favourite": {"gamma": 4.0}}})
    notices = {n.code: n for n in advise(Snapshot(cfg, probabilities=_peaked()))}
    n = notices["favourite-dominates"]
    assert n.suggestion == {"mining": {"favourite.gamma": 2.0}}
    assert n.set_args() == "--set mining.favourite.gamma=2.0"
    nxt = Config().with_overrides(n.set_args().replace("--set ", "").split())
    assert nxt.get("mining", "favourite.gamma") == 2.0  # a valid next config
    # Not the chosen positive miner: it says nothing; nor on a flat distribution.
    other = cfg.replace({"mining": {"positive": "random"}})
    assert "favourite-dominates" not in {x.code for x in advise(Snapshot(other,
                                                                         probabilities=_peaked()))}
    assert "favourite-dominates" not in {x.code for x in advise(Snapshot(
        cfg, probabilities=np.full(10, 0.1)))}


def test_a_plugin_whose_advice_fails_leaves_the_others(plugin):
    cfg = Config({"mining": {"positive": "broken-advice", "negative": "auto-clustering",
                             "eta": 1000}})
    clusters = np.zeros(12, dtype=np.int64)  # every class in one cluster: collapsed
    codes = {n.code for n in advise(Snapshot(cfg, clusters=clusters))}
    assert "clusters-collapsed" in codes


def test_built_in_parts_advise_from_plain_values():
    """Auto-clustering's η advice from a Seen alone (no config, no run folder)."""
    settings = Config({"mining": {"eta": 1000}}).mining
    (n,) = AutoClustering.advise(settings, Seen(clusters=np.zeros(12, dtype=np.int64)))
    assert n.code == "clusters-collapsed" and n.suggestion["mining"]["eta"] < 1000
    sparse = np.array([0, 0] + [-1] * 10)
    (n,) = AutoClustering.advise(Config({"mining": {"eta": 1}}).mining, Seen(clusters=sparse))
    assert n.code == "clusters-sparse" and n.suggestion["mining"]["eta"] > 1
    # Classes without samples do not count: two present classes are too few to judge.
    dist = np.array([1.0, 1.0] + [np.nan] * 10)
    assert AutoClustering.advise(settings, Seen(clusters=sparse, mean_distance=dist)) == []


def test_the_active_parts_are_the_config_s_choices():
    cfg = Config({"mining": {"positive": "random", "negative": "distance", "batch": "hard"},
                  "loss": {"kind": "metric"}})
    names = [(section, part.name) for section, part in active_parts(cfg.to_dict())]
    assert names == [("mining", "random"), ("mining", "distance"), ("mining", "hard"),
                     ("loss", "metric")]
    assert active_parts({"mining": {"positive": "not-loaded"}}) == []


def test_the_loss_says_why_it_collapsed():
    """The metric loss's own remedy (its softplus dead zone), and the paper's batch miner
    ``all`` swapped for semi-hard triplets with it; a loss without one gets the generic
    advice."""
    values = Config({"loss": {"kind": "metric"}, "mining": {"batch": "all"}}).to_dict()
    why, suggestion = LOSSES["metric"].collapse_remedy(None, values)
    assert "softplus" in why
    assert suggestion == {"loss": {"kind": "triplet", "alpha": SCHEMA["loss"]["alpha"].default},
                          "mining": {"batch": "semihard"}}
    Config().replace(suggestion)
    dead = Snapshot(Config({"loss": {"kind": "metric"}, "mining": {"batch": "all"}}),
                    epochs=[{"val_top1": 0.01}], mean_distance=np.zeros(62))
    assert advice.collapsed(dead).suggestion == suggestion
    assert LOSSES["triplet"].collapse_remedy(None, values) is None


def test_advice_names_no_part_and_reads_no_miner_parameter():
    source = inspect.getsource(advice)
    names = [n for by_name in MINERS.values() for n in by_name] + list(LOSSES)
    for name in names:
        assert f'"{name}"' not in source, name
    for key in ("eta", "gamma", "theta", "w"):
        assert f"mining.{key}" not in source and f'"{key}"' not in source, key
