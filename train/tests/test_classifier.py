"""FashionMNIST classifier: learns from a tiny subset, round-trips through its checkpoint, summarises samples."""
import numpy as np
import pytest
import torch

from infodiff import classifier
from infodiff.data import load_fashion_mnist, to_model_space


@pytest.fixture(scope='module')
def tiny_model():
    train = load_fashion_mnist(split='train', image_size=32, limit=1500)
    model = classifier.train_classifier(train.images, torch.from_numpy(train.labels), epochs=3, batch_size=64,
                                        seed=0, log_every=0)
    return model


def test_training_on_a_tiny_subset_beats_chance(tiny_model):
    test = load_fashion_mnist(split='test', image_size=32, limit=500)
    accuracy = classifier.accuracy(tiny_model, to_model_space(test.images), torch.from_numpy(test.labels))
    assert accuracy > 0.5  # chance is 0.1


def test_features_and_probabilities(tiny_model):
    x = torch.rand(5, 1, 32, 32) * 2 - 1
    out = classifier.predict(tiny_model, x, batch_size=2)
    assert out['features'].shape == (5, classifier.FEATURE_DIM)
    assert torch.all(out['features'] >= 0)  # post-ReLU activations
    torch.testing.assert_close(out['probabilities'].sum(1), torch.ones(5))
    with pytest.raises(ValueError, match=r'\[B, 1, 32, 32\]'):
        classifier.predict(tiny_model, torch.zeros(2, 1, 28, 28))


def test_checkpoint_round_trip(tiny_model, tmp_path):
    path = tmp_path / 'clf.pt'
    classifier.save_classifier(tiny_model, path, {'testAccuracy': 0.5})
    loaded = classifier.load_classifier(path)
    x = torch.rand(3, 1, 32, 32) * 2 - 1
    torch.testing.assert_close(loaded(x), tiny_model(x))
    torch.save({'something': 'else'}, tmp_path / 'other.pt')
    with pytest.raises(ValueError, match='not a FashionMNIST classifier checkpoint'):
        classifier.load_classifier(tmp_path / 'other.pt')
    with pytest.raises(FileNotFoundError, match='python -m infodiff.classifier'):
        classifier.load_classifier(tmp_path / 'missing.pt')


def test_recognisability_by_hand():
    probabilities = torch.tensor([[0.9, 0.1] + [0.0] * 8, [0.2, 0.8] + [0.0] * 8, [0.7, 0.3] + [0.0] * 8,
                                  [0.0] * 9 + [1.0]])
    result = classifier.recognisability(probabilities)
    assert result['meanConfidence'] == pytest.approx((0.9 + 0.8 + 0.7 + 1.0) / 4)
    assert result['classHistogram']['T-shirt/top'] == 2 and result['classHistogram']['Trouser'] == 1
    assert result['classHistogram']['Ankle boot'] == 1 and sum(result['classHistogram'].values()) == 4
    assert result['classCoverage'] == pytest.approx(0.3)
    assert result['classEntropyBits'] == pytest.approx(-(0.5 * np.log2(0.5) + 2 * 0.25 * np.log2(0.25)))
