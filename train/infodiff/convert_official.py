"""Converts a checkpoint made by the official InfoDiffusion code into a web model package.

The official `main` branch (isjakewong/InfoDiffusion, run.py `save_model`) writes `models/{exp}/model-{epoch}.pth`,
a bare `torch.save(model.state_dict())` of `InfoDiff` with `backbone.*` and `encoder.*` keys and nothing else: no
config, no EMA. The architecture is therefore rebuilt from the dataset name and a_dim exactly as the official
`get_dataset_config` / `InfoDiff.__init__` do (docs/sources.md §1.3):

    dataset        input      ch   attention at          ch_mult, res blocks, dropout, GN groups (all datasets)
    fmnist, mnist  1x32x32    32   8x8   (level 2)       [1, 2, 2, 2], 2, 0.1, 32
    cifar10        3x32x32    64   8x8   (level 2)
    celeba, ffhq   3x64x64    64   16x16 (level 2)
    chairs         3x64x64    32   16x16 (level 2)

with the official schedule (linear beta 1e-5 -> 1e-2, T = 1000) unless the run overrode it. The unused
`*.crossattn.*` weights every AuxResBlock carries are dropped; everything else must match the architecture name
for name and shape. Refused, with a message saying what is wrong: the dev branch's layout (`block4` keys, other
channel multipliers), the latent-DDIM prior checkpoint, wrapped or prefixed state dicts, wrong shapes, missing
keys, unexpected keys and non-finite values.

The package's data-dependent metadata (latent statistics, attribute directions, Gaussian reference, gallery) is
computed with infodiff.export's functions on the run's data: FashionMNIST from its usual place, anything else
from an image folder (`--data-dir`).

    cd train
    python -m infodiff.convert_official --checkpoint models/fmnist_32d_0.1mmd/model-10.pth --dataset fmnist \\
        --out ../public/models/fmnist-official [--a-dim 32] [--float32]
"""
from __future__ import annotations

import argparse
import hashlib
import sys
from collections import OrderedDict
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch

from .config import resolve_architecture, resolve_schedule
from .data import DataError, ImageDataset, load_fashion_mnist, load_image_folder
from .export import GALLERY_SIZE, build_metadata, iso_now, update_models_index
from .model import InfoDiff, expected_parameters, parameter_mismatches
from .webpackage import ID_PATTERN, write_web_package

OFFICIAL_CHANNEL_MULTIPLIERS = [1, 2, 2, 2]
OFFICIAL_SCHEDULE = {'kind': 'linear', 'timesteps': 1000, 'betaStart': 1e-5, 'betaEnd': 1e-2}
# Official dataset name -> (channels, image size, base channels ch). Attention sits at level 2 for all of them:
# 8x8 for 32-pixel inputs, 16x16 for 64-pixel inputs.
OFFICIAL_DATASETS: Dict[str, Tuple[int, int, int]] = {
    'fmnist': (1, 32, 32),
    'mnist': (1, 32, 32),
    'cifar10': (3, 32, 64),
    'celeba': (3, 64, 64),
    'ffhq': (3, 64, 64),
    'chairs': (3, 64, 32),
}
OUR_DATASET_NAMES = {'fmnist': 'fashion-mnist'}
STATISTICS_IMAGES = 10000  # training images behind the latent statistics, attribute directions and Gaussian reference


class ConversionError(ValueError):
    """The checkpoint does not fit the official main-branch layout for the given dataset; says why."""


def official_architecture(dataset: str, latent_dim: int, latent_head: str = 'a') -> Dict[str, Any]:
    """The resolved architecture the official main branch builds for `dataset` with a_dim = latent_dim."""
    if dataset not in OFFICIAL_DATASETS:
        raise ConversionError(f'unknown official dataset {dataset!r}; the official configs are '
                              f'{", ".join(OFFICIAL_DATASETS)} (dsprites is broken upstream and 3DShapes has '
                              'no loader)')
    channels, size, base = OFFICIAL_DATASETS[dataset]
    return resolve_architecture({
        'imageSize': size, 'imageChannels': channels, 'baseChannels': base,
        'channelMultipliers': list(OFFICIAL_CHANNEL_MULTIPLIERS), 'numResBlocks': 2, 'attentionLevels': [2],
        'latentDim': latent_dim, 'groupNormGroups': 32, 'dropout': 0.1, 'latentHead': latent_head,
    })


