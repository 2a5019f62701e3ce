"""Distils a shipped model's 20-step DDIM decoder into a student denoiser that needs one or two network calls.

    cd train
    /usr/bin/python3 -m infodiff.distill --teacher ../public/models/fashion-mnist --out_dir runs/fmnist-student

Method: direct regression of the teacher's sampler (Luhman & Luhman 2021, "Knowledge Distillation in Iterative
Generative Models for Improved Sampling Speed", arXiv:2101.02388), trained through the student's whole plan, with
the student in v-parameterisation (Salimans & Ho 2022, "Progressive Distillation for Fast Sampling of Diffusion
Models", ICLR, §4). Why this and not progressive distillation: the app decodes two kinds of x_T (DDIM-inverted
codes of images, and fresh noise for prior draws) with two samplers (eta 0 and eta 1), and direct regression
learns exactly those maps from (x_T, z, teacher image) triples computed once; progressive distillation would
halve 20 steps in five rounds, each with fresh teacher calls, and compound each round's error. The costly part,
40 teacher calls per inverted image, is paid once up front (the pool), resumably.

1. The pool (``pool.pt``), built in seeded chunks of ``chunk`` rows, checkpointed as it fills:
   - inverted: a training image x, z = Enc(x), x_T = 20-step DDIM inversion, target = the teacher's 20-step
     eta-0 decode of (x_T, z): the app's reconstruction of an uploaded or gallery image;
   - prior: z from the package's fitted latent mixture, x_T ~ N(0, I), target = the teacher's 20-step eta-1
     decode with seeded step noise: the app's settled prior draw. The student cannot see the step noise, so it
     learns their conditional mean given (x_T, z), which carries no speckle.
   A monitor set of held-out images and prior draws is built the same way and scored every ``eval_every`` steps.
2. The student starts from the teacher's denoiser weights (same architecture, so the web runtime runs it
   unchanged) and is trained on loss = sum over calls i of w_i * MSE(x0_pred_i, target), w = 1 for the last call
   and ``early_call_weight`` for earlier ones, so the first call alone is a usable 1-call decoder too.
3. Checkpoints (``checkpoint.pt``, atomic) hold the student, its EMA, the optimiser, the step and the config;
   the batch order is a pure function of (seed, step), so a killed and resumed run ends bit-identical.
   ``--stop_after_steps`` and Ctrl-C / SIGTERM (which checkpoint first) slice a long run.

Every option is a ``--key=value`` (``--help`` lists them); a resume keeps the checkpoint's method fields.
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import math
import os
import platform
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch

from . import adversarial, rng
from .data import balanced_indices, global_batch_indices
from .diffusion import PARAMETERISATIONS, ddim_decode, ddim_invert, ddim_plan, ddim_sample
from .latent_prior import sample_latent_mixture
from .metrics import reconstruction_psnr
from .model import freeze_time_tables
from .sample import ReadyModel, latent_mixture, load_model, open_dataset

CHECKPOINT_NAME = 'checkpoint.pt'
POOL_NAME = 'pool.pt'
CHECKPOINT_VERSION = 1
REGIMES = ('inverted', 'prior')  # the pool's `regime` column: 0 = inverted x_T of an image, 1 = prior draw


@dataclass
class DistillConfig:
    teacher: str = '../public/models/fashion-mnist'  # the package (or checkpoint) whose sampler is distilled
    out_dir: str = 'runs/fmnist-student'
    teacher_steps: int = 20  # the app's settled sampler
    prior_eta: float = 1.0  # the app's prior draws settle with stochastic DDIM (README, "Samplers")
    # eta between the student's own calls on prior rows in training. The app runs a prior draw's sampler (eta 1)
    # between them, but training so regresses the second call onto a blurrier mean: 0 did better (README,
    # "What did not close the Fréchet gap").
    prior_student_eta: float = 0.0
    plan: str = '999,500'  # the student's timesteps, one network call each (the 3-step plan's first two)
    parameterisation: str = 'v'
    inverted_images: int = 4096  # pool rows of inverted training images
    prior_draws: int = 4096  # pool rows of prior draws
    monitor_images: int = 64  # held-out rows of each regime, scored every eval_every steps
    chunk: int = 64  # pool rows built per batch of teacher calls
    batch_size: int = 32
    steps: int = 12000
    lr: float = 1e-4
    min_lr: float = 1e-6
    warmup_steps: int = 200
    ema_decay: float = 0.999
    grad_clip: float = 1.0
    early_call_weight: float = 0.5
    checkpoint_every: int = 100
    eval_every: int = 500
    log_every: int = 25
    seed: int = 0
    threads: int = 0  # 0 = every core
    device: str = 'auto'
    stop_after_steps: int = 0  # end this invocation after N steps (0 = run to `steps`)
    init_from: str = ''  # start from another distillation checkpoint's EMA weights (fresh optimiser, step 0)
    regimes: str = 'inverted,prior'  # the pool rows trained on (the monitor scores both): a diagnostic knob
    # > 0 adds a discriminator on the prior draws (adversarial.py), this strong relative to the regression loss.
    adversarial_weight: float = 0.0
    discriminator_lr: float = 2e-4
    # The sinusoid time table is fixed by construction (model.TimeEmbedding), in the student as in the teacher;
    # runs begun before this field existed trained it too, and keep doing so on resume (exactness).
    train_time_table: bool = False
    resume: bool = False


# Fields that define what is learned; a resume takes them from the checkpoint whatever the command line says.
FORCED_ON_RESUME = ('teacher', 'teacher_steps', 'prior_eta', 'prior_student_eta', 'plan', 'parameterisation',
                    'inverted_images', 'prior_draws', 'monitor_images', 'chunk', 'batch_size', 'seed', 'init_from',
                    'regimes', 'adversarial_weight', 'discriminator_lr', 'train_time_table')
# What a checkpoint written before a field existed was trained with.
BEFORE_FIELD_EXISTED = {'prior_student_eta': 0.0, 'init_from': '', 'regimes': 'inverted,prior',
                        'adversarial_weight': 0.0, 'discriminator_lr': 2e-4, 'train_time_table': True}


# Each seeded stream of a run draws from seed * 1_000_003 + its offset + an index (chunk, step): streams stay
# apart, and each draw is a pure function of (seed, index), so rebuilt pools and resumed runs are exact.
SEED_STREAMS = {'pool_train': 0, 'pool_monitor': 500_000, 'critic_reals': 700_000_000, 'critic_init': 800_000_000,
                'step_noise': 900_000_000}


def stream_seed(cfg: DistillConfig, stream: str, index: int = 0) -> int:
    return cfg.seed * 1_000_003 + SEED_STREAMS[stream] + index


def stream_generator(cfg: DistillConfig, stream: str, index: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(stream_seed(cfg, stream, index))


class DistillError(ValueError):
    """A configuration or file that cannot be distilled from, with the reason."""


def parse_plan(text: str, timesteps: int) -> List[int]:
    """'999,500' -> [999, 500]: strictly decreasing timesteps in [0, T - 1], starting at T - 1 (where x_T sits)."""
    try:
        plan = [int(part) for part in text.split(',') if part.strip()]
    except ValueError:
        raise DistillError(f'plan must be comma-separated integers, got {text!r}') from None
    if not plan or plan[0] != timesteps - 1 or any(b >= a for a, b in zip(plan, plan[1:])) or plan[-1] < 0:
        raise DistillError(f'plan must decrease strictly from T - 1 = {timesteps - 1} and stay >= 0, got {plan}')
    return plan


def trained_regimes(cfg: DistillConfig) -> List[str]:
    """'inverted, prior' -> ['inverted', 'prior']: the regimes ``cfg.regimes`` names."""
    return [r.strip() for r in cfg.regimes.split(',') if r.strip()]


def validate(cfg: DistillConfig) -> DistillConfig:
    if cfg.parameterisation not in PARAMETERISATIONS:
        raise DistillError(f"parameterisation must be one of {', '.join(PARAMETERISATIONS)}, "
                           f'got {cfg.parameterisation!r}')
    for name in ('teacher_steps', 'chunk', 'batch_size', 'steps', 'checkpoint_every', 'eval_every', 'log_every'):
        if getattr(cfg, name) < 1:
            raise DistillError(f'{name} must be at least 1, got {getattr(cfg, name)}')
    if cfg.inverted_images + cfg.prior_draws < cfg.batch_size:
        raise DistillError('the pool must hold at least one batch')
    trained = trained_regimes(cfg)
    if not trained or any(r not in REGIMES for r in trained):
        raise DistillError(f"regimes must be a comma-separated subset of {', '.join(REGIMES)}, got {cfg.regimes!r}")
    for name in ('prior_eta', 'prior_student_eta'):
        if not 0 <= getattr(cfg, name) <= 1:
            raise DistillError(f'{name} must be in [0, 1], got {getattr(cfg, name)}')
    if cfg.adversarial_weight < 0 or cfg.discriminator_lr <= 0:
        raise DistillError('adversarial_weight must be >= 0 and discriminator_lr > 0')
    if cfg.adversarial_weight > 0 and 'prior' not in trained:
        raise DistillError('adversarial_weight needs the prior rows it judges: add prior to --regimes')
    return cfg


# ------------------------------------------------------------------------------------------------ the pool

def _atomic_save(payload: Any, path: Path) -> None:
    tmp = path.with_name(path.name + '.tmp')
    torch.save(payload, tmp)
    os.replace(tmp, path)


@torch.no_grad()
def teacher_rows(teacher: ReadyModel, regime: str, images: Optional[torch.Tensor], count: int, mixture: Dict,
                 cfg: DistillConfig, generator: torch.Generator) -> Dict[str, torch.Tensor]:
    """One chunk of (x_T, z, target) for ``regime``: images [count, C, H, W] for 'inverted', None for 'prior'."""
    plan = ddim_plan(teacher.schedule.timesteps, cfg.teacher_steps)
    device = teacher.device
    if regime == 'inverted':
        x0 = images.to(device)
        z = teacher.model.encode(x0)
        x_noise = ddim_invert(teacher.denoiser, teacher.schedule, plan, x0, z)
        target = ddim_sample(teacher.denoiser, teacher.schedule, plan, x_noise, z)
    else:
        z = sample_latent_mixture(mixture, count, generator, device)
        arch = teacher.architecture
        x_noise = rng.normal((count, arch['imageChannels'], arch['imageSize'], arch['imageSize']), generator, device)
        target = ddim_sample(teacher.denoiser, teacher.schedule, plan, x_noise, z, eta=cfg.prior_eta,
                             generator=generator)
    return {'x_noise': x_noise.float().cpu(), 'z': z.float().cpu(), 'target': target.float().cpu()}


class Pool:
    """The training triples, filled chunk by chunk and saved as it goes. Chunk k is a pure function of
    (seed, k), so a pool rebuilt from scratch, or finished after an interruption, holds the same rows."""

    def __init__(self, teacher: ReadyModel, cfg: DistillConfig, path: Path, log):
        self.teacher, self.cfg, self.path, self.log = teacher, cfg, path, log
        self.spec = {key: getattr(cfg, key) for key in ('teacher', 'teacher_steps', 'prior_eta', 'inverted_images',
                                                         'prior_draws', 'monitor_images', 'chunk', 'seed')}

    def _chunks(self, split: str) -> List[Dict[str, Any]]:
        """[{regime, rows}] in build order; rows index the split's image selection or count prior draws."""
        cfg = self.cfg
        counts = ((cfg.inverted_images, cfg.prior_draws) if split == 'train'
                  else (cfg.monitor_images, cfg.monitor_images))
        chunks = []
        for regime, total in zip(REGIMES, counts):
            for start in range(0, total, cfg.chunk):
                chunks.append({'regime': regime, 'start': start, 'count': min(cfg.chunk, total - start)})
        return chunks

    def build(self) -> Dict[str, Dict[str, torch.Tensor]]:
        """{'train': {...}, 'monitor': {...}}, each {x_noise, z, target, regime}; resumes a partial pool file."""
        state: Dict[str, Any] = {'spec': self.spec, 'done': {'train': [], 'monitor': []}}
        if self.path.is_file():
            saved = torch.load(self.path, map_location='cpu')
            if saved['spec'] != self.spec:
                raise DistillError(f'{self.path} was built for {saved["spec"]}, not {self.spec}; '
                                   'delete it or use another --out_dir')
            state = saved
        mixture = latent_mixture(self.teacher, seed=self.cfg.seed)
        for split in ('monitor', 'train'):
            chunks = self._chunks(split)
            done: List[Dict[str, torch.Tensor]] = state['done'][split]
            if len(done) == len(chunks):
                continue
            total = sum(c['count'] for c in chunks if c['regime'] == 'inverted')
            # Procedural shapes are rendered on demand: twice the rows needed, not the whole draw (48,000 scenes).
            dataset = open_dataset(self.teacher, 'train' if split == 'train' else 'test', shapes_count=2 * total)
            # Training images: a seeded permutation; held-out ones: balanced over classes (data.balanced_indices).
            if split == 'train':
                order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(self.cfg.seed))
                selection = [int(i) for i in order[:total]]
            else:
                selection = balanced_indices(dataset, total, self.cfg.seed)
            if len(selection) < total:
                raise DistillError(f'the {split} pool asks for {total} images; the data set has {len(selection)}')
            first, started = len(done), time.time()
            for k in range(first, len(chunks)):
                chunk = chunks[k]
                chunk_started = time.time()
                generator = stream_generator(self.cfg, f'pool_{split}', k)
                images = None
                if chunk['regime'] == 'inverted':
                    rows = selection[chunk['start']:chunk['start'] + chunk['count']]
                    images = dataset.batch(torch.tensor(rows, dtype=torch.int64))
                rows_out = teacher_rows(self.teacher, chunk['regime'], images, chunk['count'], mixture, self.cfg,
                                        generator)
                rows_out['regime'] = torch.full((chunk['count'],), REGIMES.index(chunk['regime']), dtype=torch.uint8)
                done.append(rows_out)
                built = len(done)
                state['seconds'] = state.get('seconds', 0.0) + time.time() - chunk_started
                if built == len(chunks) or built % 8 == 0:
                    _atomic_save(state, self.path)
                    rate = (time.time() - started) / max(1, built - first)
                    self.log(f'pool {split}: {built}/{len(chunks)} chunks ({rate:.1f} s a chunk this run)')
        _atomic_save(state, self.path)
        self.seconds = state.get('seconds')  # None for a pool built before its time was recorded
        return {split: {key: torch.cat([c[key] for c in state['done'][split]]) for key in
                        ('x_noise', 'z', 'target', 'regime')} for split in ('train', 'monitor')}


