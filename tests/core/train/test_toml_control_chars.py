"""The TOML writer (tomlkit) escapes every control character (issue 18): a ``\\r``, ``\\x07``
or ``\\x7f`` in a description used to make project.toml, the run's config.toml and the
checkpoint's config unreadable."""

from __future__ import annotations

import tomllib

from siam_workbench.project.config import Config, dump_toml
from siam_workbench.project.project import create_project, load_project

CONTROL = "".join(chr(c) for c in range(0x20)) + "\x7f"
TEXT = f'first line\r\nbell\x07 del\x7f quote" back\\slash {CONTROL} 가'


def test_every_control_character_round_trips_through_tomllib():
    text = dump_toml({"project": {"name": TEXT, "description": CONTROL},
                      "data": {"train_fonts": [TEXT, "\x1b[2J"]}})
    raw = tomllib.loads(text)
    assert raw["project"] == {"name": TEXT, "description": CONTROL}
    assert raw["data"]["train_fonts"] == [TEXT, "\x1b[2J"]
    assert all(ord(ch) >= 0x20 and ord(ch) != 0x7F for ch in text if ch != "\n")


def test_a_project_with_control_characters_saves_and_opens_again(tmp_path):
    config = Config().replace({"project": {"description": TEXT}})
    create_project(tmp_path / "p", config, name="bell\x07")
    again = load_project(tmp_path / "p")
    assert again.config.project.description == TEXT and again.config.project.name == "bell\x07"
    assert Config(tomllib.loads(again.config.to_toml())) == again.config
