"""The web package format: exact round trips, float16, sharding, and every refusal names its reason."""
import copy
import json
import shutil

import numpy as np
import pytest
import torch

from infodiff.config import load_preset, validate_train_config
from infodiff.model import TIME_TABLE_KEY, build_model
from infodiff.schema_check import CONTRACT_DIR
from infodiff.webpackage import (SHARD_BYTES, WebPackageError, load_web_package, read_web_package,
                                 state_dict_arrays, validate_model_json, write_web_package)

FIXTURE = validate_train_config(load_preset("configs/fixture.json")).architecture
OFFICIAL_FMNIST = {"imageSize": 32, "baseChannels": 32, "channelMultipliers": [1, 2, 2, 2], "latentDim": 32}


def metadata_for(arch, model_id="test-model"):
    from infodiff.config import resolve_architecture, resolve_schedule

    arch = resolve_architecture(arch)
    d = arch["imageSize"] ** 2 * arch["imageChannels"]
    dim = arch["latentDim"]
    unit = [1.0] + [0.0] * (dim - 1)
    return {
        "id": model_id, "displayName": "Test", "description": "A test package.",
        "architecture": arch, "schedule": resolve_schedule({}),
        "preprocessing": {"imageSize": arch["imageSize"], "channels": arch["imageChannels"], "valueRange": [-1, 1],
                          "lightOnDark": True},
        "latent": {"mean": [0.0] * dim, "std": [1.0] * dim, "min": [-3.0] * dim, "max": [3.0] * dim, "prior": "normal"},
        "dimensionNames": [None] * dim,
        "attributeDirections": [{"name": "up", "group": "class", "vector": unit, "bias": 0.5}],
        "gaussianReference": {"kind": "diagonal", "mean": [0.0] * d, "variance": 0.2, "logEigenvalues": [-1.6] * d,
                              "logSnrLoc": 1.6, "logSnrScale": 1.0},
        "gallery": [],
        "provenance": {"source": "trained", "dataset": "test", "objective": {"mmdWeight": 0.1}, "steps": 1,
                       "batchSize": 2, "wallTimeSeconds": 1.0, "hardware": "test", "ema": True, "metrics": {},
                       "createdAt": "2025-01-01T00:00:00Z", "notes": ""},
    }


@pytest.fixture()
def fixture_model():
    model = build_model(FIXTURE, 1000, seed=3)
    for p in model.parameters():
        if p.requires_grad:
            torch.nn.init.normal_(p, std=0.3)  # so float16 rounding and wrong loads both show in the outputs
    return model.eval()


def write(path, model, metadata=None, float16=False):
    return write_web_package(path, state_dict_arrays(model.state_dict()), metadata or metadata_for(FIXTURE), float16)


def test_float32_round_trip_is_exact(tmp_path, fixture_model):
    write(tmp_path / "pkg", fixture_model)
    weights, meta = read_web_package(tmp_path / "pkg")
    state = fixture_model.state_dict()
    assert list(weights) == list(state)
    assert all(np.array_equal(weights[k], state[k].numpy()) for k in state)
    loaded, _ = load_web_package(tmp_path / "pkg")
    x = torch.rand(2, 1, 16, 16) * 2 - 1
    t, z = torch.tensor([5, 900]), torch.randn(2, FIXTURE["latentDim"])
    with torch.no_grad():
        assert torch.equal(loaded.encode(x), fixture_model.encode(x))
        assert torch.equal(loaded.predict_eps(x, t, z), fixture_model.predict_eps(x, t, z))
    assert not loaded.training
    assert meta["architecture"] == FIXTURE


