"""The default recipe (siam_workbench.project.recipe): one set of defaults everywhere, sized to the
alphabet, and a project made with ``siam new`` that learns with nothing changed."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import siam_workbench.resources
from siam_workbench.base.errors import SiamError
from siam_workbench.data.alphabets import named_alphabet
from siam_workbench.project.config import Config, new_project_config
from siam_workbench.project.project import create_project, load_project
from siam_workbench.project.recipe import budget_images, needs_em, sized


def _siam(*args: str, cwd: Path | None = None, timeout: float = 120
          ) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "siam_workbench.cli", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=cwd)


def test_schema_defaults_are_the_recipe_file():
    """``Config()``, ``resources/defaults/recipe.toml`` and so ``siam new``
    agree key by key."""
    recipe = tomllib.loads(siam_workbench.resources.read_text("defaults", "recipe.toml"))
    defaults = Config()
    for section, table in recipe.items():
        for key, value in table.items():
            assert defaults.get(section, key) == value, f"{section}.{key}"
    # Not the paper's settings, which collapse on small alphabets (they stay a preset).
    assert defaults.loss.kind == "triplet" and defaults.mining.batch == "semihard"
    paper = new_project_config("digits", preset="paper")
    assert paper.loss.kind == "metric" and paper.loss.alpha == 10.0
    assert paper.train.batch_mode == "triplets" and paper.mining.batch == "all"


@pytest.mark.parametrize("classes", [2, 10, 26, 62, 78, 200, 2350, 11172])
def test_sizing_follows_the_number_of_classes(classes):
    names = [f"c{i}" for i in range(classes)]
    t = sized(names)["train"]
    p, k = t["classes_per_batch"], t["samples_per_class"]
    assert p == min(classes, 128)
    assert p * k >= 256 or k == 32
    assert (k == 4) == (classes > 128)
    images = t["epochs"] * t["iterations"] * p * k
    assert budget_images(classes) <= images <= budget_images(classes) + t["epochs"] * p * k
    assert t["epochs"] == (20 if classes >= 1000 else 10)
    # Larger alphabets get more images in all, fewer per class.
    if classes < 11172:
        bigger = sized([f"c{i}" for i in range(classes * 4)])["train"]
        more = bigger["epochs"] * bigger["iterations"] * bigger["classes_per_batch"] \
            * bigger["samples_per_class"]
        assert more >= images and more / (4 * classes) < images / classes


def test_framing_keeps_case_and_small_forms_apart():
    assert needs_em(named_alphabet("latin-digits").classes)
    assert needs_em(named_alphabet("cyrillic").classes)
    assert needs_em(["ア", "ァ", "イ"])
    assert not needs_em(named_alphabet("digits").classes)
    assert not needs_em(named_alphabet("hangul-2350").classes)
    assert not needs_em(list("abcdefgh"))  # lowercase only: nothing to confuse by size


def test_siam_new_copies_a_class_list_and_sizes_to_it(tmp_path):
    letters = tmp_path / "letters.txt"
    letters.write_text("\n".join("abcdefghijklmnopqrstuvwxyz") + "\n", encoding="utf-8")
    proc = _siam("new", str(tmp_path / "p"), "--alphabet", str(letters), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "triplet" in proc.stdout and "26 classes × 10 samples" in proc.stdout
    project = load_project(tmp_path / "p")
    assert project.config.data.alphabet == "letters.txt"
    assert (tmp_path / "p" / "letters.txt").read_bytes() == letters.read_bytes()
    letters.unlink()  # the project no longer needs the user's file
    project = load_project(tmp_path / "p")
    assert project.config.train.classes_per_batch == 26
    assert project.config.train.samples_per_class == 10


def test_siam_new_presets_and_overrides(tmp_path):
    proc = _siam("new", str(tmp_path / "paper"), "--alphabet", "greek", "--preset", "paper")
    assert proc.returncode == 0, proc.stderr
    cfg = load_project(tmp_path / "paper").config
    assert cfg.loss.kind == "metric" and cfg.train.batch_mode == "triplets"
    proc = _siam("new", str(tmp_path / "mine"), "--alphabet", "greek", "--set",
                 "train.epochs=3")
    assert proc.returncode == 0, proc.stderr
    cfg = load_project(tmp_path / "mine").config
    assert cfg.train.epochs == 3 and cfg.data.size_mode == "em"


def test_siam_new_refuses_bad_input_in_one_line(tmp_path):
    proc = _siam("new", str(tmp_path / "p"), "--alphabet", str(tmp_path / "nope.txt"))
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "nope.txt" in proc.stderr and not (tmp_path / "p").exists()
    proc = _siam("new", str(tmp_path / "q"), "--set", "train.epoch=3")
    assert proc.returncode == 2 and "train.epoch " in proc.stderr and "`epochs`" in proc.stderr
    assert not (tmp_path / "q" / "project.toml").exists()
    with pytest.raises(SiamError):
        create_project(tmp_path / "r", alphabet="digits", preset="nonsense")


@pytest.mark.slow
def test_a_new_project_of_a_custom_alphabet_beats_pixel_nn_with_every_default(tmp_path):
    """What a new user does, with nothing changed: ``siam new`` on their own 8-letter list,
    ``siam train`` (renders the installed fonts, trains the sized recipe), and the network ends
    above nearest-neighbour search on raw pixels on its validation faces."""
    letters = tmp_path / "mine.txt"
    letters.write_text("\n".join("acegmnrs") + "\n", encoding="utf-8")
    root = tmp_path / "p"
    assert _siam("new", str(root), "--alphabet", str(letters)).returncode == 0
    proc = _siam("train", str(root), "--json", timeout=3600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "collapsed" not in proc.stderr
    run = Path(json.loads(proc.stdout)["run"])
    recs = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    pixel = next(r["top1"] for r in recs if r.get("event") == "baseline")
    proc = _siam("eval", str(run), "--split", "val", "--checkpoint", "last", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["top1"] > pixel