# ------------------------------------------------------------------------------------------------ the student

def student_decode(student, teacher: ReadyModel, plan: Sequence[int], parameterisation: str, x_noise: torch.Tensor,
                   z: torch.Tensor, eta: float = 0.0,
                   generator: Optional[torch.Generator] = None) -> List[torch.Tensor]:
    """x0_pred after each of the student's calls (the last is its image), differentiable; ``eta`` (noise from
    ``generator``) is the sampler between the calls."""
    outputs: List[torch.Tensor] = []
    ddim_decode(student, teacher.schedule, list(plan), x_noise, z, eta=eta, generator=generator,
                parameterisation=parameterisation, callback=lambda step: outputs.append(step['x0_pred']))
    return outputs


def trained_rows(rows: Dict[str, torch.Tensor], cfg: DistillConfig) -> Dict[str, torch.Tensor]:
    """The pool rows of the regimes ``cfg.regimes`` names (all of them by default)."""
    codes = [REGIMES.index(r) for r in trained_regimes(cfg)]
    keep = torch.isin(rows['regime'], torch.tensor(codes, dtype=rows['regime'].dtype))
    if bool(keep.all()):
        return rows
    if int(keep.sum()) < cfg.batch_size:
        raise DistillError(f'the pool holds {int(keep.sum())} rows of {cfg.regimes}, fewer than one batch')
    return {key: value[keep] for key, value in rows.items()}