def test_float16_round_trip_within_half_precision(tmp_path, fixture_model):
    write(tmp_path / "pkg", fixture_model, float16=True)
    document = json.loads((tmp_path / "pkg" / "model.json").read_text())
    specs = {w["name"]: w for w in document["weightsManifest"][0]["weights"]}
    assert "quantization" not in specs[TIME_TABLE_KEY]
    assert all(s["quantization"] == {"dtype": "float16"} and s["dtype"] == "float32"
               for n, s in specs.items() if n != TIME_TABLE_KEY)
    weights, _ = read_web_package(tmp_path / "pkg")
    state = fixture_model.state_dict()
    assert np.array_equal(weights[TIME_TABLE_KEY], state[TIME_TABLE_KEY].numpy())
    for name, tensor in state.items():
        assert np.allclose(weights[name], tensor.numpy(), rtol=2 ** -10, atol=1e-7), name
    loaded, _ = load_web_package(tmp_path / "pkg")
    x = torch.rand(2, 1, 16, 16) * 2 - 1
    with torch.no_grad():
        expected, got = fixture_model.encode(x), loaded.encode(x)
    assert (got - expected).abs().max() <= 1e-2 * expected.abs().max()
    size32 = sum(p.stat().st_size for p in (tmp_path / "pkg").glob("*.bin"))
    assert size32 < 0.6 * sum(t.numel() for t in state.values()) * 4


def test_large_model_is_sharded_at_4_mib(tmp_path):
    model = build_model(OFFICIAL_FMNIST, 1000, seed=0)
    write(tmp_path / "pkg", model, metadata_for(OFFICIAL_FMNIST))
    shards = sorted((tmp_path / "pkg").glob("*.bin"))
    document = json.loads((tmp_path / "pkg" / "model.json").read_text())
    assert document["weightsManifest"][0]["paths"] == [f"group1-shard{m}of6.bin" for m in range(1, 7)]
    assert [p.name for p in shards] == sorted(document["weightsManifest"][0]["paths"])
    assert all(p.stat().st_size <= SHARD_BYTES for p in shards)
    assert sum(p.stat().st_size for p in shards) == 5_538_114 * 4
    weights, _ = read_web_package(tmp_path / "pkg")
    assert all(np.array_equal(weights[k], v.numpy()) for k, v in model.state_dict().items())
    # Re-exporting a smaller model into the same folder leaves no stale shard behind.
    write(tmp_path / "pkg", build_model(FIXTURE, 1000, seed=0))
    assert [p.name for p in (tmp_path / "pkg").glob("*.bin")] == ["group1-shard1of1.bin"]


# ------------------------------------------------------------------ refusals on write

def test_write_refuses_wrong_weights(tmp_path, fixture_model):
    arrays = state_dict_arrays(fixture_model.state_dict())
    del arrays["encoder.fc_mu.bias"]
    arrays["encoder.extra"] = np.zeros(3, dtype=np.float32)
    arrays["encoder.fc_a.weight"] = np.zeros((6, 255), dtype=np.float32)
    with pytest.raises(WebPackageError) as err:
        write_web_package(tmp_path / "pkg", arrays, metadata_for(FIXTURE))
    message = str(err.value)
    assert "missing weights: encoder.fc_mu.bias" in message
    assert "unexpected weights: encoder.extra" in message
    assert "encoder.fc_a.weight [6, 255] (expected [6, 256])" in message
    assert not (tmp_path / "pkg" / "model.json").exists()


def test_write_refuses_non_finite_values(tmp_path, fixture_model):
    arrays = state_dict_arrays(fixture_model.state_dict())
    arrays["backbone.head.bias"][0] = np.nan
    with pytest.raises(WebPackageError, match="weight backbone.head.bias has non-finite values"):
        write_web_package(tmp_path / "pkg", arrays, metadata_for(FIXTURE))


def test_optional_fields_of_the_format_are_accepted(tmp_path, fixture_model):
    """latent.prior "10mix" (the mixture-prior models) and provenance.data (the training draw) round-trip."""
    metadata = copy.deepcopy(metadata_for(FIXTURE))
    metadata["latent"]["prior"] = "10mix"
    metadata["provenance"]["data"] = {"seed": 64, "size": 24000}
    write(tmp_path / "pkg", fixture_model, metadata)
    _, meta = read_web_package(tmp_path / "pkg")
    assert meta["latent"]["prior"] == "10mix" and meta["provenance"]["data"] == {"seed": 64, "size": 24000}


