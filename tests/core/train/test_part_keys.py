"""Settings namespaced per part (issue 18): a plug-in loss with its own ``alpha`` gets the key
``loss.<name>.alpha`` (TOML ``[loss.<name>]``), flat keys read as before, and the parts'
declarations give labels, greying and run-id tokens."""

from __future__ import annotations

import tomllib
from pathlib import Path

from siam_workbench.parts.losses import LOSSES, loss_class
from siam_workbench.project import plugins
from siam_workbench.project.config import SCHEMA, Config
from siam_workbench.project.partinfo import run_tokens, unused
from siam_workbench.project.tomledit import merge_config

PLUGIN = Path(__file__).resolve().parents[3] / "examples" / "plugins" / "own_parts.py"


def test_own_alpha_is_namespaced_round_trips_and_leaves_the_builtin_alone():
    before = plugins._snapshot()
    plugins.load_plugin_file(PLUGIN)
    try:
        assert SCHEMA["loss"]["alpha"].default == 0.1  # the built-in margin, unchanged
        assert "soft-margin.alpha" in SCHEMA["loss"]
        flat = Config({"loss": {"kind": "triplet", "alpha": 0.2}})  # an old flat config
        assert flat.loss.alpha == 0.2 and flat.get("loss", "soft-margin.alpha") == 0.3
        cfg = Config({"loss": {"kind": "soft-margin", "soft-margin": {"alpha": 0.7}}})
        assert loss_class("soft-margin")(cfg.loss).margin == 0.7
        assert loss_class("triplet")(cfg.loss).margin == 0.1
        assert Config(tomllib.loads(cfg.to_toml())) == cfg
        assert cfg.with_overrides(["loss.soft-margin.alpha=0.9"]).get(
            "loss", "soft-margin.alpha") == 0.9
        text = merge_config('[loss]\nkind = "soft-margin"  # mine\n', cfg)
        assert "# mine" in text and "[loss.soft-margin]" in text
        assert Config(tomllib.loads(text)).get("loss", "soft-margin.alpha") == 0.7
        why = unused(cfg.to_dict())
        assert "loss.alpha" in why and "loss.soft-margin.alpha" not in why
        assert "mining.loose_power" in why and "mining.gamma" not in why
    finally:  # leave nothing registered for the next test
        plugins._undo(plugins._changes_since(before))
    assert "soft-margin" not in LOSSES and "soft-margin.alpha" not in SCHEMA["loss"]


def test_run_tokens_and_used_when_from_the_declarations():
    assert run_tokens({"positive": "auto-probabilistic", "negative": "auto-clustering",
                       "batch": "all"}) == ["ap", "ac"]
    assert run_tokens({"positive": "random", "negative": "distance", "batch": "semihard"}) == \
        ["rnd", "dist", "semi"]
    assert run_tokens({"positive": "not-loaded"}) == ["not-loaded"]
    values = Config({"augment": {"blur": False}, "train": {"optimizer": "adam"}}).to_dict()
    why = unused(values)
    assert why["augment.blur_sigma"] == "not used while augment.blur is off"
    assert "train.momentum" in why and "augment.noise_std" not in why
    off = Config({"augment": {"enabled": False}}).to_dict()
    assert "not used while augment.enabled is off" == unused(off)["augment.noise_std"]