def read_official_state_dict(path: str | Path) -> 'OrderedDict[str, torch.Tensor]':
    """Loads a .pth file and checks that it is a bare state_dict (str -> tensor), as official run.py saves it."""
    path = Path(path)
    if not path.is_file():
        raise ConversionError(f'checkpoint {path} not found')
    state = torch.load(path, map_location='cpu')
    if not isinstance(state, Mapping):
        raise ConversionError(f'{path} holds a {type(state).__name__}, not a state_dict; the official code saves '
                              'model.state_dict() with torch.save')
    non_tensors = [k for k, v in state.items() if not torch.is_tensor(v)]
    if non_tensors:
        hint = ''
        if 'model' in state or 'state_dict' in state:
            hint = (' It looks like a wrapped training checkpoint (this project\'s own checkpoints go through '
                    'infodiff.export instead).')
        raise ConversionError(f'{path} is not a bare state_dict: entries {", ".join(map(str, non_tensors[:8]))} are '
                              f'not tensors.{hint}')
    return OrderedDict(state)


def infer_latent_dim(state: Mapping[str, torch.Tensor]) -> int:
    """a_dim from encoder.fc_a.weight [a_dim, H*W]."""
    weight = state.get('encoder.fc_a.weight')
    if weight is None or weight.dim() != 2:
        raise ConversionError('cannot infer a_dim: encoder.fc_a.weight is missing or not a matrix; pass --a-dim')
    return int(weight.shape[0])


def convert_state_dict(state: Mapping[str, torch.Tensor], architecture: Dict[str, Any],
                       timesteps: int) -> Tuple['OrderedDict[str, np.ndarray]', List[str]]:
    """Checks an official state_dict against `architecture` and returns (our weights in state_dict order as
    float32 arrays, the dropped crossattn keys). Raises ConversionError listing every problem it finds."""
    keys = list(state)
    _refuse_other_layouts(keys, state, architecture)
    dropped = [k for k in keys if '.crossattn.' in k]
    kept = OrderedDict((k, state[k]) for k in keys if '.crossattn.' not in k)
    problems = parameter_mismatches({k: tuple(v.shape) for k, v in kept.items()}, architecture, timesteps, 'keys')
    if problems:
        raise ConversionError('the checkpoint does not match the official main-branch architecture '
                              f'{_describe(architecture)}: ' + '; '.join(problems))
    weights: 'OrderedDict[str, np.ndarray]' = OrderedDict()
    for name in expected_parameters(architecture, timesteps):  # the order our exporter writes, which is also the official state_dict order
        tensor = kept[name]
        if not tensor.is_floating_point():
            raise ConversionError(f'weight {name} has dtype {tensor.dtype}; expected floating point')
        array = tensor.detach().cpu().float().numpy()
        if not np.all(np.isfinite(array)):
            raise ConversionError(f'weight {name} has non-finite values')
        weights[name] = array
    return weights, dropped


def _describe(architecture: Dict[str, Any]) -> str:
    a = architecture
    return (f'({a["imageChannels"]}x{a["imageSize"]}x{a["imageSize"]}, ch {a["baseChannels"]}, ch_mult '
            f'{a["channelMultipliers"]}, a_dim {a["latentDim"]})')


def _refuse_other_layouts(keys: Sequence[str], state: Mapping[str, torch.Tensor], architecture: Dict) -> None:
    """Recognisable non-main layouts get a message naming them instead of a list of key differences."""
    if keys and all(k.startswith('module.') for k in keys):
        raise ConversionError("every key starts with 'module.': a DataParallel/DDP wrapper's state_dict. Save the "
                              'unwrapped model (model.module.state_dict()); keys are not rewritten here')
    if any(k.startswith('backbone.layers.') or k.startswith('backbone.time_embed.') for k in keys):
        raise ConversionError('this is the latent DDIM prior (LatentUNet, models/{exp}_latent/...), not the InfoDiff '
                              'model; convert models/{exp}/model-{epoch}.pth')
    block4 = [k for k in keys if '.block4.' in k]
    if block4:
        raise ConversionError(f'the checkpoint has block4 weights ({block4[0]}, ... {len(block4)} in all): that is the '
                              'InfoDiffusion-dev branch layout (four convs per residual block, ch_mult [1,2,4,8]); '
                              'only the main branch layout is supported')
    multipliers = _level_multipliers(state, architecture)
    if multipliers is not None and multipliers != architecture['channelMultipliers']:
        raise ConversionError(f'the checkpoint\'s levels have channel multipliers {multipliers}, the official main '
                              f'branch uses {architecture["channelMultipliers"]} (the dev branch uses [1, 2, 4, 8]); '
                              'this layout is not supported')