@pytest.mark.parametrize("edit, message", [
    (lambda m: m.pop("gallery"), "metadata is missing field(s) gallery"),
    (lambda m: m.update(extra=1), "metadata has unknown field(s) extra"),
    (lambda m: m.update(id="Bad_Id"), "metadata.id must match [a-z0-9-]+"),
    (lambda m: m["architecture"].update(latentDim=0), "metadata.architecture.latentDim must be >= 1"),
    (lambda m: m["preprocessing"].update(imageSize=32), "metadata.preprocessing.imageSize must equal architecture.imageSize 16, got 32"),
    (lambda m: m["preprocessing"].update(valueRange=[1, -1]), "metadata.preprocessing.valueRange must be increasing, got [1, -1]"),
    (lambda m: m["latent"].update(std=[1.0]), "metadata.latent.std must have 6 entries (latentDim), got 1"),
    (lambda m: m["latent"].update(prior="roll"), 'metadata.latent.prior must be one of "normal", "10mix", got "roll"'),
    (lambda m: m.update(dimensionNames=[None] * 5), "metadata.dimensionNames must have 6 entries (latentDim), got 5"),
    (lambda m: m["attributeDirections"][0].update(vector=[2.0] + [0.0] * 5), "must have unit norm, got norm 2"),
    (lambda m: m["attributeDirections"][0].update(bias=float("nan")), "attributeDirections[0].bias must be a finite number"),
    (lambda m: m["gaussianReference"].update(kind="full"), 'gaussianReference.kind must be one of "spectrum", "diagonal", got "full"'),
    (lambda m: m["gaussianReference"].update(mean=[0.0] * 255), "gaussianReference.mean must have 256 entries (H*W*C), got 255"),
    (lambda m: m["gaussianReference"].update(variance=0), "gaussianReference.variance must be > 0"),
    (lambda m: m.update(gallery=[{"file": "gallery/0.png", "label": "x"}]), "gallery[0].file 'gallery/0.png' does not exist"),
    (lambda m: m.update(gallery=[{"file": "../x.png", "label": "x"}]), "must be a relative path inside the package to a .png file"),
    (lambda m: m["provenance"].update(source="downloaded"), 'provenance.source must be one of "trained"'),
    (lambda m: m["provenance"].update(steps=-1), "provenance.steps must be an integer >= 0"),
    (lambda m: m["provenance"].update(ema="yes"), "provenance.ema must be true or false"),
    (lambda m: m["provenance"].update(data={"seed": 1}), "metadata.provenance.data is missing field(s) size"),
    (lambda m: m["provenance"].update(data={"seed": 1, "size": 0}), "provenance.data.size must be an integer >= 1"),
    (lambda m: m["provenance"].update(data={"seed": -2, "size": 5}), "provenance.data.seed must be an integer >= 0"),
    (lambda m: m["provenance"].update(data={"seed": 1, "size": 5, "order": 2}), "provenance.data has unknown field(s) order"),
    (lambda m: m["provenance"].update(command="x"), "metadata.provenance has unknown field(s) command"),
])
def test_metadata_refusals(tmp_path, fixture_model, edit, message):
    metadata = copy.deepcopy(metadata_for(FIXTURE))
    edit(metadata)
    with pytest.raises(WebPackageError) as err:
        write(tmp_path / "pkg", fixture_model, metadata)
    assert message in str(err.value)


# ------------------------------------------------------------------ the contract shared with the web reader

CONTRACT_CASES = json.loads((CONTRACT_DIR / "invalid" / "cases.json").read_text())


def test_the_contract_document_is_valid():
    meta = validate_model_json(json.loads((CONTRACT_DIR / "valid.json").read_text()))
    assert meta["student"]["plan"] == [9, 4]


