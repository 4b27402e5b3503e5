"""project.toml edits keep comments; typo'd keys get a did-you-mean."""

from __future__ import annotations

import tomllib

import pytest

from siam_workbench.base.errors import SiamError
from siam_workbench.project.config import Config
from siam_workbench.project.tomledit import fix_key, merge_config, save_project_file

TEXT = """# My project: keep this comment
[data]
alphabet = "digits"  # ten classes

[train]
# how long to train
epoch = 5  # typo for epochs
lr = 0.003
"""


def test_unknown_key_suggests_the_nearest_known_one():
    with pytest.raises(SiamError, match=r"did you mean `epochs`\?"):
        Config(tomllib.loads(TEXT))
    with pytest.raises(SiamError, match=r"did you mean \[mining\]\?"):
        Config({"minning": {}})


def test_fixing_a_typo_keeps_the_value_and_the_comments(tmp_path):
    f = tmp_path / "project.toml"
    f.write_text(TEXT, encoding="utf-8")
    backup = fix_key(f, "train", "epoch", rename_to="epochs")
    assert backup.read_text(encoding="utf-8") == TEXT
    text = f.read_text(encoding="utf-8")
    assert "# My project: keep this comment" in text and "# how long to train" in text
    assert "epochs = 5  # typo for epochs" in text
    assert Config(tomllib.loads(text)).train.epochs == 5
    fix_key(f, "data", "alphabet")  # removing keeps the rest
    assert "alphabet" not in f.read_text() and "# how long to train" in f.read_text()


def test_saving_changes_only_what_changed(tmp_path):
    f = tmp_path / "project.toml"
    f.write_text(TEXT.replace("epoch =", "epochs ="), encoding="utf-8")
    cfg = Config(tomllib.loads(f.read_text())).replace(
        {"train": {"lr": 0.01}, "mining": {"gamma": 1.0}})
    save_project_file(f, cfg)
    text = f.read_text(encoding="utf-8")
    assert "# ten classes" in text and "lr = 0.01" in text and "gamma = 1.0" in text
    assert "theta" not in text  # defaults are not spelled out
    assert Config(tomllib.loads(text)) == cfg
    assert merge_config(text, cfg) == text  # nothing to change: byte-identical
