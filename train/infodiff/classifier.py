"""Small CNN judges, one per data set: the feature space of the Fréchet distance and the judge of whether a
generated sample is recognisable.

    fashion-mnist  [B, 1, 32, 32] -> one head: the 10 classes
    shapes         [B, 3, 32, 32] -> one head per generative factor (floor/wall/object hue, scale, shape,
                   orientation), so the features must carry every factor

Inputs are in [-1, 1], exactly what the InfoDiffusion models see. Five 3x3 conv layers with batch norm
(16-16 | pool | 32-32 | pool | 64), global average pooling, then a 128-unit hidden layer whose activations are the
*features* (the penultimate layer, as Inception's pool features are for FID) and a linear layer per head. About
45k parameters, so the checkpoints are small enough to commit. FashionMNIST is trained with horizontal flips (as
its diffusion models are, so their samples may be mirrored); shapes without (a mirrored scene is not a scene of
the data set: the light and the cube's yaw are one-sided).

Usage:
    python -m infodiff.classifier --epochs 3                        # -> runs/classifier/fmnist_classifier.pt
    python -m infodiff.classifier --dataset shapes --epochs 4       # -> runs/classifier/shapes_classifier.pt
    python -m infodiff.classifier --epochs 1 --train-limit 2000     # a quick smoke run
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .data import FASHION_MNIST_CLASSES, ImageDataset, load_fashion_mnist, load_shapes, to_model_space

CLASSIFIER_DIR = Path(__file__).resolve().parents[1] / 'runs' / 'classifier'
IMAGE_SIZE = 32
FEATURE_DIM = 128
CHECKPOINT_KIND = 'infodiff-classifier'
JUDGED_DATASETS = ('fashion-mnist', 'shapes')  # the data sets with a judge (judge_spec)
SHAPES_TRAIN_SEED = 7  # the judge's own draw of scenes, not any diffusion model's training draw (seed 64)


@dataclass(frozen=True)
class JudgeSpec:
    """What a data set's judge sees and predicts."""
    dataset: str
    channels: int
    heads: Dict[str, Tuple[str, ...]]  # head -> the names of its classes, in label order
    flip: bool  # train with random horizontal flips
    path: Path  # where the committed checkpoint lives

    @property
    def head_sizes(self) -> Dict[str, int]:
        return {name: len(values) for name, values in self.heads.items()}


def _shapes_spec() -> JudgeSpec:
    from . import shapes  # the renderer's constants; imported lazily like infodiff.data does
    heads = {name: tuple(shapes.SHAPE_NAMES) if name == 'shape' else tuple(f'{name} {v}' for v in range(size))
             for name, size in zip(shapes.FACTOR_NAMES, shapes.FACTOR_SIZES)}
    return JudgeSpec('shapes', 3, heads, flip=False, path=CLASSIFIER_DIR / 'shapes_classifier.pt')


def judge_spec(dataset: str) -> JudgeSpec:
    """The judge of `dataset`; a ValueError naming the data sets that have one otherwise."""
    if dataset == 'fashion-mnist':
        return JudgeSpec('fashion-mnist', 1, {'class': FASHION_MNIST_CLASSES}, flip=True,
                         path=CLASSIFIER_DIR / 'fmnist_classifier.pt')
    if dataset == 'shapes':
        return _shapes_spec()
    raise ValueError(f'no classifier judges {dataset!r} images; the Fréchet distance and recognisability exist '
                     f'for {" and ".join(JUDGED_DATASETS)} models')


def _conv_bn_relu(n_in: int, n_out: int) -> list[nn.Module]:
    # No conv bias: the batch norm right after it has its own shift.
    return [nn.Conv2d(n_in, n_out, 3, padding=1, bias=False), nn.BatchNorm2d(n_out), nn.ReLU(inplace=True)]