@pytest.mark.parametrize("case", CONTRACT_CASES, ids=[c["file"] for c in CONTRACT_CASES])
def test_contract_refusals_match_the_web_reader(case):
    """Every invalid model.json of src/model/contract/invalid/ is refused with the message src/model/contract.test.ts
    expects from the web reader, word for word."""
    with pytest.raises(WebPackageError) as err:
        validate_model_json(json.loads((CONTRACT_DIR / "invalid" / case["file"]).read_text()))
    assert str(err.value) == case["message"]


# ------------------------------------------------------------------ refusals on read

def edit_manifest(path, change):
    document = json.loads((path / "model.json").read_text())
    change(document)
    (path / "model.json").write_text(json.dumps(document))


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(format="tfjs-layers"), 'format must be "infodiffusion-explorer/model"'),
    (lambda d: d.update(formatVersion=2), "formatVersion 2 is not supported"),
    (lambda d: d["weightsManifest"][0]["weights"][3].update(dtype="int32"), 'weights[3].dtype must be "float32", got "int32"'),
    (lambda d: d["weightsManifest"][0]["weights"][3].update(quantization={"dtype": "uint8"}), 'weights[3].quantization.dtype must be "float16", got "uint8"'),
    (lambda d: d["weightsManifest"][0]["weights"][3].update(shape=[8, 32]), "wrong shapes: backbone.time_embedding.timembedding.3.weight [8, 32] (expected [16, 16])"),
    (lambda d: d["weightsManifest"][0]["weights"].pop(), "the weights use"),
    (lambda d: d["weightsManifest"][0]["weights"][4].update(name=d["weightsManifest"][0]["weights"][3]["name"]),
     "lists weight(s) more than once: backbone.time_embedding.timembedding.3.weight"),
    (lambda d: d["weightsManifest"][0].update(paths=["weights.bin"]), 'paths[0] must be "group1-shard1of1.bin"'),
    (lambda d: d.pop("metadata"), "(root) is missing field(s) metadata"),
])
def test_read_refusals(tmp_path, fixture_model, change, message):
    write(tmp_path / "pkg", fixture_model)
    edit_manifest(tmp_path / "pkg", change)
    with pytest.raises(WebPackageError) as err:
        read_web_package(tmp_path / "pkg")
    assert message in str(err.value)


def test_read_refuses_truncated_or_missing_shards_and_bad_values(tmp_path, fixture_model):
    write(tmp_path / "pkg", fixture_model)
    shard = tmp_path / "pkg" / "group1-shard1of1.bin"
    data = shard.read_bytes()
    shard.write_bytes(data[:-8])
    with pytest.raises(WebPackageError, match="needs bytes .* but the shards of group 1 hold"):
        read_web_package(tmp_path / "pkg")
    shard.write_bytes(data + b"\0\0\0\0")
    with pytest.raises(WebPackageError, match="the weights use .* bytes but the shards hold"):
        read_web_package(tmp_path / "pkg")
    poisoned = bytearray(data)
    poisoned[-4:] = np.array([np.inf], dtype="<f4").tobytes()
    shard.write_bytes(bytes(poisoned))
    with pytest.raises(WebPackageError, match="weight encoder.fc_var.bias has non-finite values"):
        read_web_package(tmp_path / "pkg")
    shard.unlink()
    with pytest.raises(WebPackageError, match="shard group1-shard1of1.bin listed in the manifest does not exist"):
        read_web_package(tmp_path / "pkg")
    shutil.rmtree(tmp_path / "pkg")
    with pytest.raises(WebPackageError, match="model.json not found"):
        read_web_package(tmp_path / "pkg")


def test_read_refuses_oversized_shards(tmp_path, fixture_model):
    write(tmp_path / "pkg", fixture_model)
    shard = tmp_path / "pkg" / "group1-shard1of1.bin"
    shard.write_bytes(shard.read_bytes() + b"\0" * SHARD_BYTES)
    with pytest.raises(WebPackageError, match="shards are at most 4194304"):
        read_web_package(tmp_path / "pkg")


