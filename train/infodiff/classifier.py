"""A small CNN FashionMNIST classifier: the feature space of the Fréchet distance and the judge of whether a
generated sample is recognisable.

Input: [B, 1, 32, 32] in [-1, 1], exactly what the InfoDiffusion models see (infodiff.data resizes 28 -> 32 with
PIL bilinear as the official loader does). Five 3x3 conv layers with batch norm (16-16 | pool | 32-32 | pool | 64),
global average pooling, then a 128-unit hidden layer whose activations are the *features* (the penultimate layer,
as Inception's pool features are for FID) and a linear layer to the 10 class logits. About 45k parameters, so the
checkpoint is small enough to commit; training is a few CPU epochs with horizontal flips (the diffusion models are
trained with flips too, so their samples may be mirrored).

Usage:
    python -m infodiff.classifier --epochs 3                      # -> runs/classifier/fmnist_classifier.pt
    python -m infodiff.classifier --epochs 1 --train-limit 2000   # a quick smoke run
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Dict, Optional, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .data import FASHION_MNIST_CLASSES, load_fashion_mnist, to_model_space

DEFAULT_PATH = Path(__file__).resolve().parents[1] / 'runs' / 'classifier' / 'fmnist_classifier.pt'
IMAGE_SIZE = 32
NUM_CLASSES = 10
FEATURE_DIM = 128
CHECKPOINT_KIND = 'infodiff-fmnist-classifier'


def _conv_bn_relu(n_in: int, n_out: int) -> list[nn.Module]:
    # No conv bias: the batch norm right after it has its own shift.
    return [nn.Conv2d(n_in, n_out, 3, padding=1, bias=False), nn.BatchNorm2d(n_out), nn.ReLU(inplace=True)]


class FashionClassifier(nn.Module):
    """x [B, 1, 32, 32] in [-1, 1] -> logits [B, 10]; `features(x)` -> [B, 128] penultimate activations."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            *_conv_bn_relu(1, 16), *_conv_bn_relu(16, 16), nn.MaxPool2d(2),
            *_conv_bn_relu(16, 32), *_conv_bn_relu(32, 32), nn.MaxPool2d(2),
            *_conv_bn_relu(32, 64), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
            nn.Linear(64, FEATURE_DIM), nn.ReLU(inplace=True))
        self.dropout = nn.Dropout(0.2)
        self.head = nn.Linear(FEATURE_DIM, NUM_CLASSES)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x)
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.features(x)))


