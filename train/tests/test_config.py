"""Config validation mirrors src/model/config.ts; TrainConfig presets and --key=value overrides."""
import json

import pytest

from infodiff.config import (CONFIGS_DIR, SCHEMA_PATH, ConfigError, TrainConfig, config_from_args, config_from_dict,
                             config_to_dict, keys_set_by, load_preset, resolve_architecture, resolve_schedule,
                             validate_train_config)


def test_defaults_come_from_the_shared_schema():
    schema = json.loads(SCHEMA_PATH.read_text())
    arch = resolve_architecture({})
    assert arch == {key: spec["default"] for key, spec in schema["architecture"].items()}
    assert arch["channelMultipliers"] == [1, 2, 2, 2] and arch["groupNormGroups"] == 32
    schedule = resolve_schedule({})
    assert schedule == {"kind": "linear", "timesteps": 1000, "betaStart": 1e-5, "betaEnd": 0.01,
                        "cosineOffset": 0.008}


def test_resolving_does_not_alias_the_schema_defaults():
    first = resolve_architecture({})
    first["channelMultipliers"].append(9)
    assert resolve_architecture({})["channelMultipliers"] == [1, 2, 2, 2]


@pytest.mark.parametrize("given, message", [
    ({"latentDims": 4}, "architecture has unknown field(s) latentDims"),
    ({"latentDim": 0}, "architecture.latentDim must be >= 1, got 0"),
    ({"latentDim": 2.5}, "architecture.latentDim must be an integer, got 2.5"),
    ({"latentDim": True}, "architecture.latentDim must be an integer, got true"),
    ({"latentDim": "8"}, "architecture.latentDim must be an integer"),
    ({"imageChannels": 2}, "architecture.imageChannels must be one of 1, 3, got 2"),
    ({"dropout": 1.5}, "architecture.dropout must be <= 1, got 1.5"),
    ({"latentHead": "z"}, 'architecture.latentHead must be one of "a", "mu"'),
    ({"channelMultipliers": []}, "architecture.channelMultipliers needs at least 1 entries"),
    ({"channelMultipliers": [1, 0]}, "architecture.channelMultipliers[1] must be >= 1"),
    ({"channelMultipliers": 2}, "architecture.channelMultipliers must be an array of integers"),
    ({"imageSize": 20}, "architecture.imageSize 20 must be divisible by 2^(levels-1) = 8"),
    ({"attentionLevels": [4]}, "architecture.attentionLevels contains 4, but there are only 4 levels"),
    ({"baseChannels": 16}, "architecture.groupNormGroups 32 does not divide the channel count 16"),
    ({"baseChannels": 24, "groupNormGroups": 16}, "groupNormGroups 16 does not divide the channel count 24"),
])
def test_architecture_errors_name_the_field(given, message):
    with pytest.raises(ConfigError) as err:
        resolve_architecture(given)
    assert message in str(err.value)


def test_integral_floats_count_as_integers_like_javascript():
    assert resolve_architecture({"latentDim": 16.0})["latentDim"] == 16
    assert isinstance(resolve_architecture({"latentDim": 16.0})["latentDim"], int)


@pytest.mark.parametrize("given, message", [
    ({"kind": "quadratic"}, 'schedule.kind must be one of "linear", "cosine"'),
    ({"timesteps": 1}, "schedule.timesteps must be >= 2"),
    ({"betaStart": 0.02, "betaEnd": 0.01}, "schedule needs 0 < betaStart <= betaEnd < 1, got 0.02, 0.01"),
    ({"betaStart": 0}, "schedule needs 0 < betaStart"),
    ({"warmup": 3}, "schedule has unknown field(s) warmup"),
])
def test_schedule_errors(given, message):
    with pytest.raises(ConfigError) as err:
        resolve_schedule(given)
    assert message in str(err.value)


def test_cosine_schedule_ignores_the_linear_betas():
    assert resolve_schedule({"kind": "cosine", "betaStart": 0.5, "betaEnd": 0.1})["kind"] == "cosine"


@pytest.mark.parametrize("preset", sorted(p.name for p in CONFIGS_DIR.glob("*.json")))
def test_every_preset_is_valid_and_explains_itself(preset):
    cfg = validate_train_config(load_preset(CONFIGS_DIR / preset))
    assert cfg.architecture["imageSize"] == cfg.image_size
    assert "$comment" in json.loads((CONFIGS_DIR / preset).read_text())


def test_overrides_accept_both_spellings_and_keep_types():
    cfg = config_from_args(["--config", "configs/fmnist_tiny.json", "--steps=7", "--lr", "0.01", "--resume",
                            "--architecture.latentDim=4", "--architecture.channelMultipliers=[1,1]",
                            "--schedule.kind=cosine", "--notes", "two words"])
    assert (cfg.steps, cfg.lr, cfg.resume, cfg.notes) == (7, 0.01, True, "two words")
    assert cfg.architecture["latentDim"] == 4 and cfg.architecture["channelMultipliers"] == [1, 1]
    assert cfg.architecture["baseChannels"] == 8  # the preset's value survives a sibling override
    assert cfg.schedule["kind"] == "cosine"
    assert config_from_args(["--resume", "false"]).resume is False