# ------------------------------------------------------------------ export.py: checkpoint -> package

@pytest.fixture()
def tiny_checkpoint(tiny_run):
    return tiny_run / "checkpoint.pt"


def test_export_round_trip(tmp_path, tiny_checkpoint):
    from PIL import Image

    from infodiff.export import export_checkpoint
    from infodiff.train import read_checkpoint

    models = tmp_path / "models"
    export_checkpoint(tiny_checkpoint, models / "tiny-fp32", float16=False)
    export_checkpoint(tiny_checkpoint, models / "tiny-fp16", make_default=True)  # float16 is the default
    checkpoint = read_checkpoint(tiny_checkpoint)
    weights, meta = read_web_package(models / "tiny-fp32")
    assert all(np.array_equal(weights[k], v.numpy()) for k, v in checkpoint["ema"].items())  # EMA, exact
    half, _ = read_web_package(models / "tiny-fp16")
    assert all(np.allclose(half[k], v.numpy(), rtol=2 ** -10, atol=1e-7) for k, v in checkpoint["ema"].items())

    assert meta["provenance"]["source"] == "trained" and meta["provenance"]["ema"] is True
    assert meta["provenance"]["steps"] == 3 and meta["preprocessing"]["lightOnDark"] is True
    assert meta["displayName"] == "FashionMNIST · InfoDiffusion (CPU, 3 steps)"  # what and how far, by default
    assert meta["provenance"]["data"] == {"seed": 64, "size": 512} and meta["latent"]["prior"] == "normal"
    assert [d["name"] for d in meta["attributeDirections"]][:2] == ["T-shirt/top", "Trouser"]
    assert len(meta["attributeDirections"]) == 10
    assert meta["gaussianReference"]["kind"] == "spectrum" and len(meta["gaussianReference"]["mean"]) == 256
    assert len(meta["gallery"]) == 16
    labels = [g["label"] for g in meta["gallery"]]
    assert all(labels.count(name) >= 1 for name in set(labels)) and len(set(labels)) == 10  # balanced
    image = Image.open(models / "tiny-fp32" / meta["gallery"][0]["file"])
    assert image.size == (16, 16) and image.mode == "L"
    index = json.loads((models / "index.json").read_text())
    assert [(m["id"], m["path"], m["default"]) for m in index["models"]] == [
        ("tiny-fp32", "models/tiny-fp32/", False), ("tiny-fp16", "models/tiny-fp16/", True)]


def test_attribute_direction_separates_the_classes():
    from infodiff.export import direction_from_classifier

    rng = np.random.default_rng(0)
    z = rng.normal(size=(400, 3)) * [1.0, 5.0, 0.2] + [0.0, 10.0, 0.0]
    targets = (z[:, 0] + 0.01 * rng.normal(size=400) > 0.5).astype(int)
    direction = direction_from_classifier(z, targets, "x", "class")
    vector = np.array(direction["vector"])
    assert np.linalg.norm(vector) == pytest.approx(1.0)
    assert vector[0] > 0.95  # the axis that carries the label, unscaled back from the standardised fit
    scores = z @ vector + direction["bias"]
    assert ((scores > 0) == targets.astype(bool)).mean() > 0.97


def test_gaussian_reference_of_known_covariance():
    from infodiff.export import gaussian_reference

    rng = np.random.default_rng(1)
    variances = np.array([4.0, 1.0, 0.25, 0.01])
    images = (rng.normal(size=(200000, 2, 2, 1)) * np.sqrt(variances).reshape(1, 2, 2, 1) + 0.5).astype(np.float32)
    reference = gaussian_reference(images)
    assert reference["kind"] == "spectrum"
    assert np.allclose(np.exp(reference["logEigenvalues"]), np.sort(variances)[::-1], rtol=0.02)
    assert reference["variance"] == pytest.approx(variances.mean(), rel=0.02)
    assert np.allclose(reference["mean"], 0.5, atol=0.01)
    log_values = np.log(variances)
    assert reference["logSnrLoc"] == pytest.approx(-log_values.mean(), abs=0.02)
    assert reference["logSnrScale"] == pytest.approx(np.sqrt(1 + 3 / np.pi * log_values.var()), rel=0.01)