class Classifier(nn.Module):
    """x [B, C, 32, 32] in [-1, 1] -> {head: logits [B, n]}; `features(x)` -> [B, 128] penultimate activations."""

    def __init__(self, channels: int, head_sizes: Dict[str, int]) -> None:
        super().__init__()
        self.channels = channels
        self.body = nn.Sequential(
            *_conv_bn_relu(channels, 16), *_conv_bn_relu(16, 16), nn.MaxPool2d(2),
            *_conv_bn_relu(16, 32), *_conv_bn_relu(32, 32), nn.MaxPool2d(2),
            *_conv_bn_relu(32, 64), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
            nn.Linear(64, FEATURE_DIM), nn.ReLU(inplace=True))
        self.dropout = nn.Dropout(0.2)
        self.heads = nn.ModuleDict({name: nn.Linear(FEATURE_DIM, n) for name, n in head_sizes.items()})

    def check_input(self, x: torch.Tensor) -> None:
        if x.dim() != 4 or tuple(x.shape[1:]) != (self.channels, IMAGE_SIZE, IMAGE_SIZE):
            raise ValueError(f'this classifier takes [B, {self.channels}, {IMAGE_SIZE}, {IMAGE_SIZE}] images in '
                             f'[-1, 1], got shape {list(x.shape)}')

    def features(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return self.body(x)

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        hidden = self.dropout(self.features(x))
        return {name: head(hidden) for name, head in self.heads.items()}


def train_classifier(images: torch.Tensor, labels: torch.Tensor, spec: JudgeSpec, epochs: int = 3,
                     batch_size: int = 128, lr: float = 2e-3, seed: int = 0, log_every: int = 100) -> Classifier:
    """Trains a Classifier with AdamW and a one-cycle learning rate, the mean cross-entropy over the heads as the
    loss; seeds torch's global RNG (init, dropout) and draws batches and flips from its own seeded generator.

    Args:
        images: uint8 [N, C, 32, 32] (kept as bytes; each batch is converted to [-1, 1]).
        labels: int64 [N, H], one column per head of `spec` in its order.
    Returns:
        The model in eval mode.
    """
    heads = list(spec.heads)
    if (images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] != spec.channels
            or labels.shape != (images.shape[0], len(heads))):
        raise ValueError(f'expected uint8 images [N, {spec.channels}, 32, 32] and labels [N, {len(heads)}], got '
                         f'{images.dtype} {list(images.shape)} and {list(labels.shape)}')
    torch.manual_seed(seed)
    model = Classifier(spec.channels, spec.head_sizes)
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
            if spec.flip:
                flip = torch.rand(len(rows), generator=generator) < 0.5
                x = torch.where(flip[:, None, None, None], torch.flip(x, dims=[3]), x)
            logits = model(x)
            loss = sum(F.cross_entropy(logits[name], labels[rows, k]) for k, name in enumerate(heads)) / len(heads)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            if log_every and step % log_every == 0:
                # .item() is a sync point; only on log steps.
                print(f'epoch {epoch} step {step}/{steps_per_epoch} loss {loss.item():.4f}', flush=True)
    return model.eval()


@torch.no_grad()
def predict(model: Classifier, x: torch.Tensor, batch_size: int = 512) -> Dict[str, object]:
    """Features and per-head class probabilities of images x [N, C, 32, 32] in [-1, 1].

    Returns {"features": [N, 128] float32, "probabilities": {head: [N, n] float32}}, on the CPU.
    """
    model.check_input(x)
    model.eval()
    device = next(model.parameters()).device
    features, probabilities = [], {name: [] for name in model.heads}
    for start in range(0, len(x), batch_size):
        batch = x[start:start + batch_size].to(device=device, dtype=torch.float32)
        f = model.features(batch)
        features.append(f.cpu())
        for name, head in model.heads.items():
            probabilities[name].append(torch.softmax(head(f), dim=1).cpu())
    return {'features': torch.cat(features),
            'probabilities': {name: torch.cat(parts) for name, parts in probabilities.items()}}


def accuracy(model: Classifier, x: torch.Tensor, labels: torch.Tensor) -> Dict[str, float]:
    """{head: fraction of images x [N, C, 32, 32] whose arg-max class equals labels[:, k]} for labels [N, H]."""
    probabilities = predict(model, x)['probabilities']
    return {name: float((p.argmax(1) == labels[:, k].cpu()).float().mean())
            for k, (name, p) in enumerate(probabilities.items())}


def recognisability(probabilities: Dict[str, torch.Tensor], spec: JudgeSpec) -> Dict:
    """How recognisable a set of samples is, from their per-head class probabilities {head: [N, n]}.

    Returns {"meanConfidence": the mean over heads of the mean max-softmax, "confidenceStdErr": its standard error
    over the samples (so a target can be read against sampling noise), "heads": {head: {"meanConfidence",
    "histogram": {class name: count} of the arg-max classes, "coverage": fraction of the head's classes predicted
    at least once, "entropyBits": entropy of the predicted-class distribution (log2 n for a balanced set)}}}.
    """
    heads = {}
    per_sample = []  # per head, each sample's confidence; averaged over the heads below
    for name, p in probabilities.items():
        confidence, predicted = p.double().max(dim=1)  # double, so the heads' means and the overall one agree
        per_sample.append(confidence)
        names = spec.heads[name]
        counts = np.bincount(predicted.numpy(), minlength=len(names))
        shares = counts / max(1, counts.sum())
        nonzero = shares[shares > 0]
        heads[name] = {
            'meanConfidence': float(confidence.mean()),
            'histogram': {value: int(c) for value, c in zip(names, counts)},
            'coverage': float((counts > 0).mean()),
            'entropyBits': float(-(nonzero * np.log2(nonzero)).sum()),
        }
    averaged = torch.stack(per_sample).mean(0)
    std_err = float(averaged.std() / math.sqrt(len(averaged))) if len(averaged) > 1 else None
    return {'meanConfidence': float(averaged.mean()), 'confidenceStdErr': std_err, 'heads': heads}