def student_decode_rows(student, teacher: ReadyModel, plan: Sequence[int], parameterisation: str,
                        rows: Dict[str, torch.Tensor], prior_eta: float,
                        generator: Optional[torch.Generator]) -> List[torch.Tensor]:
    """student_decode of pool rows of both regimes, each with the app's sampler between the calls: eta 0 for
    inverted x_T, ``prior_eta`` for prior draws. Outputs keep the rows' order."""
    device = teacher.device
    prior = rows['regime'] == REGIMES.index('prior')
    if prior_eta == 0 or not bool(prior.any()):
        return student_decode(student, teacher, plan, parameterisation, rows['x_noise'].to(device),
                              rows['z'].to(device))
    parts, order = [], []
    for mask, eta in ((~prior, 0.0), (prior, prior_eta)):
        index = mask.nonzero()[:, 0]
        if len(index):
            order.append(index)
            parts.append(student_decode(student, teacher, plan, parameterisation, rows['x_noise'][index].to(device),
                                        rows['z'][index].to(device), eta, generator))
    restore = torch.argsort(torch.cat(order)).to(device)
    return [torch.cat(per_call)[restore] for per_call in zip(*parts)]


def distillation_loss(outputs: Sequence[torch.Tensor], target: torch.Tensor, early_weight: float) -> torch.Tensor:
    """sum_i w_i MSE(x0_pred_i, target): w = 1 for the last call, ``early_weight`` for the others."""
    weights = [early_weight] * (len(outputs) - 1) + [1.0]
    return sum(w * torch.mean((x - target) ** 2) for w, x in zip(weights, outputs))


