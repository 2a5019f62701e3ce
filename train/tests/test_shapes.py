"""Procedural shapes data set: determinism, factor effects, grid bookkeeping and argument checks."""
import numpy as np
import pytest

from infodiff import shapes


def _base_factors():
    return np.array([2, 5, 7, 3, 0, 7])


def test_render_is_deterministic_uint8_rgb():
    first = shapes.render(_base_factors(), image_size=32)
    second = shapes.render(_base_factors(), image_size=32)
    assert first.shape == (32, 32, 3) and first.dtype == np.uint8
    np.testing.assert_array_equal(first, second)


def test_batch_rendering_equals_single_rendering():
    factors = shapes.full_grid({'floor_hue': [1], 'wall_hue': [4], 'object_hue': [8], 'scale': [0, 7],
                                'orientation': [0, 14]})
    batch = shapes.render_batch(factors, image_size=16)
    for row, image in zip(factors, batch):
        np.testing.assert_array_equal(image, shapes.render(row, image_size=16))


@pytest.mark.parametrize('factor_index', range(len(shapes.FACTOR_NAMES)))
def test_every_factor_changes_the_image(factor_index):
    base = _base_factors()
    changed = base.copy()
    size = shapes.FACTOR_SIZES[factor_index]
    changed[factor_index] = (base[factor_index] + size // 2) % size
    a = shapes.render(base, 32).astype(int)
    b = shapes.render(changed, 32).astype(int)
    assert np.abs(a - b).mean() > 0.5, shapes.FACTOR_NAMES[factor_index]


def _object_mask(factors, image_size):
    """Pixels that change when only the object's hue changes: exactly the visible object."""
    recoloured = np.array(factors).copy()
    recoloured[2] = (recoloured[2] + 5) % 10
    difference = shapes.render(factors, image_size).astype(int) - shapes.render(recoloured, image_size).astype(int)
    return np.abs(difference).sum(-1) > 30


def test_factors_act_where_they_should():
    base = _base_factors()
    other_floor = base.copy()
    other_floor[0] = 7
    floor_diff = np.abs(shapes.render(other_floor, 64).astype(int) - shapes.render(base, 64).astype(int)).sum(-1)
    # The floor fills the bottom rows and never the top rows, which show the walls.
    assert floor_diff[-4:].mean() > 20 and floor_diff[:4].max() == 0
    bigger = base.copy()
    bigger[3] = 7
    assert _object_mask(bigger, 64).sum() > 1.5 * _object_mask(base, 64).sum() > 0


def test_shapes_have_distinct_silhouettes():
    silhouettes = [_object_mask(np.array([0, 0, 0, 7, shape, 7]), 32) for shape in range(4)]
    for i in range(4):
        for j in range(i + 1, 4):
            assert (silhouettes[i] != silhouettes[j]).sum() >= 12, (shapes.SHAPE_NAMES[i], shapes.SHAPE_NAMES[j])


def test_dataset_random_subset_and_full_grid():
    data = shapes.ShapesDataset(image_size=16, n=12, seed=3)
    again = shapes.ShapesDataset(image_size=16, n=12, seed=3)
    assert data.images.shape == (12, 16, 16, 3) and data.factors.shape == (12, 6)
    np.testing.assert_array_equal(data.factors, again.factors)
    np.testing.assert_array_equal(data.images, again.images)
    np.testing.assert_array_equal(shapes.ShapesDataset(image_size=16, n=5, seed=3).factors, data.factors[:5])
    image, factors = data[5]
    np.testing.assert_array_equal(image, shapes.render(factors, 16))
    model_space = data.model_space()
    assert model_space.dtype == np.float32 and model_space.min() >= -1 and model_space.max() <= 1

    grid = shapes.ShapesDataset(image_size=8, n=None, fixed={'floor_hue': [0], 'wall_hue': [1], 'object_hue': [2],
                                                             'scale': [0, 1], 'orientation': [3]})
    assert len(grid) == 2 * 4
    assert len({tuple(f) for f in grid.factors}) == 8
    assert len(shapes.full_grid()) == int(np.prod(shapes.FACTOR_SIZES)) == 480000


def test_factor_values_are_the_documented_ranges():
    values = shapes.factor_values(np.array([[0, 9, 5, 0, 3, 0], [9, 0, 0, 7, 0, 14]]))
    np.testing.assert_allclose(values['floor_hue'], [0.0, 0.9])
    np.testing.assert_allclose(values['scale'], [0.75, 1.25])
    np.testing.assert_allclose(values['orientation'], [-30.0, 30.0])
    assert values['shape'].tolist() == [3, 0]


def test_invalid_arguments_are_refused():
    with pytest.raises(ValueError, match='scale index must be in 0..7'):
        shapes.render([0, 0, 0, 8, 0, 0])
    with pytest.raises(ValueError, match=r'shape \[N, 6\]'):
        shapes.render_batch(np.zeros((2, 5), dtype=int))
    with pytest.raises(ValueError, match='unknown factor'):
        shapes.full_grid({'colour': [0]})
    with pytest.raises(ValueError, match='orientation indices'):
        shapes.full_grid({'orientation': [15]})
    with pytest.raises(ValueError, match='integer value indices'):
        shapes.render_batch(np.zeros((1, 6)))
