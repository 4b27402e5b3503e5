"""The preprocess is a value (siam_workbench.data.framing.Preprocess), written exactly as before
into checkpoints and exports, and every older checkpoint form still loads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from siam_workbench.data.framing import EM, FIT, Preprocess, size_mode_of
from siam_workbench.model.checkpoint import save_checkpoint

REFERENCE = json.loads((Path(__file__).parents[2] / "data" / "run_files_before_issue18.json")
                       .read_text(encoding="utf-8"))


def test_value_round_trips_as_the_dict_checkpoints_always_held():
    for combo in REFERENCE.values():  # written by the code before the value existed
        old = combo["preprocess"]
        value = Preprocess.from_dict(old, 37)
        assert value == Preprocess(FIT, 2, 37) and value.to_dict() == old
        assert list(value.to_dict()) == list(old)  # same keys, same order
    em = Preprocess(EM, 4, 37)
    assert Preprocess.from_dict(em.to_dict(), 99) == em and not em.fits_ink
    with pytest.raises(AttributeError):
        em.margin = 3  # frozen: a run's framing is not changed in place


def test_older_forms_read_with_their_defaults():
    assert Preprocess.from_dict({"margin": 3}, 37) == Preprocess(FIT, 3, 37)
    assert Preprocess.from_dict({}, 64) == Preprocess(FIT, 2, 64)

    class OldData:  # a [data] section from before size_mode existed
        margin, image_size = 2, 37

    assert size_mode_of(OldData()) == FIT and Preprocess.of_data(OldData()) == Preprocess()


@pytest.mark.parametrize("stored, want", [
    (None, Preprocess(FIT, 5, 37)),  # before checkpoints carried it: the run's config.toml
    ({"image_size": 37, "margin": 3}, Preprocess(FIT, 3, 37)),  # before size modes
    ({"image_size": 37, "margin": 1, "size_mode": "em"}, Preprocess(EM, 1, 37)),
])
def test_old_checkpoints_load_with_their_preprocess(make_project, stored, want):
    from siam_workbench.infer.evaluate import load_run
    from siam_workbench.infer.export import _meta
    from siam_workbench.project.runfolder import RunFolder
    from siam_workbench.train.trainer import Trainer

    project = make_project(epochs=1, iterations=1)
    config = project.config.replace({"data": {"margin": 5}})
    final = Trainer(project, config=config).run()
    f = RunFolder(final.run_dir)
    state = torch.load(f.best, weights_only=True)
    assert state["preprocess"] == {"image_size": 37, "margin": 5, "size_mode": "fit"}
    if stored is None:
        del state["preprocess"]
    else:
        state["preprocess"] = stored
    del state["digest"], state["format"]  # save_checkpoint writes them again
    save_checkpoint(f.best, state)
    run = load_run(f.path)
    assert run.preprocess == want
    meta = _meta(run, "onnx")
    assert (meta["margin"], meta["size_mode"]) == (want.margin, want.size_mode)
