"""Sampling, reconstruction, latent traversal and interpolation of an InfoDiffusion model, as PNG grids.

Every command takes ``--model``: a web package folder (what the app ships, loaded by infodiff.webpackage) or a
training checkpoint (``runs/<name>/checkpoint.pt``, EMA weights). Decoding is DDIM with the shared step plan
(infodiff.diffusion), eta 0 unless given; inversion keeps z fixed to Enc(x0). Images are written as they are in
model space: FashionMNIST stays light-on-dark grayscale.

    cd train
    python -m infodiff.sample samples     --model ../public/models/fashion-mnist --n 64 --steps 50 --out samples.png
    python -m infodiff.sample reconstruct --model runs/fmnist_cpu/checkpoint.pt --n 8 --steps 100 --out recon.png
    python -m infodiff.sample traversal   --model ../public/models/fashion-mnist --index 92 --out traversal.png
    python -m infodiff.sample interpolate --model ../public/models/fashion-mnist --index 0 --index-b 1 --out interp.png

Layouts (after the official `run.py --mode` outputs, docs/sources.md §1.6):
    samples      z from the model's prior (N(0, I), or the 10mix mixture for models regularised towards it)
                 and x_T ~ N(0, I), a square-ish grid.
    reconstruct  three rows: the originals; decoded from their DDIM-inverted x_T; decoded from fresh noise x_T
                 (what z alone keeps). The PSNR of both rows is printed.
    traversal    one row per latent dimension: z_k set to each of -1.5, -1.2, ..., 1.5 (absolute values), all
                 decoded from the same inverted x_T.
    interpolate  z(e) = cos(e pi/2) z_a + sin(e pi/2) z_b (a quarter circle) with x_T slerped, e in linspace(0, 1).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

from . import rng
from .data import DataError, ImageDataset, balanced_indices, load_dataset
from .diffusion import Schedule, ddim_invert, ddim_plan, ddim_sample, make_schedule
from .latent_prior import fit_latent_mixture, sample_latent_mixture
from .metrics import reconstruction_psnr
from .model import InfoDiff
from .objective import PACKAGE_PRIOR_NAMES, sample_prior
from .webpackage import load_web_package_with_student

TRAVERSAL_VALUES = tuple(round(-1.5 + 0.3 * k, 10) for k in range(11))  # the paper's absolute values, step 0.3
KNOWN_DATASETS = ('fashion-mnist', 'shapes')


@dataclass
class Student:
    """A distilled few-call decoder (infodiff.distill; docs/model-format.md, `student`): deterministic DDIM along
    ``plan`` with the network's output read as ``parameterisation``."""

    denoiser: torch.nn.Module  # an AuxiliaryUNet, eval mode
    plan: List[int]
    parameterisation: str


