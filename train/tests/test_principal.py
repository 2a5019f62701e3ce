"""metadata.latent.principal: the principal directions the export writes (infodiff.principal)."""
import numpy as np
import pytest

from infodiff.principal import principal_directions
from infodiff.webpackage import WebPackageError, _check_principal


def test_recovers_the_axes_of_an_elongated_cloud_largest_first():
    rng = np.random.default_rng(0)
    axis = np.array([0.6, 0.0, -0.8])
    other = np.array([0.8, 0.0, 0.6])
    z = rng.normal(size=(4000, 1)) * 3 * axis + rng.normal(size=(4000, 1)) * 1 * other \
        + rng.normal(size=(4000, 3)) * 0.1 + 5
    principal = principal_directions(z)
    components = np.array(principal["components"])
    assert principal["fittedOn"] == 4000
    assert np.allclose(np.linalg.norm(components, axis=1), 1)
    assert abs(components[0] @ axis) > 0.999 and abs(components[1] @ other) > 0.999
    # The sign is fixed: the largest-magnitude entry of each row is positive.
    assert all(row[np.abs(row).argmax()] > 0 for row in components)
    variance = principal["variance"]
    assert variance == sorted(variance, reverse=True)
    assert variance[0] == pytest.approx(9, rel=0.1)
    assert sum(variance) == pytest.approx(principal["totalVariance"])
    _check_principal(principal, 3)


def test_refuses_too_few_codes():
    with pytest.raises(ValueError, match="N >= 2"):
        principal_directions(np.zeros((1, 3)))


def test_the_reader_refuses_rows_that_are_not_unit_and_a_total_below_the_sum():
    good = {"fittedOn": 5, "components": [[1.0, 0.0], [0.0, 1.0]], "variance": [2.0, 1.0], "totalVariance": 3.0}
    with pytest.raises(WebPackageError, match=r"components\[1\] must have unit norm"):
        _check_principal({**good, "components": [[1.0, 0.0], [0.0, 2.0]]}, 2)
    with pytest.raises(WebPackageError, match="totalVariance must be at least the sum of variance"):
        _check_principal({**good, "totalVariance": 2.0}, 2)
    with pytest.raises(WebPackageError, match="at most 1 rows"):
        _check_principal(good, 1)
