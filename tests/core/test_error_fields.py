"""SiamError carries what it is about as fields (the GUI reads them, never the text), while
``str(err)`` stays the one line the CLI prints."""

from __future__ import annotations

import importlib.util

import pytest

from siam_workbench.base.errors import SiamError
from siam_workbench.project.config import Config
from siam_workbench.project.project import load_project


def test_text_is_unchanged_and_fields_are_kept_across_files():
    err = SiamError("train.lr must be a number, got 'x'", "/p/project.toml", section="train",
                    key="lr")
    assert str(err) == "/p/project.toml: train.lr must be a number, got 'x'"
    assert err.message == "train.lr must be a number, got 'x'" and err.setting == "train.lr"
    again = SiamError("unknown section [trian]", section="trian", hint="train", unknown=True)
    moved = again.at("/q/project.toml", suffix=" (more)")
    assert str(moved) == "/q/project.toml: unknown section [trian] (more)"
    assert (moved.section, moved.key, moved.hint, moved.unknown) == ("trian", None, "train", True)
    assert moved.setting == "[trian]" and SiamError("plain").setting is None


@pytest.mark.parametrize("values, want", [
    ({"train": {"epoch": 3}}, ("train", "epoch", "epochs", True)),
    ({"trian": {"epochs": 3}}, ("trian", None, "train", True)),
    ({"train": {"triplets": -5}}, ("train", "triplets", None, False)),
    ({"augment": {"scale_min": 2.0, "scale_max": 1.0}}, ("augment", "scale_min", None, False)),
])
def test_config_errors_name_their_setting(values, want):
    with pytest.raises(SiamError) as info:
        Config(values)
    e = info.value
    assert (e.section, e.key, e.hint, e.unknown) == want
    assert e.path is None and str(e) == e.message


def test_project_file_errors_keep_the_fields_and_the_line(tmp_path):
    (tmp_path / "project.toml").write_text('[train]\nepoch = 3\n')
    with pytest.raises(SiamError) as info:
        load_project(tmp_path)
    e = info.value
    assert e.path == str(tmp_path / "project.toml") and (e.section, e.key) == ("train", "epoch")
    assert str(e).startswith(f"{e.path}: unknown key train.epoch (did you mean `epochs`?)")
    (tmp_path / "project.toml").write_text('[train]\nepochs = 3\nlr = = 1\n')
    with pytest.raises(SiamError) as info:
        load_project(tmp_path)
    assert info.value.line == 3 and "invalid TOML" in str(info.value)


def test_the_gui_engine_adapter_is_gone():
    assert importlib.util.find_spec("siam_workbench.app.engine") is None
    from siam_workbench.data.fonts import face_token

    class Face:
        def __init__(self, path: str, index: int = 0) -> None:
            self.path, self.index = path, index

    assert face_token(Face("/f/DejaVuSans.ttf")) == "DejaVuSans.ttf"
    assert face_token(Face("/f/Noto.ttc")) == "Noto.ttc#0"
    assert face_token(Face("/f/Noto.ttc", 2)) == "Noto.ttc#2"