def _check_input(x: torch.Tensor) -> None:
    if x.dim() != 4 or tuple(x.shape[1:]) != (1, IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(f'the FashionMNIST classifier takes [B, 1, {IMAGE_SIZE}, {IMAGE_SIZE}] images in [-1, 1], '
                         f'got shape {list(x.shape)}')


def train_classifier(images: torch.Tensor, labels: torch.Tensor, epochs: int = 3, batch_size: int = 128,
                     lr: float = 2e-3, seed: int = 0, log_every: int = 100) -> FashionClassifier:
    """Trains a FashionClassifier with AdamW and a one-cycle learning rate; seeds torch's global RNG (init,
    dropout) and draws batches and flips from its own seeded generator.

    Args:
        images: uint8 [N, 1, 32, 32] (kept as bytes; each batch is converted to [-1, 1]).
        labels: int64 [N] class indices.
    Returns:
        The model in eval mode.
    """
    if images.dtype != torch.uint8 or images.dim() != 4 or labels.shape != (images.shape[0],):
        raise ValueError(f'expected uint8 images [N, 1, 32, 32] and labels [N], got {images.dtype} '
                         f'{list(images.shape)} and {list(labels.shape)}')
    torch.manual_seed(seed)
    model = FashionClassifier()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps_per_epoch = max(1, len(images) // batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=epochs * steps_per_epoch)
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for epoch in range(epochs):
        order = torch.randperm(len(images), generator=generator)
        for step in range(steps_per_epoch):
            rows = order[step * batch_size:(step + 1) * batch_size]
            x = to_model_space(images[rows])
            flip = torch.rand(len(rows), generator=generator) < 0.5
            x = torch.where(flip[:, None, None, None], torch.flip(x, dims=[3]), x)
            loss = F.cross_entropy(model(x), labels[rows])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            if log_every and step % log_every == 0:
                # .item() is a sync point; only on log steps.
                print(f'epoch {epoch} step {step}/{steps_per_epoch} loss {loss.item():.4f}', flush=True)
    return model.eval()


@torch.no_grad()
def predict(model: FashionClassifier, x: torch.Tensor, batch_size: int = 512) -> Dict[str, torch.Tensor]:
    """Features and class probabilities of images x [N, 1, 32, 32] in [-1, 1].

    Returns {"features": [N, 128] float32, "probabilities": [N, 10] float32}, on the CPU.
    """
    _check_input(x)
    model.eval()
    device = next(model.parameters()).device
    features, probabilities = [], []
    for start in range(0, len(x), batch_size):
        batch = x[start:start + batch_size].to(device=device, dtype=torch.float32)
        f = model.features(batch)
        features.append(f.cpu())
        probabilities.append(torch.softmax(model.head(f), dim=1).cpu())
    return {'features': torch.cat(features), 'probabilities': torch.cat(probabilities)}


def accuracy(model: FashionClassifier, x: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of images x [N, 1, 32, 32] in [-1, 1] whose arg-max class equals labels [N]."""
    return float((predict(model, x)['probabilities'].argmax(1) == labels.cpu()).float().mean())


def recognisability(probabilities: torch.Tensor) -> Dict:
    """How recognisable a set of samples is, from their class probabilities [N, 10].

    Returns {"meanConfidence": mean max-softmax, "classHistogram": {class name: count} of the arg-max classes,
    "classCoverage": fraction of the 10 classes predicted at least once, "classEntropyBits": entropy of the
    predicted-class distribution (log2 10 = 3.32 for a perfectly balanced set)}.
    """
    confidence, predicted = probabilities.max(dim=1)
    counts = np.bincount(predicted.numpy(), minlength=NUM_CLASSES)
    shares = counts / max(1, counts.sum())
    nonzero = shares[shares > 0]
    return {
        'meanConfidence': float(confidence.mean()),
        'classHistogram': {name: int(c) for name, c in zip(FASHION_MNIST_CLASSES, counts)},
        'classCoverage': float((counts > 0).mean()),
        'classEntropyBits': float(-(nonzero * np.log2(nonzero)).sum()),
    }


def save_classifier(model: FashionClassifier, path: Path, info: Dict) -> None:
    """Writes {kind, state_dict, info} to a temporary file and renames it, so a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + '.tmp')
    torch.save({'kind': CHECKPOINT_KIND, 'state_dict': model.state_dict(), 'info': info}, tmp)
    os.replace(tmp, path)


def load_classifier(path: str | Path = DEFAULT_PATH, device: str = 'cpu') -> FashionClassifier:
    """The trained classifier in eval mode; refuses files that are not one, saying how to make it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'classifier checkpoint {path} not found; train it with '
                                '`cd train && python -m infodiff.classifier`')
    checkpoint = torch.load(path, map_location='cpu')
    if not isinstance(checkpoint, dict) or checkpoint.get('kind') != CHECKPOINT_KIND:
        raise ValueError(f'{path} is not a FashionMNIST classifier checkpoint written by infodiff.classifier')
    model = FashionClassifier()
    model.load_state_dict(checkpoint['state_dict'])
    return model.to(device).eval()


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description='Train the FashionMNIST classifier used by infodiff.evaluate.')
    parser.add_argument('--epochs', type=int, default=3)
    parser.add_argument('--batch-size', type=int, default=128)
    parser.add_argument('--lr', type=float, default=2e-3)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--train-limit', type=int, default=0, help='use only the first N training images (0 = all)')
    parser.add_argument('--data-dir', default='', help='folder with the FashionMNIST IDX .gz files')
    parser.add_argument('--threads', type=int, default=0, help='torch CPU threads (0 = torch default)')
    parser.add_argument('--out', type=Path, default=DEFAULT_PATH)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    train = load_fashion_mnist(args.data_dir, 'train', IMAGE_SIZE, args.train_limit)
    test = load_fashion_mnist(args.data_dir, 'test', IMAGE_SIZE)
    started = time.time()
    model = train_classifier(train.images, torch.from_numpy(train.labels), args.epochs, args.batch_size, args.lr,
                             args.seed)
    wall_time = time.time() - started
    test_accuracy = accuracy(model, to_model_space(test.images), torch.from_numpy(test.labels))
    info = {
        'testAccuracy': test_accuracy,
        'trainImages': len(train),
        'epochs': args.epochs,
        'batchSize': args.batch_size,
        'lr': args.lr,
        'seed': args.seed,
        'wallTimeSeconds': round(wall_time, 1),
        'torch': torch.__version__,
        'featureDim': FEATURE_DIM,
    }
    save_classifier(model, args.out, info)
    print(json.dumps(info, indent=1))
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
