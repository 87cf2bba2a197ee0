"""The config system: typed keys, dotted overrides, and errors that name the key and the closest valid one."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from ganforge.config import Config, bundled_configs, load_config
from ganforge.errors import ConfigError

TOY = {"model": {"name": "mlp_tiny"}, "data": {"name": "toy2d"}}
DCGAN = {"model": {"name": "dcgan_tiny"}, "data": {"name": "faces"}}


def write_yaml(path: Path, data: object) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


# ------------------------------------------------------------------------------------------ typed keys

# (key, a valid override value, the value it parses to, an invalid override value)
PUBLIC_KEYS = [
    ("model.name", "dcgan_tiny", "dcgan_tiny", "[1, 2]"),
    ("data.name", "digits", "digits", "3"),
    ("data.batch_size", "32", 32, "abc"),
    ("data.resolution", "64", 64, "big"),
    ("train.steps", "200", 200, "abc"),
    ("train.seed", "7", 7, "1.5"),
    ("train.precision", "bf16", "bf16", "fp8"),
    ("train.deterministic", "true", True, "sometimes"),
    ("train.log_every", "10", 10, "often"),
    ("train.ckpt_every", "100", 100, "[100]"),
    ("objective.loss", "hinge", "hinge", "42"),
]


@pytest.mark.parametrize(("key", "text", "value", "bad"), PUBLIC_KEYS, ids=[k[0] for k in PUBLIC_KEYS])
def test_public_key_is_set_by_dotted_override_and_type_checked(key, text, value, bad):
    cfg = load_config(DCGAN, [f"{key}={text}"])
    assert cfg.get(key) == value
    assert type(cfg.get(key)) is type(value)
    with pytest.raises(ConfigError, match=rf"'{key}'") as err:
        load_config(DCGAN, [f"{key}={bad}"])
    assert "config." not in str(err.value)


def test_defaults_are_typed():
    cfg = load_config(TOY)
    assert (cfg.train.precision, cfg.train.deterministic, cfg.objective.loss) == ("fp32", False, "ns")
    assert cfg.data.resolution is None
    for key in ("data.batch_size", "train.steps", "train.seed", "train.log_every", "train.ckpt_every"):
        assert type(cfg.get(key)) is int, key


def test_wrong_type_messages_say_what_was_expected():
    with pytest.raises(ConfigError, match=r"^'train\.steps' must be an integer, got 'abc'$"):
        load_config(TOY, ["train.steps=abc"])
    with pytest.raises(ConfigError, match=r"'train\.precision' must be one of fp32, bf16, fp16, got 'fp8'"):
        load_config(TOY, ["train.precision=fp8"])
    with pytest.raises(ConfigError, match=r"'train\.steps' must be a positive integer, got 0"):
        load_config(TOY, ["train.steps=0"])
    with pytest.raises(ConfigError, match=r"'train\.steps' must be an integer, got True"):
        load_config(TOY, ["train.steps=true"])  # a bool is not a number of steps
    with pytest.raises(ConfigError, match=r"'model\.ngf' must be an integer"):
        load_config(DCGAN, ["model.ngf=wide"])  # builder params are typed by the builder's signature
    with pytest.raises(ConfigError, match=r"'optim\.g\.betas' must have 2 items"):
        load_config(TOY, ["optim.g.betas=[0.5]"])


def test_scientific_notation_is_a_number_in_overrides_and_files(tmp_path):
    cfg = load_config(TOY, ["optim.g.lr=1e-4", "train.steps=2e3"])
    assert cfg.optim.g.lr == pytest.approx(1e-4)
    assert cfg.train.steps == 2000 and type(cfg.train.steps) is int
    path = write_yaml(tmp_path / "c.yaml", TOY)
    path.write_text(path.read_text() + "optim:\n  d:\n    lr: 3e-4\n")
    assert load_config(path).optim.d.lr == pytest.approx(3e-4)


# ------------------------------------------------------------------------------------------ unknown keys

UNKNOWN = [
    (DCGAN, "model.ngff=8", "model.ngff", "ngf"),
    (DCGAN, "model.zdim=8", "model.zdim", "z_dim"),
    (TOY, "data.kindd=ring", "data.kindd", "kind"),
    (TOY, "data.batchsize=8", "data.batchsize", "batch_size"),
    (TOY, "train.stpes=8", "train.stpes", "steps"),
    (TOY, "optim.g.lrr=0.1", "optim.g.lrr", "lr"),
    (TOY, "objective.n_critc=5", "objective.n_critc", "n_critic"),
]


@pytest.mark.parametrize(("base", "override", "key", "closest"), UNKNOWN, ids=[u[2] for u in UNKNOWN])
def test_unknown_key_names_the_key_and_the_closest_valid_one(base, override, key, closest):
    with pytest.raises(ConfigError) as err:
        load_config(base, [override])
    message = str(err.value)
    assert f"unknown key '{key}'" in message
    assert f"did you mean '{closest}'?" in message
    assert "config." not in message


def test_unknown_key_in_yaml_file_is_reported_like_an_override(tmp_path):
    path = write_yaml(tmp_path / "c.yaml", {**TOY, "data": {"name": "toy2d", "kindd": "ring"}})
    with pytest.raises(ConfigError, match=r"unknown key 'data\.kindd'.*did you mean 'kind'\?"):
        load_config(path)


def test_unknown_top_level_section():
    with pytest.raises(ConfigError, match=r"^unknown section 'trian' \(did you mean 'train'\?\)"):
        load_config({**TOY, "trian": {"steps": 3}})


def test_unknown_key_with_no_close_match_lists_the_valid_keys():
    with pytest.raises(ConfigError) as err:
        load_config(TOY, ["model.ngf=8"])  # an mlp has no ngf
    message = str(err.value)
    assert "did you mean" not in message
    assert "valid: depth, g_depth, hidden, latent_anneal," in message  # mlp_tiny: mlp's keys
    assert message.endswith("name, spectral_norm, z_dim")


def test_keys_the_trainer_fills_in_cannot_be_set():
    with pytest.raises(ConfigError, match=r"unknown key 'model\.shape'"):
        load_config(TOY, ["model.shape=[2]"])


@pytest.mark.parametrize(
    ("override", "closest"),
    [("model.name=dcgn", "dcgan"), ("data.name=toy2", "toy2d"), ("objective.loss=hinje", "hinge")],
)
def test_unknown_registered_name_suggests_the_closest(override, closest):
    with pytest.raises(ConfigError, match=rf"did you mean '{closest}'\?"):
        load_config(TOY, [override])


def test_section_that_is_not_a_mapping():
    with pytest.raises(ConfigError, match=r"^'model' must be a mapping"):
        load_config({"model": "dcgan"})


# ------------------------------------------------------------------------------------------ overrides


@pytest.mark.parametrize(
    ("override", "message"),
    [("train.steps", "must look like section.key=value"), ("steps=3", "must be dotted")],
)
def test_malformed_override(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(TOY, [override])


def test_override_into_an_empty_yaml_section(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model:\n  name: mlp_tiny\ndata:\n  name: toy2d\ntrain:\n")
    assert load_config(path, ["train.steps=5"]).train.steps == 5


def test_later_override_wins_and_the_input_dict_is_untouched():
    raw = copy.deepcopy(TOY)
    cfg = load_config(raw, ["train.steps=5", "train.steps=9", "data.kind=ring"])
    assert cfg.train.steps == 9
    assert cfg.data.params == {"kind": "ring"}
    assert raw == TOY


# ------------------------------------------------------------------------------------------ files


def test_yaml_round_trip_keeps_every_value(tmp_path):
    cfg = load_config(DCGAN, ["model.ngf=4", "train.precision=bf16", "optim.d.lr=1e-3", "data.resolution=64"])
    path = tmp_path / "c.yaml"
    path.write_text(cfg.to_yaml())
    again = load_config(path)
    assert again == cfg
    assert isinstance(again.optim.g.betas, tuple)
    assert again.model.params == {"ngf": 4}


def test_bundled_preset_loads_by_name():
    assert "quickstart" in bundled_configs()
    cfg = load_config("quickstart")
    assert isinstance(cfg, Config)
    assert cfg.model.name == "dcgan"


def test_missing_config_file_suggests_a_preset(tmp_path):
    with pytest.raises(ConfigError, match=r"'quickstrat' does not exist \(did you mean 'quickstart'\?\)"):
        load_config("quickstrat")
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("model: [unclosed\n", "is not valid YAML at line"),
        ("- a\n- b\n", "must hold a mapping of sections, got list"),
        (b"\x89PNG\r\n\x1a\n\x00\xff", "is not a text file"),
    ],
    ids=["invalid-yaml", "list", "binary"],
)
def test_unreadable_config_file(tmp_path, content, message):
    path = tmp_path / "c.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_config_path_that_is_a_folder(tmp_path):
    with pytest.raises(ConfigError, match="is a folder, not a YAML file"):
        load_config(tmp_path)


def test_swapping_a_builder_by_override_drops_the_presets_keys_for_the_old_one(tmp_path) -> None:
    """``ganforge train quickstart --set data.name=folder --set data.path=photos/``: the preset's
    MNIST-only ``data.split`` (and DCGAN's widths when the model is swapped) do not apply, so they are
    dropped with one warning instead of stopping the run; keys the user sets are still checked."""
    import numpy as np
    from PIL import Image

    for i in range(4):
        Image.fromarray(np.full((8, 8, 3), 40 * i, dtype=np.uint8)).save(tmp_path / f"{i}.png")
    with pytest.warns(UserWarning, match=r"dropped the config's data\.split"):
        cfg = load_config("quickstart", ["data.name=folder", f"data.path={tmp_path}"])
    assert cfg.data.params == {"path": str(tmp_path)} and cfg.data.batch_size == 64  # the recipe stays
    with pytest.warns(UserWarning, match=r"model\.ngf, model\.ndf"):
        assert load_config("quickstart", ["model.name=mlp"]).model.params == {}
    with (
        pytest.raises(ConfigError, match=r"unknown key 'data\.split' for dataset 'folder'"),
        pytest.warns(UserWarning),
    ):
        load_config("quickstart", ["data.name=folder", f"data.path={tmp_path}", "data.split=train"])
