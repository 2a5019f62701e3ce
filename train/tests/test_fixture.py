"""The fixture package and golden files: deterministic, valid, in the tree, and non-degenerate."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from infodiff.fixture import GOLDEN_DIR, PACKAGE_DIR, build_fixture
from infodiff.webpackage import load_web_package, read_web_package


def tree_bytes(root: Path):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("fixture")
    build_fixture(root / "package", root / "golden")
    return root


def test_rebuilding_gives_identical_bytes(built, tmp_path):
    build_fixture(tmp_path / "package", tmp_path / "golden")
    for part in ("package", "golden"):
        assert tree_bytes(built / part) == tree_bytes(tmp_path / part)


def test_the_tree_holds_the_current_outputs(built):
    """public/models/fixture and e2e/fixtures/golden must be what `python -m infodiff.fixture` writes now."""
    assert tree_bytes(PACKAGE_DIR) == tree_bytes(built / "package"), "rerun `python -m infodiff.fixture`"
    assert tree_bytes(GOLDEN_DIR) == tree_bytes(built / "golden"), "rerun `python -m infodiff.fixture`"


def test_package_is_valid_and_plausible(built):
    weights, meta = read_web_package(built / "package")
    assert meta["id"] == "fixture" and meta["provenance"]["source"] == "fixture"
    assert meta["architecture"]["imageSize"] == 16 and meta["architecture"]["latentDim"] == 6
    assert [g["label"] for g in meta["gallery"]] == ["Square", "Disc", "Ring", "Bar"]  # one per class
    assert [d["name"] for d in meta["attributeDirections"]] == ["Square", "Disc", "Ring", "Bar"]
    assert meta["latent"]["prior"] == "normal" and "data" not in meta["provenance"]  # synthetic: no infodiff.data draw
    assert meta["gaussianReference"]["kind"] == "spectrum"
    assert all(s > 0 for s in meta["latent"]["std"])
    # Non-degenerate: no all-zero tensor and no tail left at the official 1e-5 gain.
    assert all(np.abs(w).max() > 0 for w in weights.values())
    assert np.abs(weights["backbone.tail.2.weight"]).std() > 0.05


def test_golden_files_match_the_manifest(built):
    golden = built / "golden"
    manifest = json.loads((golden / "golden.json").read_text())
    assert manifest["model"] == "public/models/fixture"
    assert (manifest["ddimSteps"], manifest["eta"], manifest["ddimTimesteps"]) == (3, 0.0, [999, 500, 0])
    listed = {f for case in manifest["cases"].values() for group in case.values() for f in group.values()}
    assert listed == set(manifest["files"]) == {p.name for p in golden.glob("*.npy")}
    arrays = {name: np.load(golden / name) for name in manifest["files"]}
    assert arrays["denoiser_t.npy"].dtype == np.int32 and arrays["denoiser_t.npy"].shape == (2,)
    for name, array in arrays.items():
        if name != "denoiser_t.npy":
            assert array.dtype == np.float32 and np.all(np.isfinite(array)), name
            assert np.abs(array).max() > 0, name
    for name in ("encoder_x.npy", "denoiser_xt.npy", "denoiser_eps.npy", "ddim_xT.npy", "ddim_x0.npy",
                 "invert_x0.npy", "invert_xT.npy"):
        assert arrays[name].shape == (2, 16, 16, 1), name  # NHWC
    assert arrays["encoder_z.npy"].shape == (2, 6)


def test_golden_outputs_follow_from_the_package_in_float32(built):
    """The float32 PyTorch path agrees with the float64 golden values far inside the 1e-4 the runtime must meet."""
    model, _ = load_web_package(built / "package")
    golden = built / "golden"

    def load(name):
        return torch.from_numpy(np.load(golden / name))

    with torch.no_grad():
        eps = model.predict_eps(load("denoiser_xt.npy").permute(0, 3, 1, 2), load("denoiser_t.npy").long(),
                                load("denoiser_z.npy"))
        z = model.encode(load("encoder_x.npy").permute(0, 3, 1, 2))
    expected_eps = load("denoiser_eps.npy").permute(0, 3, 1, 2)
    assert (eps - expected_eps).abs().max() <= 1e-5 * expected_eps.abs().max()
    assert (z - load("encoder_z.npy")).abs().max() <= 1e-5 * load("encoder_z.npy").abs().max()