@dataclass
class ReadyModel:
    """A model ready to sample, whatever file it came from (the engine's ReadyModel in src/engine/requests.ts).

    Not the app's LoadedModel (src/state/modelSlice.ts), which is only the store's record of what was loaded.
    """

    model: InfoDiff  # eval mode
    schedule: Schedule
    architecture: Dict
    dataset: str  # 'fashion-mnist', 'shapes' or 'folder'
    data_dir: str  # '' = the dataset's default location
    metadata: Optional[Dict]  # the web package's metadata (gaussianReference, latent stats, ...); None for checkpoints
    source: str  # the path it was loaded from
    prior: str = 'regular'  # p(z) it was trained towards, as TrainConfig names it: 'regular' = N(0, I) or '10mix'
    data_seed: int = 0  # seed of the training-data draw (shapes scenes; the held-out split uses seed + 1000)
    train_size: int = 0  # training images in that draw (the first rows of a file-backed set); 0 = the whole split
    training_steps: Optional[int] = None  # optimiser steps behind these weights (None when the file does not say)
    student: Optional[Student] = None  # the package's distilled decoder, when it has one

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def denoiser(self, xt: torch.Tensor, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.model.predict_eps(xt, t, z)


def resolve_device(name: str) -> str:
    if name == 'auto':
        return 'cuda' if torch.cuda.is_available() else 'cpu'
    if name == 'cuda' and not torch.cuda.is_available():
        raise ValueError('--device cuda was asked for, but torch sees no CUDA device')
    return name


def load_model(path: str | Path, device: str = 'cpu') -> ReadyModel:
    """Loads a web package folder or a training checkpoint file (EMA weights when it has them)."""
    path = Path(path)
    if path.is_dir():
        model, metadata, student_net = load_web_package_with_student(path, device)
        student = None
        if student_net is not None:
            student = Student(student_net, list(metadata['student']['plan']), metadata['student']['parameterisation'])
        provenance = metadata['provenance']
        dataset = provenance['dataset']
        # Packages without provenance.data (converted or older ones) used the data set's default draw.
        draw = provenance.get('data', {'seed': 0, 'size': 0})
        prior = {name: kind for kind, name in PACKAGE_PRIOR_NAMES.items()}[metadata['latent']['prior']]
        return ReadyModel(model=model, schedule=make_schedule(metadata['schedule']),
                           architecture=metadata['architecture'],
                           dataset=dataset if dataset in KNOWN_DATASETS else 'folder', data_dir='',
                           metadata=metadata, source=str(path), prior=prior, data_seed=draw['seed'],
                           train_size=draw['size'], training_steps=provenance.get('steps'), student=student)
    if path.is_file():
        from .train import load_checkpoint_model  # the training module is heavy (DDP, tqdm); only when needed

        model, cfg, checkpoint = load_checkpoint_model(path, device=device)
        return ReadyModel(model=model, schedule=make_schedule(cfg.schedule), architecture=cfg.architecture,
                           dataset=cfg.dataset, data_dir=cfg.data_dir, metadata=None, source=str(path),
                           prior=cfg.prior, data_seed=cfg.seed, train_size=cfg.dataset_size,
                           training_steps=checkpoint.get('step'))
    raise FileNotFoundError(f'--model {path}: neither a web package folder nor a checkpoint file')


# --------------------------------------------------------------------------------------------- operations


def _normal(shape: Sequence[int], generator: torch.Generator, device: torch.device) -> torch.Tensor:
    # The generators here live on the CPU, so a seed gives the same numbers on every device.
    return rng.normal(shape, generator, device)


def _image_shape(loaded: ReadyModel) -> tuple[int, int, int]:
    arch = loaded.architecture
    return arch['imageChannels'], arch['imageSize'], arch['imageSize']


@torch.no_grad()
def encode(loaded: ReadyModel, x0: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
    """z = Enc(x0) for x0 [N, C, H, W] in [-1, 1] -> [N, D] on the model's device."""
    return torch.cat([loaded.model.encode(x0[i:i + batch_size].to(loaded.device))
                      for i in range(0, len(x0), batch_size)])


@torch.no_grad()
def encode_rows(loaded: ReadyModel, dataset: ImageDataset, rows: Sequence[int], batch_size: int = 64) -> np.ndarray:
    """z = Enc(x) of dataset rows, float64 [N, D]; converts one batch at a time so large N stays cheap."""
    rows = list(rows)
    chunks = [encode(loaded, dataset.batch(torch.tensor(rows[i:i + batch_size], dtype=torch.int64), loaded.device),
                     batch_size).double().cpu().numpy() for i in range(0, len(rows), batch_size)]
    return np.concatenate(chunks)


@torch.no_grad()
def decode(loaded: ReadyModel, x_noise: torch.Tensor, z: torch.Tensor, steps: int, eta: float = 0.0,
           generator: Optional[torch.Generator] = None, batch_size: int = 64) -> torch.Tensor:
    """DDIM-decodes x_T [N, C, H, W] with latents z [N, D] in `steps` steps -> x0 [N, C, H, W] (unclipped)."""
    plan = ddim_plan(loaded.schedule.timesteps, steps)
    out = []
    for i in range(0, len(x_noise), batch_size):
        out.append(ddim_sample(loaded.denoiser, loaded.schedule, plan, x_noise[i:i + batch_size].to(loaded.device),
                               z[i:i + batch_size].to(loaded.device), eta=eta, generator=generator))
    return torch.cat(out)


@torch.no_grad()
def decode_student(loaded: ReadyModel, student: Student, x_noise: torch.Tensor, z: torch.Tensor,
                   calls: Optional[int] = None, batch_size: int = 64, eta: float = 0.0,
                   generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """The student's image of x_T [N, C, H, W] and z [N, D] after its first ``calls`` calls (default: all), with
    the sampler of the decode it stands in for: eta 0 for an inverted x_T, a prior draw's eta (noise from
    ``generator``) between its calls (docs/model-format.md, ``student``)."""
    plan = student.plan[:calls or len(student.plan)]
    return torch.cat([ddim_sample(student.denoiser, loaded.schedule, plan, x_noise[i:i + batch_size].to(loaded.device),
                                  z[i:i + batch_size].to(loaded.device), eta=eta, generator=generator,
                                  parameterisation=student.parameterisation)
                      for i in range(0, len(x_noise), batch_size)])


@torch.no_grad()
def invert(loaded: ReadyModel, x0: torch.Tensor, z: torch.Tensor, steps: int, batch_size: int = 64) -> torch.Tensor:
    """DDIM inversion (eta 0, z fixed) of x0 [N, C, H, W] -> x_T [N, C, H, W] at level alpha_bar[T-1]."""
    plan = ddim_plan(loaded.schedule.timesteps, steps)
    return torch.cat([ddim_invert(loaded.denoiser, loaded.schedule, plan, x0[i:i + batch_size].to(loaded.device),
                                  z[i:i + batch_size].to(loaded.device)) for i in range(0, len(x0), batch_size)])


def package_mixture(loaded: ReadyModel) -> Optional[Dict]:
    """The package's fitted latent mixture (latent.fitted, infodiff.latent_prior), or None (a checkpoint, or an
    older package)."""
    return loaded.metadata['latent'].get('fitted') if loaded.metadata is not None else None


def latent_mixture(loaded: ReadyModel, images: int = 0, seed: int = 0) -> Dict:
    """The package's fitted latent mixture, else one fitted here to z = Enc(x) of the first ``images`` (0 = all)
    images of the model's training draw, the images export fits it to."""
    mixture = package_mixture(loaded)
    if mixture is not None:
        return mixture
    train_set = open_dataset(loaded, 'train', shapes_count=images)
    count = len(train_set) if images <= 0 else min(images, len(train_set))
    return fit_latent_mixture(encode_rows(loaded, train_set, range(count)), seed=seed)


def sample_images(loaded: ReadyModel, n: int, steps: int, eta: float = 0.0, seed: int = 0,
                  batch_size: int = 64, mixture: Optional[Dict] = None,
                  codes: Optional[torch.Tensor] = None) -> torch.Tensor:
    """n samples with z from the model's prior (or from ``mixture``, a fitted latent prior, or the first n rows of
    ``codes``, given latents such as encoded held-out images) and x_T ~ N(0, I) -> [n, C, H, W] in model space."""
    if mixture is not None and codes is not None:
        raise ValueError('sample_images takes z from a mixture or from given codes, not both')
    generator = torch.Generator().manual_seed(seed)
    if codes is not None:
        if len(codes) < n:
            raise ValueError(f'{n} samples need {n} codes, got {len(codes)}')
        # Draw (and discard) prior z anyway, so x_T is the same noise as the other samplers' for this seed.
        sample_prior(loaded.prior, n, loaded.architecture['latentDim'], generator, loaded.device)
        z = codes[:n].to(loaded.device, torch.float32)
    elif mixture is None:
        z = sample_prior(loaded.prior, n, loaded.architecture['latentDim'], generator, loaded.device)
    else:
        z = sample_latent_mixture(mixture, n, generator, loaded.device)
    x_noise = _normal((n,) + _image_shape(loaded), generator, loaded.device)
    # A CPU generator for the eta > 0 noise too: the sampler moves its draws to the model's device.
    step_noise = torch.Generator().manual_seed(seed + 1)
    return decode(loaded, x_noise, z, steps, eta, step_noise, batch_size)


def reconstruct(loaded: ReadyModel, x0: torch.Tensor, steps: int, inversion: bool = True, seed: int = 0,
                batch_size: int = 64) -> torch.Tensor:
    """Decodes Enc(x0) from the DDIM-inverted x_T (inversion) or from fresh noise x_T ~ N(0, I) (seeded).

    x0 [N, C, H, W] in [-1, 1] -> reconstructions [N, C, H, W]; both use `steps` DDIM steps, eta 0.
    """
    z = encode(loaded, x0, batch_size)
    if inversion:
        x_noise = invert(loaded, x0, z, steps, batch_size)
    else:
        x_noise = _normal(x0.shape, torch.Generator().manual_seed(seed), loaded.device).to(x0.dtype)
    return decode(loaded, x_noise, z, steps, 0.0, None, batch_size)


def traversal(loaded: ReadyModel, x0: torch.Tensor, steps: int, dims: Optional[Sequence[int]] = None,
              values: Sequence[float] = TRAVERSAL_VALUES, batch_size: int = 64) -> torch.Tensor:
    """The paper's traversal of one image x0 [1, C, H, W]: for each latent dimension k in `dims` (default all), z_k
    set to each absolute value, decoded from the same inverted x_T. Returns [len(dims) * len(values), C, H, W],
    row-major (one row per dimension)."""
    if x0.shape[0] != 1:
        raise ValueError(f'traversal takes one image [1, C, H, W], got {list(x0.shape)}')
    latent_dim = loaded.architecture['latentDim']
    dims = list(range(latent_dim)) if dims is None else list(dims)
    bad = [k for k in dims if not 0 <= k < latent_dim]
    if bad:
        raise ValueError(f'latent dimensions {bad} do not exist; the model has {latent_dim} (0..{latent_dim - 1})')
    z = encode(loaded, x0)
    x_noise = invert(loaded, x0, z, steps)
    edited = z.repeat(len(dims) * len(values), 1)
    for row, k in enumerate(dims):
        for col, value in enumerate(values):
            edited[row * len(values) + col, k] = value
    return decode(loaded, x_noise.expand(len(edited), -1, -1, -1), edited, steps, batch_size=batch_size)


def slerp(a: torch.Tensor, b: torch.Tensor, weight: float) -> torch.Tensor:
    """Spherical interpolation of two tensors of the same shape (as flat vectors); linear when they are parallel."""
    a_flat, b_flat = a.flatten().double(), b.flatten().double()
    cosine = torch.dot(a_flat, b_flat) / (a_flat.norm() * b_flat.norm())
    theta = torch.arccos(cosine.clamp(-1.0, 1.0))
    if theta.abs() < 1e-6:
        mixed = (1 - weight) * a_flat + weight * b_flat
    else:
        mixed = (torch.sin((1 - weight) * theta) * a_flat + torch.sin(weight * theta) * b_flat) / torch.sin(theta)
    return mixed.to(a.dtype).reshape(a.shape)


def interpolation(loaded: ReadyModel, x_a: torch.Tensor, x_b: torch.Tensor, steps: int, frames: int = 10,
                  batch_size: int = 64) -> torch.Tensor:
    """Frames between two images [1, C, H, W]: z on the quarter circle cos/sin, x_T slerped between the two
    inverted x_T, e in linspace(0, 1, frames). Returns [frames, C, H, W]."""
    pair = torch.cat([x_a, x_b])
    z = encode(loaded, pair)
    x_noise = invert(loaded, pair, z, steps)
    weights = np.linspace(0.0, 1.0, frames)
    z_path = torch.stack([math.cos(e * math.pi / 2) * z[0] + math.sin(e * math.pi / 2) * z[1] for e in weights])
    x_path = torch.stack([slerp(x_noise[0], x_noise[1], float(e)) for e in weights])
    return decode(loaded, x_path, z_path, steps, batch_size=batch_size)


# --------------------------------------------------------------------------------------------- images


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """[N, C, H, W] in [-1, 1] -> uint8 [N, H, W, C] (clipped; the inverse of u / 127.5 - 1)."""
    array = images.detach().float().cpu().clamp(-1, 1).permute(0, 2, 3, 1).numpy()
    return np.round((array + 1.0) * 127.5).astype(np.uint8)


def save_grid(images: torch.Tensor, columns: int, path: str | Path, gutter: int = 2,
              keep_within: Optional[int] = None) -> Path:
    """Writes images [N, C, H, W] in model space as one PNG grid (grayscale for C = 1, RGB for C = 3), row-major,
    with mid-grey gutters. Returns the path.

    keep_within: when given and ``path`` already holds a grid of the same size whose every pixel is within this
        many levels of the new one, the file is left as it is. CPU float sums depend on the thread count, so a
        rerun of the same model can move a few pixels by one level; committed pictures should not churn for that.
    """
    from PIL import Image

    tiles = to_uint8(images)
    n, h, w, c = tiles.shape
    rows = int(math.ceil(n / columns))
    grid = np.full((rows * (h + gutter) + gutter, columns * (w + gutter) + gutter, c), 128, dtype=np.uint8)
    for i, tile in enumerate(tiles):
        r, col = divmod(i, columns)
        top, left = gutter + r * (h + gutter), gutter + col * (w + gutter)
        grid[top:top + h, left:left + w] = tile
    path = Path(path)
    picture = grid[:, :, 0] if c == 1 else grid
    if keep_within is not None and _holds_within(path, picture, keep_within):
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(picture).save(path)
    return path


def _holds_within(path: Path, picture: np.ndarray, levels: int) -> bool:
    """Whether the PNG at ``path`` decodes to ``picture``'s shape with every pixel within ``levels`` of it."""
    from PIL import Image

    try:
        with Image.open(path) as existing:
            old = np.asarray(existing)
    except OSError:  # missing or not an image: write it
        return False
    return old.shape == picture.shape and int(np.abs(old.astype(np.int16) - picture).max(initial=0)) <= levels


# --------------------------------------------------------------------------------------------- CLI


def load_images(loaded: ReadyModel, split: str, indices: Sequence[int], data_dir: str = '',
                dataset: Optional[ImageDataset] = None) -> torch.Tensor:
    """Dataset rows `indices` of the model's data set as [N, C, H, W] in [-1, 1] on the model's device."""
    data = dataset if dataset is not None else open_dataset(loaded, split, data_dir, max(indices) + 1)
    bad = [i for i in indices if not 0 <= i < len(data)]
    if bad:
        raise ValueError(f'image indices {bad} are out of range; the {split} split has {len(data)} images')
    return data.batch(torch.tensor(list(indices), dtype=torch.int64), loaded.device)


def open_dataset(loaded: ReadyModel, split: str, data_dir: str = '', shapes_count: int = 0) -> ImageDataset:
    """The model's data set at the model's size (`data_dir` overrides where it lives; a folder data set needs it),
    drawn as in training: the 'train' split is the training draw itself (same seed, at most its size).

    Files are read whole (the train split cut to the training rows); the procedural shapes are rendered on
    demand, `shapes_count` scenes of the split's seeded draw (0 = the whole training draw, or the loader's default
    size; a smaller draw is a prefix of a larger one, so they are training scenes).
    """
    arch = loaded.architecture
    directory = data_dir or loaded.data_dir
    if loaded.dataset == 'folder' and not directory:
        raise ValueError(f'{loaded.source} was trained on an image folder; pass --data-dir <that folder>')
    training_rows = loaded.train_size if split == 'train' else 0
    if loaded.dataset == 'shapes':
        size = min(shapes_count, training_rows) if shapes_count and training_rows else shapes_count or training_rows
    else:
        size = training_rows
    return load_dataset(loaded.dataset, directory, arch['imageSize'], arch['imageChannels'], split, size,
                        loaded.data_seed)


def to_model(images: torch.Tensor) -> np.ndarray:
    """Model-space tensor -> float numpy array on the CPU (for the numpy metrics)."""
    return images.detach().cpu().double().numpy()


def _parse_list(text: str) -> List[int]:
    return [int(part) for part in text.split(',') if part.strip()]


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    commands = parser.add_subparsers(dest='command', required=True)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument('--model', required=True, help='web package folder or training checkpoint file')
        sub.add_argument('--steps', type=int, default=50, help='DDIM steps (also for inversion)')
        sub.add_argument('--seed', type=int, default=0)
        sub.add_argument('--batch-size', type=int, default=64)
        sub.add_argument('--device', default='auto', choices=('auto', 'cpu', 'cuda'))
        sub.add_argument('--threads', type=int, default=0, help='torch CPU threads (0 = torch default)')
        sub.add_argument('--out', type=Path, required=True, help='PNG file to write')
        return sub

    samples = command('samples', "images from the prior: z ~ p(z) (the model's prior), x_T ~ N(0, I)")
    samples.add_argument('--n', type=int, default=64)
    samples.add_argument('--eta', type=float, default=0.0)
    samples.add_argument('--prior', default='model', choices=('model', 'fitted'),
                         help="z from the model's prior, or from the Gaussian mixture fitted to the encoded training "
                              "set (the package's; fitted here to --fit-images training images for a checkpoint)")
    samples.add_argument('--fit-images', type=int, default=0, help='training images to fit --prior fitted to for a '
                                                                   'checkpoint (0 = all)')
    samples.add_argument('--columns', type=int, default=0, help='grid columns (0 = about sqrt(n))')
    for name, help_text in (('reconstruct', 'originals, reconstructions with and without inversion'),
                            ('traversal', 'one row per latent dimension, values -1.5..1.5'),
                            ('interpolate', 'z on a quarter circle, x_T slerped')):
        sub = command(name, help_text)
        sub.add_argument('--split', default='test', choices=('train', 'test'))
        sub.add_argument('--data-dir', default='', help="where the model's data set lives (default: its usual place)")
        if name == 'reconstruct':
            sub.add_argument('--n', type=int, default=8, help='images, spread over the classes')
            sub.add_argument('--indices', default='', help='comma-separated dataset rows instead of --n')
        else:
            sub.add_argument('--index', type=int, default=0, help='dataset row of the (first) image')
        if name == 'traversal':
            sub.add_argument('--dims', default='', help='comma-separated latent dimensions (default: all)')
        if name == 'interpolate':
            sub.add_argument('--index-b', type=int, default=1, help='dataset row of the second image')
            sub.add_argument('--frames', type=int, default=10)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        path = _run(args)
    except (ValueError, OSError, DataError) as err:  # user-facing problems: say what, without a traceback
        print(f'error: {err}', file=sys.stderr)
        return 1
    print(f'wrote {path}')
    return 0


def _run(args: argparse.Namespace) -> Path:
    """Executes one parsed command and returns the PNG written."""
    loaded = load_model(args.model, resolve_device(args.device))

    if args.command == 'samples':
        mixture = latent_mixture(loaded, args.fit_images, args.seed) if args.prior == 'fitted' else None
        images = sample_images(loaded, args.n, args.steps, args.eta, args.seed, args.batch_size, mixture)
        path = save_grid(images, args.columns or int(math.ceil(math.sqrt(args.n))), args.out)
    elif args.command == 'reconstruct':
        given = _parse_list(args.indices) if args.indices else []
        data = open_dataset(loaded, args.split, args.data_dir, max(given) + 1 if given else args.n)
        indices = given or balanced_indices(data, args.n, args.seed)
        x0 = load_images(loaded, args.split, indices, dataset=data)
        inverted = reconstruct(loaded, x0, args.steps, True, args.seed, args.batch_size)
        fresh = reconstruct(loaded, x0, args.steps, False, args.seed, args.batch_size)
        path = save_grid(torch.cat([x0, inverted, fresh]), len(x0), args.out)
        print(json.dumps({'indices': list(indices),
                          'psnrWithInversion': reconstruction_psnr(to_model(inverted), to_model(x0))['psnr'],
                          'psnrWithoutInversion': reconstruction_psnr(to_model(fresh), to_model(x0))['psnr']}))
    elif args.command == 'traversal':
        x0 = load_images(loaded, args.split, [args.index], args.data_dir)
        dims = _parse_list(args.dims) if args.dims else None
        images = traversal(loaded, x0, args.steps, dims, batch_size=args.batch_size)
        path = save_grid(images, len(TRAVERSAL_VALUES), args.out)
    else:
        pair = load_images(loaded, args.split, [args.index, args.index_b], args.data_dir)
        images = interpolation(loaded, pair[:1], pair[1:], args.steps, args.frames, args.batch_size)
        path = save_grid(images, args.frames, args.out)
    return path


if __name__ == '__main__':
    sys.exit(main())