def save_classifier(model: Classifier, spec: JudgeSpec, path: Path, info: Dict) -> None:
    """Writes {kind, dataset, state_dict, info} to a temporary file and renames it, so a crash never leaves half a
    file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + '.tmp')
    torch.save({'kind': CHECKPOINT_KIND, 'dataset': spec.dataset, 'state_dict': model.state_dict(), 'info': info},
               tmp)
    os.replace(tmp, path)


def load_classifier(spec: JudgeSpec, path: str | Path | None = None, device: str = 'cpu') -> Classifier:
    """The trained judge of `spec` (from `path`, else its committed checkpoint) in eval mode; refuses files that
    are not one, saying how to make it."""
    path = Path(path) if path else spec.path
    make = f'`cd train && python -m infodiff.classifier --dataset {spec.dataset}`'
    if not path.is_file():
        raise FileNotFoundError(f'classifier checkpoint {path} not found; train it with {make}')
    checkpoint = torch.load(path, map_location='cpu')
    if not isinstance(checkpoint, dict) or checkpoint.get('kind') != CHECKPOINT_KIND:
        raise ValueError(f'{path} is not a classifier checkpoint written by infodiff.classifier; train one with {make}')
    if checkpoint.get('dataset') != spec.dataset:
        raise ValueError(f'{path} judges {checkpoint.get("dataset")!r} images, not {spec.dataset!r}')
    model = Classifier(spec.channels, spec.head_sizes)
    model.load_state_dict(checkpoint['state_dict'])
    return model.to(device).eval()


def labelled_images(dataset: ImageDataset, spec: JudgeSpec) -> Tuple[torch.Tensor, torch.Tensor]:
    """(uint8 images, int64 labels [N, H]) of a data set, one label column per head of its judge."""
    if spec.dataset == 'fashion-mnist':
        labels = dataset.labels[:, None]
    else:
        labels = dataset.factors[:, [dataset.factor_names.index(name) for name in spec.heads]]
    return dataset.images, torch.from_numpy(np.ascontiguousarray(labels))


def load_judge_data(spec: JudgeSpec, split: str, limit: int, data_dir: str = '') -> ImageDataset:
    """The judge's training or test images: FashionMNIST's own splits; for shapes a seeded draw of scenes of its
    own (the test split another), 24,000 training and 4,000 test scenes unless `limit` says fewer."""
    if spec.dataset == 'fashion-mnist':
        return load_fashion_mnist(data_dir, split, IMAGE_SIZE, limit)
    default = 24000 if split == 'train' else 4000
    return load_shapes(split, IMAGE_SIZE, min(limit, default) if limit else default, SHAPES_TRAIN_SEED)


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description='Train the classifier used by infodiff.evaluate for a data set.')
    parser.add_argument('--dataset', default='fashion-mnist', choices=JUDGED_DATASETS)
    parser.add_argument('--epochs', type=int, default=3)
    parser.add_argument('--batch-size', type=int, default=128)
    parser.add_argument('--lr', type=float, default=2e-3)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--train-limit', type=int, default=0, help='use only the first N training images (0 = all)')
    parser.add_argument('--data-dir', default='', help='folder with the FashionMNIST IDX .gz files')
    parser.add_argument('--threads', type=int, default=0, help='torch CPU threads (0 = torch default)')
    parser.add_argument('--out', type=Path, default=None, help='checkpoint to write (default: the committed one)')
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    spec = judge_spec(args.dataset)

    train_images, train_labels = labelled_images(load_judge_data(spec, 'train', args.train_limit, args.data_dir),
                                                 spec)
    test_images, test_labels = labelled_images(load_judge_data(spec, 'test', 0, args.data_dir), spec)
    started = time.time()
    model = train_classifier(train_images, train_labels, spec, args.epochs, args.batch_size, args.lr, args.seed)
    wall_time = time.time() - started
    test_accuracy = accuracy(model, to_model_space(test_images), test_labels)
    info = {
        'testAccuracy': test_accuracy,
        'trainImages': len(train_images),
        'testImages': len(test_images),
        'epochs': args.epochs,
        'batchSize': args.batch_size,
        'lr': args.lr,
        'seed': args.seed,
        'wallTimeSeconds': round(wall_time, 1),
        'torch': torch.__version__,
        'featureDim': FEATURE_DIM,
        'command': 'python -m infodiff.classifier ' + ' '.join(argv if argv is not None else sys.argv[1:]),
    }
    out = args.out or spec.path
    save_classifier(model, spec, out, info)
    print(json.dumps(info, indent=1))
    print(f'wrote {out}')


if __name__ == '__main__':
    main()