def test_mixture_prior_run_exports_its_prior_and_draw(tmp_path):
    from infodiff.config import apply_overrides
    from infodiff.export import export_checkpoint, main as export_main
    from infodiff.sample import load_model
    from infodiff.train import train

    cfg = apply_overrides(load_preset("configs/fmnist_tiny.json"),
                          ["--threads=1", "--dataset_size=256", "--eval_images=16", "--steps=2", "--warmup_steps=1",
                           "--prior=10mix", "--seed=5", f"--out_dir={tmp_path / 'run'}"])
    train(validate_train_config(cfg))
    checkpoint = tmp_path / "run" / "checkpoint.pt"
    export_checkpoint(checkpoint, tmp_path / "models" / "mix", update_index=False)
    _, meta = read_web_package(tmp_path / "models" / "mix")
    assert meta["latent"]["prior"] == "10mix" and meta["provenance"]["objective"]["prior"] == "10mix"
    assert meta["provenance"]["data"] == {"seed": 5, "size": 256}
    for source in (tmp_path / "models" / "mix", checkpoint):  # what the app ships, and the training checkpoint
        loaded = load_model(source)
        assert (loaded.prior, loaded.data_seed) == ("10mix", 5), source
    assert load_model(tmp_path / "models" / "mix").train_size == 256

    # The command line stores float16 unless told otherwise.
    assert export_main(["--checkpoint", str(checkpoint), "--out", str(tmp_path / "models" / "cli"), "--no-index",
                        "--max-images", "64"]) == 0
    specs = json.loads((tmp_path / "models" / "cli" / "model.json").read_text())["weightsManifest"][0]["weights"]
    assert all(spec.get("quantization") == {"dtype": "float16"} for spec in specs if spec["name"] != TIME_TABLE_KEY)
    assert export_main(["--checkpoint", str(checkpoint), "--out", str(tmp_path / "models" / "cli"), "--no-index",
                        "--max-images", "64", "--float32"]) == 0
    specs = json.loads((tmp_path / "models" / "cli" / "model.json").read_text())["weightsManifest"][0]["weights"]
    assert not any("quantization" in spec for spec in specs)


def test_default_display_name_says_what_and_how_far():
    from types import SimpleNamespace

    from infodiff.export import default_display_name

    def name(mmd, kld, hardware, step):
        return default_display_name("Shapes", SimpleNamespace(mmd_weight=mmd, kld_weight=kld),
                                    {"hardware": hardware, "step": step})

    assert name(0.1, 0, "CPU, 1 thread(s) (torch 1.13)", 5000) == "Shapes · InfoDiffusion (CPU, 5k steps)"
    assert name(0.0, 0, "NVIDIA H100 (torch 2.4)", 12500) == "Shapes · DiffAE (GPU, 12.5k steps)"
    assert name(0.0, 1.0, "CPU", 800) == "Shapes · VAE-style (CPU, 800 steps)"
    assert name(0.1, 0, "", 1_234_567) == "Shapes · InfoDiffusion (unknown hardware, 1,234.6k steps)"
    assert name(0.1, 0, "CPU", 3000) == "Shapes · InfoDiffusion (CPU, 3k steps)"


def test_a_refreshed_index_entry_keeps_its_place(tmp_path):
    from infodiff.export import update_models_index

    for model_id in ("a", "b", "c"):
        update_models_index(tmp_path, model_id, make_default=False)
    update_models_index(tmp_path, "a", make_default=False)  # re-exported: still first, still the default
    update_models_index(tmp_path, "b", make_default=True)
    index = json.loads((tmp_path / "index.json").read_text())
    assert [(m["id"], m["default"]) for m in index["models"]] == [("a", False), ("b", True), ("c", False)]
