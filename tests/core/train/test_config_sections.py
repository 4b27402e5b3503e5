"""Typed config sections (siam_workbench.project.sections): each built-in section's view
declares exactly the schema's built-in keys with their types, a plug-in's keys stay reachable,
and mypy flags a misspelt key or a wrong type where a section is read."""

from __future__ import annotations

import pickle
import typing
from pathlib import Path

import pytest

from siam_workbench.base.fields import Field
from siam_workbench.parts.losses import LOSSES
from siam_workbench.parts.miners import MINERS
from siam_workbench.project import plugins
from siam_workbench.project.config import SCHEMA, Config
from siam_workbench.project.sections import VIEWS, SectionView, declared_keys

REPO = Path(__file__).resolve().parents[3]
PLUGIN = REPO / "examples" / "plugins" / "own_parts.py"
_TYPES: dict[type, object] = {int: int, float: float, bool: bool, str: str, list: list[str]}


def _builtin(part: object) -> bool:
    return getattr(part, "__module__", "").startswith("siam_workbench.")


def builtin_fields(section: str) -> dict[str, Field]:
    """The schema's keys of ``section`` that the package itself declares: everything but what
    a plug-in part (loaded by another test of this process, say) added."""
    fields = SCHEMA[section]
    if section == "mining":
        parts = [c for by_name in MINERS.values() for c in by_name.values()]
        fixed = set(MINERS)
    elif section == "loss":
        parts, fixed = list(LOSSES.values()), {"kind"}
    else:
        return dict(fields)
    keys = fixed | {k for c in parts if _builtin(c) for k in c.schema_params()}
    return {k: f for k, f in fields.items() if k in keys}


@pytest.mark.parametrize("section", list(SCHEMA))
def test_each_view_declares_the_schema_keys_with_their_types(section):
    assert section in VIEWS, f"[{section}] has no typed view in project/sections.py"
    view = VIEWS[section]
    fields = builtin_fields(section)
    assert declared_keys(view) == list(fields), \
        f"[{section}]: the view's fields and SCHEMA's built-in keys differ"
    hints = typing.get_type_hints(view)
    for key, f in fields.items():
        assert hints[key] == _TYPES[f.kind], f"{section}.{key}: {hints[key]} vs {f.kind}"


def test_the_drift_check_sees_a_key_the_view_lacks(monkeypatch):
    """The check above fails when the schema gains a key no view declares."""
    monkeypatch.setitem(SCHEMA["train"], "new_knob", Field(int, 1, "x"))
    assert declared_keys(VIEWS["train"]) != list(builtin_fields("train"))


def test_views_are_typed_frozen_and_equal_to_the_table():
    cfg = Config({"train": {"epochs": 3}, "data": {"font_dirs": ["/f"]}})
    assert cfg.train.epochs == 3 and isinstance(cfg.train.lr, float)
    for section, table in cfg.to_dict().items():
        view = getattr(cfg, section)
        assert isinstance(view, VIEWS[section])
        assert {k: getattr(view, k) for k in table} == table
    with pytest.raises(AttributeError):
        cfg.train.epochs = 5  # type: ignore[misc]
    cfg.data.font_dirs.append("/g")  # a view holds a copy: the config is unchanged
    assert cfg.to_dict()["data"]["font_dirs"] == ["/f"]
    with pytest.raises(AttributeError, match=r"train\.epochz"):
        cfg.train.epochz  # type: ignore[attr-defined]  # noqa: B018
    assert getattr(cfg.mining, "nope", None) is None
    again = pickle.loads(pickle.dumps(cfg))
    assert again == cfg and again.mining.gamma == cfg.mining.gamma


def test_plug_in_keys_stay_reachable_by_attribute_and_get():
    before = plugins._snapshot()
    plugins.load_plugin_file(PLUGIN)
    try:
        cfg = Config({"mining": {"positive": "loose-first", "loose_power": 1.5},
                      "loss": {"kind": "soft-margin", "soft-margin": {"alpha": 0.7}}})
        assert getattr(cfg.mining, "loose_power") == 1.5  # noqa: B009 - as a part reads it
        assert getattr(cfg.loss, "soft-margin.alpha") == 0.7
        assert cfg.get("loss", "soft-margin.alpha") == 0.7 and cfg.loss.alpha == 0.1
        assert LOSSES["soft-margin"](cfg.loss).margin == 0.7  # the part reads its own key
        assert {k: getattr(cfg.loss, k) for k in cfg.to_dict()["loss"]} == cfg.to_dict()["loss"]
    finally:
        plugins._undo(plugins._changes_since(before))


def test_a_section_without_a_view_still_reads_by_attribute():
    view = SectionView(_extra={"knob": 2})
    assert view.knob == 2  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        view.other  # type: ignore[attr-defined]  # noqa: B018


def test_mypy_flags_a_misspelt_key_and_a_wrong_type(tmp_path):
    """What the typed views are for: a call site's mistake is a type error, not a run that
    fails (or silently reads a default) later."""
    from mypy import api

    snippet = tmp_path / "call_site.py"
    snippet.write_text(
        "from siam_workbench.project.config import Config\n\n\n"
        "def f(cfg: Config) -> str:\n"
        "    n: int = cfg.train.epochs\n"
        "    cfg.mining.gama\n"
        "    return cfg.data.image_size\n")
    (tmp_path / "mypy.ini").write_text("[mypy]\n")  # not the project's settings
    src = REPO / "src" / "siam_workbench" / "project"
    out, err, status = api.run([  # only these files: the rest of the package is not read
        "--no-incremental", "--follow-imports=skip", "--config-file", str(tmp_path / "mypy.ini"),
        "--python-version", "3.11", str(snippet), str(src / "config.py"),
        str(src / "sections.py")])
    assert status == 1, out + err
    assert 'call_site.py:6: error: "MiningSection" has no attribute "gama"' in out, out
    assert "call_site.py:7: error: Incompatible return value type" in out, out
    assert "call_site.py:5" not in out  # epochs is an int: fine
