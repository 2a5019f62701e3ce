"""The classifiers (judges): learn from a tiny subset, round-trip through their checkpoints, summarise samples."""
import numpy as np
import pytest
import torch

from infodiff import classifier
from infodiff.data import load_fashion_mnist, load_shapes, to_model_space

FASHION = classifier.judge_spec('fashion-mnist')
SHAPES = classifier.judge_spec('shapes')


@pytest.fixture(scope='module')
def tiny_model():
    images, labels = classifier.labelled_images(load_fashion_mnist(split='train', image_size=32, limit=1500), FASHION)
    return classifier.train_classifier(images, labels, FASHION, epochs=3, batch_size=64, seed=0, log_every=0)


def test_training_on_a_tiny_subset_beats_chance(tiny_model):
    images, labels = classifier.labelled_images(load_fashion_mnist(split='test', image_size=32, limit=500), FASHION)
    assert classifier.accuracy(tiny_model, to_model_space(images), labels)['class'] > 0.5  # chance is 0.1


def test_shapes_judge_has_a_head_per_factor_and_learns_the_hues():
    scenes = load_shapes('train', 32, 600, seed=3)
    images, labels = classifier.labelled_images(scenes, SHAPES)
    assert list(SHAPES.heads) == scenes.factor_names and labels.shape == (600, 6)
    assert SHAPES.heads['shape'] == ('cube', 'cylinder', 'sphere', 'capsule') and not SHAPES.flip
    model = classifier.train_classifier(images, labels, SHAPES, epochs=4, batch_size=50, seed=0, log_every=0)
    test_images, test_labels = classifier.labelled_images(load_shapes('test', 32, 200, seed=3), SHAPES)
    scores = classifier.accuracy(model, to_model_space(test_images), test_labels)
    assert set(scores) == set(SHAPES.heads)
    assert scores['floor_hue'] > 0.3 and scores['wall_hue'] > 0.3  # chance is 0.1; colours are learned first


def test_features_and_probabilities(tiny_model):
    x = torch.rand(5, 1, 32, 32) * 2 - 1
    out = classifier.predict(tiny_model, x, batch_size=2)
    assert out['features'].shape == (5, classifier.FEATURE_DIM)
    assert torch.all(out['features'] >= 0)  # post-ReLU activations
    torch.testing.assert_close(out['probabilities']['class'].sum(1), torch.ones(5))
    with pytest.raises(ValueError, match=r'\[B, 1, 32, 32\]'):
        classifier.predict(tiny_model, torch.zeros(2, 1, 28, 28))
    with pytest.raises(ValueError, match=r'\[B, 1, 32, 32\]'):
        classifier.predict(tiny_model, torch.zeros(2, 3, 32, 32))


def test_checkpoint_round_trip(tiny_model, tmp_path):
    path = tmp_path / 'clf.pt'
    classifier.save_classifier(tiny_model, FASHION, path, {'testAccuracy': 0.5})
    loaded = classifier.load_classifier(FASHION, path)
    x = torch.rand(3, 1, 32, 32) * 2 - 1
    torch.testing.assert_close(loaded(x)['class'], tiny_model(x)['class'])
    with pytest.raises(ValueError, match="judges 'fashion-mnist' images, not 'shapes'"):
        classifier.load_classifier(SHAPES, path)
    torch.save({'something': 'else'}, tmp_path / 'other.pt')
    with pytest.raises(ValueError, match='not a classifier checkpoint'):
        classifier.load_classifier(FASHION, tmp_path / 'other.pt')
    with pytest.raises(FileNotFoundError, match='python -m infodiff.classifier --dataset fashion-mnist'):
        classifier.load_classifier(FASHION, tmp_path / 'missing.pt')


def test_committed_judges_load():
    fashion = classifier.load_classifier(FASHION)
    assert fashion(torch.zeros(1, 1, 32, 32))['class'].shape == (1, 10)
    if SHAPES.path.is_file():
        shapes = classifier.load_classifier(SHAPES)
        assert shapes(torch.zeros(1, 3, 32, 32))['orientation'].shape == (1, 15)


def test_no_judge_for_other_data():
    with pytest.raises(ValueError, match='fashion-mnist and shapes'):
        classifier.judge_spec('my-photos')


def test_recognisability_by_hand():
    probabilities = torch.tensor([[0.9, 0.1] + [0.0] * 8, [0.2, 0.8] + [0.0] * 8, [0.7, 0.3] + [0.0] * 8,
                                  [0.0] * 9 + [1.0]])
    result = classifier.recognisability({'class': probabilities}, FASHION)
    head = result['heads']['class']
    assert result['meanConfidence'] == head['meanConfidence'] == pytest.approx((0.9 + 0.8 + 0.7 + 1.0) / 4)
    assert head['histogram']['T-shirt/top'] == 2 and head['histogram']['Trouser'] == 1
    assert head['histogram']['Ankle boot'] == 1 and sum(head['histogram'].values()) == 4
    assert head['coverage'] == pytest.approx(0.3)
    assert head['entropyBits'] == pytest.approx(-(0.5 * np.log2(0.5) + 2 * 0.25 * np.log2(0.25)))
    assert result['confidenceStdErr'] == pytest.approx(np.std([0.9, 0.8, 0.7, 1.0], ddof=1) / 2)


def test_recognisability_averages_the_heads():
    sure = torch.eye(4)  # every value of a 4-way head once, with confidence 1
    unsure = torch.full((4, 4), 0.25)
    spec = classifier.JudgeSpec('toy', 1, {'a': tuple('wxyz'), 'b': tuple('wxyz')}, flip=False, path=None)
    result = classifier.recognisability({'a': sure, 'b': unsure}, spec)
    assert result['meanConfidence'] == pytest.approx((1.0 + 0.25) / 2)
    assert result['confidenceStdErr'] == pytest.approx(0.0)  # every sample averages to 0.625 over the heads
    assert result['heads']['a']['coverage'] == 1.0 and result['heads']['a']['entropyBits'] == pytest.approx(2.0)
