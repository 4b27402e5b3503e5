import pytest

from siam_workbench.base.errors import SiamError
from siam_workbench.project.config import SCHEMA, Config, dump_toml, paper_defaults
from siam_workbench.project.project import create_project, load_project


def test_defaults_validate_and_round_trip_through_toml(tmp_path):
    import tomllib

    cfg = Config()
    again = Config(tomllib.loads(cfg.to_toml()))
    assert again == cfg
    assert cfg.loss.alpha == 0.1 and cfg.model.backbone == "mokin37"  # the recipe's margin


@pytest.mark.parametrize("values, key", [
    ({"train": {"epochz": 3}}, "train.epochz"),
    ({"trian": {"epochs": 3}}, "trian"),
    ({"train": {"epochs": 0}}, "train.epochs"),
    ({"train": {"epochs": "ten"}}, "train.epochs"),
    ({"loss": {"kind": "hinge"}}, "loss.kind"),
    ({"mining": {"theta": 1.5}}, "mining.theta"),
    ({"augment": {"enabled": "yes"}}, "augment.enabled"),
    ({"data": {"train_fonts": "NanumGothic"}}, "data.train_fonts"),
    ({"model": {"backbone": "vgg"}}, "model.backbone"),
    ({"augment": {"scale_min": 0.9, "scale_max": 0.8}}, "augment.scale_min"),
])
def test_bad_values_name_the_key(values, key):
    with pytest.raises(SiamError, match=key.replace(".", r"\.")):
        Config(values)


def test_overrides_parse_toml_literals():
    cfg = Config().with_overrides(["mining.gamma=1", "train.device=cpu", "augment.enabled=false",
                                   'data.train_fonts=["a.ttf", "b.ttf"]'])
    assert cfg.mining.gamma == 1.0 and cfg.train.device == "cpu"
    assert cfg.augment.enabled is False and cfg.data.train_fonts == ["a.ttf", "b.ttf"]
    with pytest.raises(SiamError, match="section.key=value"):
        Config().with_overrides(["gamma=1"])


def test_paper_defaults_use_paper_epoch():
    paper = paper_defaults()
    assert paper["train"]["triplets"] == 10240 and paper["train"]["iterations"] == 50
    assert paper["loss"] == {"kind": "metric", "alpha": 10.0, "rho": 0.1, "tau": 1.0, "xi": 1.0,
                             "centers": "epoch"}
    assert paper["mining"]["eta"] == 1000 and paper["mining"]["gamma"] == 2.0
    cfg = Config(paper)  # a valid config: every key of the preset exists in the schema
    assert cfg.train.triplets == 10240 and cfg.train.batch_mode == "triplets"
    assert cfg.train.lr_schedule == "constant"
    assert not (cfg.augment.stroke or cfg.augment.blur or cfg.augment.noise
                or cfg.augment.elastic)


def test_every_field_has_help_and_default_in_range():
    for section, fields in SCHEMA.items():
        for key, f in fields.items():
            assert f.help, f"{section}.{key}"
            if f.min is not None:
                assert f.default >= f.min


def test_project_load_errors_name_file_and_key(tmp_path):
    with pytest.raises(SiamError, match="not a project"):
        load_project(tmp_path)
    (tmp_path / "project.toml").write_text("[train]\nepochs = -1\n")
    with pytest.raises(SiamError, match=r"project\.toml: train\.epochs"):
        load_project(tmp_path)
    (tmp_path / "project.toml").write_text("[train\n")
    with pytest.raises(SiamError, match="invalid TOML"):
        load_project(tmp_path)


def test_create_project_refuses_to_overwrite(tmp_path):
    p = create_project(tmp_path / "p", name="demo")
    assert load_project(p.root).name == "demo"
    with pytest.raises(SiamError, match="already holds a project"):
        create_project(tmp_path / "p")


def test_shipped_projects_load():
    from pathlib import Path

    root = Path(__file__).resolve().parents[3] / "projects"
    for name in ("quickstart", "hangul-2350"):
        project = load_project(root / name)
        assert project.config.model.backbone == "mokin37"
    assert load_project(root / "hangul-2350").config.data.alphabet == "hangul-2350"
    assert len(load_project(root / "hangul-2350").config.data.train_fonts) == 8


def test_dump_toml_escapes_strings():
    import tomllib

    text = dump_toml({"project": {"name": 'a "quoted"\\ name', "description": "x\ny"}})
    assert tomllib.loads(text)["project"]["name"] == 'a "quoted"\\ name'