def test_keys_set_by_names_what_the_command_line_sets_in_either_spelling():
    argv = ["--config", "configs/fmnist_tiny.json", "--notes", "two words", "--steps=7", "--resume",
            "--architecture.latentDim=4", "--hflip", "false"]
    assert keys_set_by(argv) == {"notes", "steps", "resume", "architecture", "hflip"}
    assert keys_set_by(["--config=configs/fmnist_cpu.json", "--notes=x"]) == {"notes"}
    assert keys_set_by(["--config", "configs/fmnist_cpu.json"]) == frozenset()


@pytest.mark.parametrize("args, message", [
    (["--step=3"], "unknown config key 'step'"),
    (["--steps=3.5"], "--steps expects an integer, got '3.5'"),
    (["--lr=fast"], "--lr expects a number, got 'fast'"),
    (["--resume=maybe"], "--resume expects true or false"),
    (["--steps"], "--steps needs a value"),
    (["--architecture=3"], "--architecture is a section"),
    (["--architecture.depth=3"], "unknown config key 'architecture.depth'"),
    (["--model.latentDim=3"], "only architecture.* and schedule.* nest"),
    (["steps=3"], "expected --key=value, got 'steps=3'"),
    (["--dataset=mnist"], "dataset must be one of fashion-mnist, shapes, folder, got 'mnist'"),
    (["--batch_size=0"], "batch_size must be >= 1, got 0"),
    (["--ema_decay=1"], "ema_decay must be in [0, 1)"),
    (["--min_lr=1"], "min_lr 1.0 must not exceed lr"),
    (["--kld_weight=1"], "architecture.latentHead must be 'mu' when kld_weight is 1.0"),
    (["--use_capacity"], "use_capacity anneals the KL term, which needs kld_weight > 0"),
    (["--prior=10mix", "--architecture.latentDim=5"], "latentDim 5 is odd"),
    (["--architecture.imageSize=64"], "architecture.imageSize 64 differs from image_size 32"),
    (["--architecture.imageChannels=3"], "fashion-mnist is grayscale"),
    (["--config=configs/nope.json"], "config file configs/nope.json not found"),
])
def test_override_errors(args, message):
    with pytest.raises(ConfigError) as err:
        config_from_args(args)
    assert message in str(err.value)


def test_preset_with_unknown_key_is_refused(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"steps": 3, "stepz": 4}))
    with pytest.raises(ConfigError, match="unknown key\\(s\\) stepz"):
        load_preset(path)


def test_malformed_preset_is_one_line_naming_the_file_and_the_json_error(tmp_path, capsys):
    from infodiff.train import main

    path = tmp_path / "broken.json"
    path.write_text('{\n  "steps": 3\n  "lr": 1e-4\n}\n')  # a missing comma on line 2
    with pytest.raises(ConfigError) as err:
        load_preset(path)
    assert str(err.value) == f"{path} is not valid JSON: line 3, column 3: Expecting ',' delimiter"
    assert main(["--config", str(path)]) == 1
    out = capsys.readouterr()
    assert out.err == f"error: {path} is not valid JSON: line 3, column 3: Expecting ',' delimiter\n"
    assert "Traceback" not in out.err + out.out


def test_preset_integers_widen_to_float_fields(tmp_path):
    path = tmp_path / "ints.json"
    path.write_text(json.dumps({"lr": 1, "min_lr": 0}))
    cfg = validate_train_config(load_preset(path))
    assert isinstance(cfg.lr, float) and cfg.lr == 1.0


def test_kl_variant_with_mu_head_is_accepted():
    cfg = config_from_args(["--kld_weight=1", "--mmd_weight=0", "--architecture.latentHead=mu", "--use_capacity"])
    assert cfg.use_capacity and cfg.architecture["latentHead"] == "mu"


def test_dict_round_trip_is_identity():
    cfg = config_from_args(["--config=configs/fmnist_cpu.json"])
    assert config_from_dict(json.loads(json.dumps(config_to_dict(cfg)))) == cfg
    with pytest.raises(ConfigError, match="unknown key"):
        config_from_dict({**config_to_dict(cfg), "extra": 1})


def test_default_train_config_is_the_official_fmnist_objective():
    cfg = validate_train_config(TrainConfig())
    assert (cfg.mmd_weight, cfg.kld_weight, cfg.lr, cfg.weight_decay, cfg.grad_clip) == (0.1, 0.0, 1e-4, 1e-5, 1.0)
    assert cfg.prior == "regular" and cfg.dataset == "fashion-mnist"