def _level_multipliers(state: Mapping[str, torch.Tensor], architecture: Dict) -> Optional[List[int]]:
    """Channel multipliers read off the backbone's down-path residual blocks (None when they cannot be read).

    With numResBlocks res blocks per level and a DownSample between levels, level l's blocks sit at indices
    l * (numResBlocks + 1) + j; their block1 conv's out channels divided by ch give the level's multiplier.
    """
    base = architecture['baseChannels']
    head = state.get('backbone.head.weight')
    if head is not None and head.dim() == 4:
        base = int(head.shape[0])
    per_level = architecture['numResBlocks'] + 1
    multipliers = []
    level = 0
    while True:
        weight = state.get(f'backbone.downblocks.{level * per_level}.block1.2.weight')
        if weight is None or weight.dim() != 4:
            break
        if weight.shape[0] % base:
            return None
        multipliers.append(int(weight.shape[0]) // base)
        level += 1
    return multipliers or None


# --------------------------------------------------------------------------------------------- package


def _load_statistics_data(dataset: str, architecture: Dict[str, Any], data_dir: str, split: str,
                          limit: int) -> ImageDataset:
    if dataset == 'fmnist':
        return load_fashion_mnist(data_dir, split, architecture['imageSize'], limit)
    if not data_dir:
        raise ConversionError(f'the {dataset} statistics (latent stats, Gaussian reference, gallery) need its '
                              'images: pass --data-dir <folder of training images>')
    return load_image_folder(data_dir, architecture['imageSize'], architecture['imageChannels'], limit)


def convert_checkpoint(checkpoint: str | Path, dataset: str, out: str | Path, latent_dim: Optional[int] = None,
                       latent_head: str = 'a', schedule: Optional[Dict[str, Any]] = None, data_dir: str = '',
                       statistics_images: int = STATISTICS_IMAGES, mmd_weight: float = 0.1,
                       kld_weight: float = 0.0, prior: str = 'regular', steps: int = 0, batch_size: int = 64,
                       float16: bool = True, display_name: str = '', description: str = '', notes: str = '',
                       update_index: bool = False, make_default: bool = False, seed: int = 0) -> Path:
    """Converts an official checkpoint into the package folder `out` (its name is the model id).

    `mmd_weight`, `kld_weight`, `prior`, `steps` and `batch_size` describe the official run for the provenance
    (the .pth records none of them; steps 0 means unknown). Weights are stored as float16 unless `float16` is
    False. Returns the model.json path.
    """
    out = Path(out)
    if not ID_PATTERN.match(out.name):
        raise ConversionError(f'the package folder name is the model id and must match [a-z0-9-]+, got {out.name!r}')
    state = read_official_state_dict(checkpoint)
    latent_dim = latent_dim if latent_dim is not None else infer_latent_dim(state)
    architecture = official_architecture(dataset, latent_dim, latent_head)
    schedule = resolve_schedule(dict(schedule or OFFICIAL_SCHEDULE))
    weights, dropped = convert_state_dict(state, architecture, schedule['timesteps'])
    print(f'convert: {checkpoint}: {len(weights)} weights match {dataset} {_describe(architecture)}; '
          f'dropped {len(dropped)} unused crossattn tensors', flush=True)

    # The first rows: FashionMNIST's training file is already in random order; an image folder is read sorted.
    subset = _load_statistics_data(dataset, architecture, data_dir, 'train', statistics_images)
    test_set = subset if dataset != 'fmnist' else _load_statistics_data(dataset, architecture, data_dir, 'test',
                                                                         GALLERY_SIZE * 64)
    model = InfoDiff(architecture, schedule['timesteps'])
    model.load_state_dict({name: torch.from_numpy(array) for name, array in weights.items()}, strict=True)
    model.eval()
    metadata = build_metadata(
        model, out.name, out, train_set=subset, gallery_set=test_set, schedule=schedule,
        provenance=_provenance(dataset, subset, checkpoint, mmd_weight, kld_weight, prior, steps, batch_size,
                               notes, len(dropped)),
        display_name=display_name or f'{dataset} (official InfoDiffusion checkpoint)',
        description=description or (
            f'InfoDiffusion trained with the official code on {dataset} at {architecture["imageSize"]}x'
            f'{architecture["imageSize"]}, converted: a {latent_dim}-d latent from a deterministic encoder.'),
        prior=prior, gallery_size=GALLERY_SIZE, seed=seed)
    manifest = write_web_package(out, weights, metadata, float16=float16)
    if update_index:
        update_models_index(out.parent, out.name, make_default)
    print(f'convert: wrote {manifest}', flush=True)
    return manifest


def _provenance(dataset: str, train_set: ImageDataset, checkpoint: str | Path, mmd_weight: float,
                kld_weight: float, prior: str, steps: int, batch_size: int, notes: str, dropped: int) -> Dict[str, Any]:
    """metadata.provenance of a converted checkpoint: what the command line says about the official run."""
    digest = hashlib.sha256(Path(checkpoint).read_bytes()).hexdigest()[:16]
    run_notes = (f'Converted from {Path(checkpoint).name} (sha256 {digest}...), a checkpoint of the official '
                 f'InfoDiffusion code, main branch; {dropped} unused crossattn tensors dropped. The official code '
                 'keeps no EMA and records no training length' + ('' if steps else ', so steps is 0 (unknown)') + '.')
    return {
        'source': 'converted-official',
        'dataset': OUR_DATASET_NAMES.get(dataset, train_set.name),
        'objective': {'mmdWeight': mmd_weight, 'kldWeight': kld_weight, 'prior': prior,
                      'latent': 'a_q = mu + noise * exp(log_var / 2)' if kld_weight > 0 else 'a (deterministic)'},
        'steps': int(steps),
        'batchSize': int(batch_size),
        'wallTimeSeconds': 0.0,
        'hardware': 'unknown (official InfoDiffusion code)',
        'ema': False,
        'metrics': {},
        'createdAt': iso_now(),
        'notes': ' '.join(part for part in (run_notes, notes) if part),
    }


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description='Convert an official InfoDiffusion (main branch) checkpoint into a '
                                                 'web model package.')
    parser.add_argument('--checkpoint', required=True, help='models/{exp}/model-{epoch}.pth from the official code')
    parser.add_argument('--dataset', required=True, choices=sorted(OFFICIAL_DATASETS),
                        help="the official --dataset the model was trained with")
    parser.add_argument('--out', required=True, help='package folder (its name is the model id)')
    parser.add_argument('--a-dim', type=int, default=None, help='official --a_dim (default: read from the weights)')
    parser.add_argument('--latent-head', default='a', choices=('a', 'mu'),
                        help="'mu' for runs with --kld_weight > 0 (their decoder saw mu + noise)")
    parser.add_argument('--timesteps', type=int, default=1000, help='official --diffusion_steps')
    parser.add_argument('--beta-start', type=float, default=1e-5, help='official --beta1')
    parser.add_argument('--beta-end', type=float, default=1e-2, help='official --betaT')
    parser.add_argument('--data-dir', default='', help='training images (FashionMNIST: its IDX folder; others: an '
                                                       'image folder); used for statistics and the gallery')
    parser.add_argument('--statistics-images', type=int, default=STATISTICS_IMAGES)
    parser.add_argument('--mmd-weight', type=float, default=0.1, help='official --mmd_weight of the run')
    parser.add_argument('--kld-weight', type=float, default=0.0, help='official --kld_weight of the run')
    parser.add_argument('--prior', default='regular', choices=('regular', '10mix'),
                        help="official --prior of the run (its 2-D 'roll' prior has no package form)")
    parser.add_argument('--steps', type=int, default=0, help='optimiser steps of the run, if known')
    parser.add_argument('--batch-size', type=int, default=64, help='official --batch_size of the run')
    precision = parser.add_mutually_exclusive_group()
    precision.add_argument('--float16', dest='float16', action='store_true', default=True,
                           help='store weights as float16, the default (the time table stays float32)')
    precision.add_argument('--float32', dest='float16', action='store_false',
                           help='store weights as float32 (twice the size; the official values exactly)')
    parser.add_argument('--display-name', default='')
    parser.add_argument('--description', default='')
    parser.add_argument('--notes', default='')
    parser.add_argument('--index', action='store_true', help="list the package in its parent's index.json")
    parser.add_argument('--default', action='store_true', help='make it the default model in index.json')
    args = parser.parse_args(argv)
    schedule = {'kind': 'linear', 'timesteps': args.timesteps, 'betaStart': args.beta_start, 'betaEnd': args.beta_end}
    try:
        convert_checkpoint(args.checkpoint, args.dataset, args.out, args.a_dim, args.latent_head, schedule,
                           args.data_dir, args.statistics_images, args.mmd_weight, args.kld_weight, args.prior,
                           args.steps, args.batch_size, args.float16, args.display_name, args.description,
                           args.notes, args.index or args.default, args.default)
    except (ValueError, OSError, DataError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