class PriorCritic:
    """The discriminator of the student's prior draws (adversarial.py) and its optimiser; a training step's
    student gradient is regression + adaptive weight x adversarial."""

    def __init__(self, teacher: ReadyModel, cfg: DistillConfig, train_rows: Dict[str, torch.Tensor],
                 device: torch.device):
        arch = teacher.architecture
        self.cfg, self.device = cfg, device
        with torch.random.fork_rng(devices=[]):  # its initial weights: a function of the seed alone
            torch.manual_seed(stream_seed(cfg, 'critic_init'))
            self.net = adversarial.PriorDiscriminator(arch['imageChannels'], arch['latentDim']).to(device)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=cfg.discriminator_lr, betas=(0.0, 0.99))
        prior = train_rows['regime'] == REGIMES.index('prior')
        self.real_images, self.real_z = train_rows['target'][prior], train_rows['z'][prior]

    def state_dict(self) -> Dict[str, Any]:
        return {'net': self.net.state_dict(), 'optimizer': self.optimizer.state_dict()}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        self.net.load_state_dict(state['net'])
        self.optimizer.load_state_dict(state['optimizer'])

    def _real(self, count: int, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``count`` settled prior draws with their z: a pure function of (seed, step), so resume is exact."""
        rows = rng.integers(len(self.real_z), (count,), stream_generator(self.cfg, 'critic_reals', step))
        return self.real_images[rows].to(self.device), self.real_z[rows].to(self.device)

    def train_step(self, fake: torch.Tensor, z: torch.Tensor, step: int) -> float:
        """One discriminator update on the student's draws ``fake`` (detached) against as many settled ones."""
        real, real_z = self._real(len(z), step)
        self.net.train()
        loss = adversarial.discriminator_loss(self.net(real, real_z), self.net(fake.detach(), z))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return float(loss)

    def student_loss(self, regression: torch.Tensor, fake: torch.Tensor, z: torch.Tensor,
                     last: torch.nn.Parameter) -> tuple[torch.Tensor, float, float]:
        """The student's loss, regression + w x adversarial, with w from the two gradient norms at its ``last``
        layer (found by backpropagating to that layer alone; one full backward pass then takes the sum); returns
        (loss, w, adversarial loss)."""
        self.net.eval()  # no power-iteration update of the spectral norms on the student's pass
        adversarial_loss = adversarial.generator_loss(self.net(fake, z))
        regression_grad = torch.autograd.grad(regression, [last], retain_graph=True)
        adversarial_grad = torch.autograd.grad(adversarial_loss, [last], retain_graph=True)
        weight = adversarial.adaptive_weight(regression_grad, adversarial_grad, self.cfg.adversarial_weight)
        return regression + weight * adversarial_loss, weight, float(adversarial_loss)


@torch.no_grad()
def score(student, teacher: ReadyModel, plan: Sequence[int], parameterisation: str, rows: Dict[str, torch.Tensor],
          prior_eta: float = 0.0, batch_size: int = 64) -> Dict[str, Dict[str, float]]:
    """PSNR (dB, images in [0, 1] as metrics.reconstruction_psnr) of the student's image after each number of calls
    against the teacher's, per regime: {'inverted': {'calls1': .., 'calls2': ..}, 'prior': {...}}; prior rows
    take ``prior_eta`` between the calls (seeded, so every monitor sees the same noise)."""
    device = teacher.device
    result: Dict[str, Dict[str, float]] = {}
    for code, regime in enumerate(REGIMES):
        mask = rows['regime'] == code
        if not bool(mask.any()):
            continue
        eta = prior_eta if regime == 'prior' else 0.0
        x_noise, z, target = rows['x_noise'][mask], rows['z'][mask], rows['target'][mask]
        per_call: List[List[torch.Tensor]] = [[] for _ in plan]
        for i in range(0, len(z), batch_size):
            for calls in range(1, len(plan) + 1):
                outputs = student_decode(student, teacher, plan[:calls], parameterisation,
                                         x_noise[i:i + batch_size].to(device), z[i:i + batch_size].to(device), eta,
                                         torch.Generator().manual_seed(i))
                per_call[calls - 1].append(outputs[-1].cpu())
        result[regime] = {f'calls{calls + 1}': psnr_db(torch.cat(images), target)
                          for calls, images in enumerate(per_call)}
    return result


def psnr_db(images: torch.Tensor, references: torch.Tensor) -> float:
    """Mean PSNR in dB of images against references (metrics.reconstruction_psnr), rounded for logs and JSON."""
    return round(float(reconstruction_psnr(images.double().cpu().numpy(), references.double().cpu().numpy())['psnr']), 3)


def ema_decay_at(cfg: DistillConfig, step: int) -> float:
    """min(ema_decay, (1 + step) / (10 + step)): the EMA forgets the starting weights within the first hundreds of
    steps instead of keeping 0.999^step of them (the warm-up of diffusers' EMAModel.get_decay)."""
    return min(cfg.ema_decay, (1 + step) / (10 + step))


def lr_at(cfg: DistillConfig, step: int) -> float:
    """Linear warm-up, then cosine from lr to min_lr over the remaining steps."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps))
    return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * progress))


def _hardware(device: torch.device) -> str:
    if device.type == 'cuda':
        return f'{torch.cuda.get_device_name(device)} (torch {torch.__version__})'
    return f'CPU, {torch.get_num_threads()} thread(s) (torch {torch.__version__})'


def distill(cfg: DistillConfig, given: Sequence[str] = ()) -> Dict[str, Any]:
    """Builds (or finishes) the pool, then trains (or resumes) the student; returns {step, monitor, checkpoint}."""
    out_dir = Path(cfg.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    checkpoint_path = out_dir / CHECKPOINT_NAME
    log_path = out_dir / 'log.jsonl'

    def log(message: str) -> None:
        print(message, flush=True)

    checkpoint = None
    if checkpoint_path.is_file():
        if not cfg.resume:
            raise DistillError(f'{checkpoint_path} exists; pass --resume to continue it or choose another --out_dir')
        checkpoint = torch.load(checkpoint_path, map_location='cpu')
        if checkpoint.get('version') != CHECKPOINT_VERSION:
            raise DistillError(f'{checkpoint_path} has version {checkpoint.get("version")!r}, this code reads '
                               f'{CHECKPOINT_VERSION}')
        merged = dataclasses.asdict(cfg)
        for key in FORCED_ON_RESUME:
            kept = checkpoint['config'].get(key, BEFORE_FIELD_EXISTED.get(key))
            if key in given and merged[key] != kept:
                log(f'resume: keeping {key}={json.dumps(kept)} from the checkpoint')
            merged[key] = kept
        cfg = validate(DistillConfig(**merged))
        log(f'resume: continuing {checkpoint_path} at step {checkpoint["step"]}')

    use_cuda = cfg.device == 'cuda' or (cfg.device == 'auto' and torch.cuda.is_available())
    device = torch.device('cuda' if use_cuda else 'cpu')
    if not use_cuda:
        torch.set_num_threads(cfg.threads or os.cpu_count() or 1)
    teacher = load_model(cfg.teacher, str(device))
    plan = parse_plan(cfg.plan, teacher.schedule.timesteps)
    pool_builder = Pool(teacher, cfg, out_dir / POOL_NAME, log)
    pool = pool_builder.build()
    train_rows, monitor_rows = trained_rows(pool['train'], cfg), pool['monitor']

    student = copy.deepcopy(teacher.model.backbone).to(device).eval()  # eval: no dropout; the net has no BN
    student.requires_grad_(True)  # the loaded teacher is frozen throughout
    if not cfg.train_time_table:
        freeze_time_tables(student)
    ema = copy.deepcopy(student).requires_grad_(False)
    trainable = [p for p in student.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(trainable, lr=cfg.lr)
    critic = PriorCritic(teacher, cfg, train_rows, device) if cfg.adversarial_weight > 0 else None
    step, wall_before = 0, 0.0
    if checkpoint is not None:
        student.load_state_dict(checkpoint['student'])
        ema.load_state_dict(checkpoint['ema'])
        optimizer.load_state_dict(checkpoint['optimizer'])
        if critic is not None:
            critic.load_state_dict(checkpoint['critic'])
        step, wall_before = checkpoint['step'], checkpoint['wall_time_seconds']
    else:
        start = 'the teacher\'s weights'
        if cfg.init_from:
            start = f'the EMA weights of {cfg.init_from}'
            student.load_state_dict(_initial_weights(cfg))
            ema.load_state_dict(student.state_dict())
        before = score(student, teacher, plan, cfg.parameterisation, monitor_rows, cfg.prior_student_eta)
        log(f'step 0 ({start} as a {len(plan)}-call {cfg.parameterisation} student): {before}')
        with open(log_path, 'a') as f:
            f.write(json.dumps({'step': 0, 'monitor': before}) + '\n')
    hardware = _hardware(device)

    def save() -> None:
        _atomic_save({'version': CHECKPOINT_VERSION, 'student': student.state_dict(), 'ema': ema.state_dict(),
                      'optimizer': optimizer.state_dict(), 'step': step, 'config': dataclasses.asdict(cfg),
                      **({'critic': critic.state_dict()} if critic is not None else {}),
                      'teacher_steps_trained': teacher.training_steps, 'hardware': hardware,
                      'pool_seconds': pool_builder.seconds,
                      'wall_time_seconds': wall_before + time.time() - started}, checkpoint_path)

    stop = {'signal': None}
    handlers = {s: signal.signal(s, lambda signum, _f: stop.update(signal=signal.Signals(signum).name))
                for s in (signal.SIGINT, signal.SIGTERM)}
    started = time.time()
    end = min(cfg.steps, step + cfg.stop_after_steps) if cfg.stop_after_steps else cfg.steps
    def fresh_interval() -> Dict[str, float]:
        return {'loss': 0.0, 'critic': 0.0, 'weight': 0.0, 'adversarial': 0.0, 'n': 0, 'start': time.time()}

    interval = fresh_interval()
    monitor: Dict[str, Any] = {}
    log(f'distilling steps {step}..{end} of {cfg.steps}: {len(train_rows["z"])} pool rows, plan {plan}, '
        f'{cfg.parameterisation}-prediction, {hardware}')
    try:
        while step < end and stop['signal'] is None:
            for group in optimizer.param_groups:
                group['lr'] = lr_at(cfg, step)
            rows = torch.as_tensor(global_batch_indices(len(train_rows['z']), cfg.batch_size, cfg.seed, step))
            batch = {key: train_rows[key][rows] for key in ('x_noise', 'z', 'regime')}
            outputs = student_decode_rows(student, teacher, plan, cfg.parameterisation, batch,
                                          cfg.prior_student_eta, stream_generator(cfg, 'step_noise', step))
            loss = distillation_loss(outputs, train_rows['target'][rows].to(device), cfg.early_call_weight)
            optimizer.zero_grad(set_to_none=True)
            prior = (batch['regime'] == REGIMES.index('prior')).to(device)
            total = loss
            if critic is not None and bool(prior.any()):
                fake, fake_z = outputs[-1][prior], batch['z'].to(device)[prior]
                interval['critic'] += critic.train_step(fake, fake_z, step)
                total, weight, adversarial_loss = critic.student_loss(loss, fake, fake_z, student.tail[-1].weight)
                interval['weight'] += weight
                interval['adversarial'] += adversarial_loss
            total.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(trainable, cfg.grad_clip)
            if not (torch.isfinite(loss) and torch.isfinite(grad_norm)):
                raise DistillError(f'non-finite loss or gradient at step {step}; the last checkpoint is intact')
            optimizer.step()
            with torch.no_grad():
                decay = ema_decay_at(cfg, step)
                for e, p in zip(ema.parameters(), student.parameters()):
                    e.lerp_(p, 1 - decay)
            step += 1
            interval['loss'] += float(loss)
            interval['n'] += 1
            if step % cfg.log_every == 0 or step == end:
                seconds = (time.time() - interval['start']) / interval['n']
                record = {'step': step, 'loss': interval['loss'] / interval['n'], 'lr': lr_at(cfg, step - 1),
                          'secondsPerStep': round(seconds, 3)}
                if critic is not None:
                    record.update({key: interval[key] / interval['n'] for key in ('critic', 'weight', 'adversarial')})
                log(json.dumps(record))
                with open(log_path, 'a') as f:
                    f.write(json.dumps(record) + '\n')
                interval = fresh_interval()
            if step % cfg.eval_every == 0 or step == cfg.steps:
                monitor = {name: score(net, teacher, plan, cfg.parameterisation, monitor_rows, cfg.prior_student_eta)
                           for name, net in (('ema', ema), ('raw', student))}
                log(f'step {step} monitor (PSNR dB against the teacher): {monitor}')
                with open(log_path, 'a') as f:
                    f.write(json.dumps({'step': step, 'monitor': monitor}) + '\n')
            if step % cfg.checkpoint_every == 0:
                save()
    finally:
        for s, handler in handlers.items():
            signal.signal(s, handler)
    save()
    if stop['signal']:
        log(f'stopped by {stop["signal"]} at step {step}; checkpoint written')
    return {'step': step, 'monitor': monitor, 'checkpoint': str(checkpoint_path)}


def _initial_weights(cfg: DistillConfig) -> Dict[str, torch.Tensor]:
    """The EMA weights of ``cfg.init_from``, which must distil the same teacher with the same plan."""
    source = torch.load(cfg.init_from, map_location='cpu')
    for key in ('teacher', 'plan', 'parameterisation'):
        if source['config'][key] != getattr(cfg, key):
            raise DistillError(f'{cfg.init_from} has {key}={source["config"][key]!r}, this run {getattr(cfg, key)!r}')
    return source['ema']


def load_student(checkpoint_path: str | Path, teacher: ReadyModel, use_ema: bool = True):
    """(student denoiser in eval mode, plan, parameterisation, checkpoint) from a distillation checkpoint."""
    checkpoint = torch.load(checkpoint_path, map_location='cpu')
    student = copy.deepcopy(teacher.model.backbone)
    student.load_state_dict(checkpoint['ema' if use_ema else 'student'])
    cfg = checkpoint['config']
    return (student.to(teacher.device).eval(), parse_plan(cfg['plan'], teacher.schedule.timesteps),
            cfg['parameterisation'], checkpoint)


# ------------------------------------------------------------------------------------------------ CLI

def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog='python -m infodiff.distill', description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    for field in dataclasses.fields(DistillConfig):
        flag = f'--{field.name}'
        if field.type in ('bool', bool):
            p.add_argument(flag, action='store_true')
        else:
            kind = {'int': int, 'float': float, 'str': str}[str(field.type)]
            p.add_argument(flag, type=kind, default=field.default, help=f'(default {field.default})')
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser().parse_args(argv)
    given = [a[2:].split('=')[0] for a in argv if a.startswith('--')]
    try:
        cfg = validate(DistillConfig(**vars(args)))
        distill(cfg, given)
    except DistillError as err:
        print(f'error: {err}', file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
