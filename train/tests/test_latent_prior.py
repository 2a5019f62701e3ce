"""The fitted latent prior: a Gaussian mixture fitted to encoded codes, its package form, and who uses it."""
import copy
import json

import numpy as np
import pytest
import torch

from infodiff import evaluate
from infodiff.latent_prior import (describe, fit_latent_mixture, sample_latent_mixture, unpack_scale_tril)
from infodiff.webpackage import WebPackageError, _validate_fitted


def correlated_codes(n=4000, seed=0):
    """Two well separated clusters in 3-d with different, correlated covariances."""
    rs = np.random.default_rng(seed)
    a = rs.normal(size=(n // 2, 3)) @ np.array([[1.0, 0.0, 0.0], [0.8, 0.3, 0.0], [0.0, 0.0, 0.1]]) + [4, 0, 0]
    b = rs.normal(size=(n // 2, 3)) * [0.2, 0.5, 1.0] - [4, 0, 0]
    return np.concatenate([a, b])


def test_the_fit_packs_a_valid_mixture_whose_draws_match_the_codes():
    codes = correlated_codes()
    fitted = fit_latent_mixture(codes, components=2)
    assert fitted["kind"] == "gaussianMixture" and fitted["fittedOn"] == 4000
    assert len(fitted["weights"]) == 2 and all(len(row) == 6 for row in fitted["scaleTril"])
    _validate_fitted(fitted, 3)  # the package validator accepts what the fit writes
    factors = unpack_scale_tril(fitted["scaleTril"], 3)
    assert np.allclose(np.triu(factors, 1), 0) and (np.diagonal(factors, axis1=1, axis2=2) > 0).all()
    draws = sample_latent_mixture(fitted, 20000, torch.Generator().manual_seed(1), dtype=torch.float64).numpy()
    assert np.allclose(draws.mean(0), codes.mean(0), atol=0.05)
    assert np.allclose(np.cov(draws.T), np.cov(codes.T), atol=0.1)
    # Each cluster keeps its own shape: the positive side's first two coordinates correlate (0.62), the other's don't.
    positive = draws[draws[:, 0] > 0]
    assert np.corrcoef(positive[:, :2].T)[0, 1] == pytest.approx(0.8 / np.sqrt(1.64), abs=0.03)
    assert abs(np.corrcoef(draws[draws[:, 0] < 0][:, :2].T)[0, 1]) < 0.05


def test_draws_are_seeded_and_follow_the_weights():
    fitted = fit_latent_mixture(correlated_codes(), components=2)
    one = sample_latent_mixture(fitted, 500, torch.Generator().manual_seed(3))
    assert torch.equal(one, sample_latent_mixture(fitted, 500, torch.Generator().manual_seed(3)))
    assert not torch.equal(one, sample_latent_mixture(fitted, 500, torch.Generator().manual_seed(4)))
    lopsided = {**fitted, "weights": [0.9, 0.1]}
    draws = sample_latent_mixture(lopsided, 5000, torch.Generator().manual_seed(0))
    side = 1 if fitted["means"][0][0] > 0 else -1
    assert float((draws[:, 0] * side > 0).float().mean()) == pytest.approx(0.9, abs=0.02)


def test_the_description_names_size_and_count():
    fitted = fit_latent_mixture(correlated_codes(), components=2)
    assert describe(fitted) == "a 2-component Gaussian mixture fitted to 4,000 encoded training images"


@pytest.mark.parametrize("codes, message", [
    (np.zeros((10, 3)), "needs [N >= 20, D] codes"),
    (np.full((40, 3), np.nan), "NaN or infinite"),
])
def test_bad_codes_are_refused(codes, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        fit_latent_mixture(codes, components=10)


def test_the_package_validator_names_what_is_wrong():
    good = fit_latent_mixture(correlated_codes(), components=2)

    def broken(edit):
        fitted = copy.deepcopy(good)
        edit(fitted)
        return fitted

    cases = [
        (broken(lambda f: f.update(kind="flow")), 'kind must be "gaussianMixture"'),
        (broken(lambda f: f.update(weights=[0.7, 0.7])), "positive and sum to 1"),
        (broken(lambda f: f["means"].pop()), "means must have 2 entries"),
        (broken(lambda f: f["scaleTril"][1].__setitem__(2, -1.0)), "scaleTril[1] must have a positive diagonal"),
        (broken(lambda f: f["means"][0].append(0.0)), "means[0] must have 3 entries"),
    ]
    for fitted, message in cases:
        with pytest.raises(WebPackageError, match=message.replace("[", r"\[").replace("]", r"\]")):
            _validate_fitted(fitted, 3)


def test_evaluate_fits_a_checkpoint_prior_to_the_probe_codes(tiny_run, tmp_path, untrained_fashion_judge):
    """A checkpoint carries no mixture: evaluate fits one to the probe's codes, so a baseline is measured the same
    way as a package."""
    out = tmp_path / "metrics.json"
    assert evaluate.main(["--model", str(tiny_run / "checkpoint.pt"), "--out", str(out), "--probe-images", "40",
                          "--fd-samples", "8", "--sample-steps", "2", "--compare-eta", "", "--classifier",
                          str(untrained_fashion_judge), "--skip", "nll,recon", "--device", "cpu"]) == 0
    samplers = json.loads(out.read_text())["samplers"]
    assert [(s["prior"], s["eta"]) for s in samplers] == [("model", 0.0), ("fitted", 0.0), ("encoded", 0.0)]
    assert samplers[1]["priorDescription"] == ("z ~ a 10-component Gaussian mixture fitted to 40 encoded "
                                               "training images")
    assert evaluate.main(["--model", str(tiny_run / "checkpoint.pt"), "--out", str(out), "--probe-images", "40",
                          "--fd-samples", "8", "--sample-steps", "2", "--compare-eta", "", "--no-fitted-prior", "--no-encoded-codes",
                          "--classifier", str(untrained_fashion_judge), "--skip", "nll,recon",
                          "--device", "cpu"]) == 0
    assert "samplers" not in json.loads(out.read_text())


def test_the_code_summary_measures_against_the_standard_normal():
    rs = np.random.default_rng(0)
    normal = evaluate.latent_code_summary(rs.normal(size=(20000, 32)))
    assert normal["priorMeanNorm"] == pytest.approx(5.61, abs=0.01)  # sqrt(32 - 1/2), nearly
    assert normal["meanNorm"] == pytest.approx(normal["priorMeanNorm"], rel=0.01)
    assert normal["stdRange"][0] > 0.97 and normal["stdRange"][1] < 1.03
    shrunk = evaluate.latent_code_summary(0.5 * rs.normal(size=(20000, 32)) + 1)
    assert shrunk["meanRange"][0] > 0.97 and shrunk["stdRange"][1] < 0.52 and shrunk["images"] == 20000
