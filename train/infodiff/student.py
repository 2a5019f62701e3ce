"""Measures a distilled student against its teacher, and puts it into the teacher's web package.

    cd train
    /usr/bin/python3 -m infodiff.student evaluate --package ../public/models/fashion-mnist \\
        --checkpoint runs/fmnist-student/checkpoint.pt --out runs/fmnist-student/fidelity.json \\
        --picture ../docs/results/fashion-mnist-student.png
    /usr/bin/python3 -m infodiff.student attach --package ../public/models/fashion-mnist \\
        --checkpoint runs/fmnist-student/checkpoint.pt --fidelity runs/fmnist-student/fidelity.json

evaluate (the targets of the "Instant previews" issue):
- fidelity: held-out test images, z = Enc(x), x_T = their 20-step DDIM inversion; PSNR of the student's image at
  1 and 2 calls against the teacher's 20-step image, beside plain DDIM with the same number of calls;
- prior draws as the app makes them (z from the package's fitted mixture, x_T ~ N(0, I)): the data set's
  classifier's confidence and class coverage, and the Fréchet distance to test images, for the student (with the
  app's eta 1 between its calls) and for the settled sampler (20 steps, eta 1) on the same z and x_T.
prior: prior draws only (the same z and x_T as evaluate), for several checkpoints, several etas between a
  student's calls and several teacher samplers, side by side: which sampler a student's prior draws do best with.

    /usr/bin/python3 -m infodiff.student prior --package ../public/models/fashion-mnist \\
        --checkpoint runs/fmnist-student/checkpoint.pt --etas 0,0.5,1 --teacher 20:1,20:0,100:0

attach: writes the student's EMA weights (student.backbone.*, a second weights group) and metadata.student into
the package, which otherwise stays as it was (docs/model-format.md, `student`).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import torch

from . import rng
from .data import balanced_indices
from .distill import load_student, psnr_db
from .evaluate import ImageJudge
from .latent_prior import sample_latent_mixture
from .metrics import high_frequency_energy
from .sample import (ReadyModel, Student, decode, decode_student, encode, invert, latent_mixture, load_model,
                     open_dataset, save_grid)
from .webpackage import read_web_package, student_weight_arrays, write_web_package

PSNR_TARGET_DB = 28.0  # the fidelity target at 2 calls
PICTURE_COLUMNS = 8


def _student(loaded: ReadyModel, checkpoint: Optional[str], raw: bool = False) -> tuple[Student, Dict[str, Any]]:
    """The student of a distillation checkpoint (EMA weights, or the optimiser's with ``raw``), else the package's."""
    if checkpoint:
        net, plan, parameterisation, state = load_student(checkpoint, loaded, use_ema=not raw)
        state = {**state, 'weights': 'raw' if raw else 'ema'}
        return Student(net, plan, parameterisation), state
    if loaded.student is None:
        raise ValueError(f'{loaded.source} has no student; pass --checkpoint runs/<name>/checkpoint.pt')
    return loaded.student, {}


def held_out_images(loaded: ReadyModel, images: int, seed: int) -> torch.Tensor:
    """``images`` test images balanced over classes: the evaluation's held-out set."""
    test_set = open_dataset(loaded, 'test', shapes_count=2 * images)  # shapes: render only what is drawn from
    return test_set.batch(torch.tensor(balanced_indices(test_set, images, seed), dtype=torch.int64), loaded.device)


def prior_inputs(loaded: ReadyModel, count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(z, x_T) of ``count`` prior draws as the app makes them: z from the package's fitted mixture, x_T ~ N(0, I)."""
    generator = torch.Generator().manual_seed(seed)
    z = sample_latent_mixture(latent_mixture(loaded), count, generator, loaded.device)
    arch = loaded.architecture
    x_noise = rng.normal((count, arch['imageChannels'], arch['imageSize'], arch['imageSize']), generator,
                         loaded.device)
    return z, x_noise


def prior_judge(loaded: ReadyModel, references: torch.Tensor) -> Optional[ImageJudge]:
    """The data set's judge of prior draws against ``references``, or None for a data set without a classifier."""
    return ImageJudge(loaded, references) if loaded.dataset in ('fashion-mnist', 'shapes') else None


def judge_draws(judge: ImageJudge, images: torch.Tensor) -> Dict[str, Any]:
    """{recognisability, frechetDistance (one number), highFrequency (the grain a sampler left in,
    metrics.high_frequency_energy)} of ``images``: what a student evaluation records."""
    out = judge(images)
    return {'recognisability': out['recognisability'], 'frechetDistance': out['frechetDistance']['frechetDistance'],
            'highFrequency': high_frequency_energy(images.cpu().numpy())}


def settled_noise(seed: int) -> torch.Generator:
    """The step noise of the settled sampler's prior draws: the same in ``evaluate`` and ``prior``."""
    return torch.Generator().manual_seed(seed + 1)


def student_noise(seed: int) -> torch.Generator:
    """The noise between a student's calls on prior draws: the same in ``evaluate`` and ``prior``."""
    return torch.Generator().manual_seed(seed + 2)


@torch.no_grad()
def evaluate_student(loaded: ReadyModel, student: Student, images: int, teacher_steps: int = 20,
                     prior_eta: float = 1.0, seed: int = 1, batch_size: int = 64) -> Dict[str, Any]:
    """Every number of the module docstring, as one JSON-ready dict (plus the tensors the picture needs)."""
    started = time.time()
    calls = list(range(1, len(student.plan) + 1))
    x0 = held_out_images(loaded, images, seed)
    z = encode(loaded, x0, batch_size)
    x_noise = invert(loaded, x0, z, teacher_steps, batch_size)
    teacher_images = decode(loaded, x_noise, z, teacher_steps, batch_size=batch_size)
    student_images = {k: decode_student(loaded, student, x_noise, z, k, batch_size) for k in calls}
    ddim_images = {k: decode(loaded, x_noise, z, k, batch_size=batch_size) for k in calls + [3]}
    fidelity = {
        'images': len(x0),
        'student': {f'calls{k}': psnr_db(student_images[k], teacher_images) for k in calls},
        'plainDdim': {f'calls{k}': psnr_db(ddim_images[k], teacher_images) for k in sorted(ddim_images)},
        'teacherAgainstInput': psnr_db(teacher_images, x0),
    }

    # Prior draws as the app makes them, and the settled sampler's image of the same (z, x_T).
    prior_z, prior_noise = prior_inputs(loaded, images, seed)
    settled = decode(loaded, prior_noise, prior_z, teacher_steps, prior_eta, settled_noise(seed), batch_size)
    # The app's sampler for a prior draw between the student's calls too (eta 1): fresh noise there puts back the
    # detail and modes that a regression onto the stochastic sampler's images averages away.
    prior_student = {k: decode_student(loaded, student, prior_noise, prior_z, k, batch_size, prior_eta,
                                       student_noise(seed)) for k in calls}
    prior = {'samples': images, 'teacher': f'{teacher_steps}-step DDIM, eta {prior_eta:g}',
             'psnrAgainstSettled': {f'calls{k}': psnr_db(prior_student[k], settled) for k in calls}}
    judge = prior_judge(loaded, x0)
    if judge is not None:
        prior['classifier'] = judge.classifier
        prior['testImagesHighFrequency'] = high_frequency_energy(x0.cpu().numpy())
        prior['settled'] = judge_draws(judge, settled)
        prior['student'] = {f'calls{k}': judge_draws(judge, prior_student[k]) for k in calls}
    result = {'teacherSteps': teacher_steps, 'plan': student.plan, 'parameterisation': student.parameterisation,
              'fidelity': fidelity, 'prior': prior, 'seconds': round(time.time() - started, 1)}
    pictures = {'inverted': [teacher_images] + [student_images[k] for k in calls] + [ddim_images[k] for k in calls],
                'prior': [settled] + [prior_student[k] for k in calls]}
    return {'result': result, 'pictures': pictures}


@torch.no_grad()
def compare_prior_samplers(loaded: ReadyModel, students: Dict[str, Student], etas: Sequence[float],
                           teacher_samplers: Sequence[tuple[int, float]], images: int, seed: int = 1,
                           batch_size: int = 64) -> tuple[List[Dict[str, Any]], List[torch.Tensor]]:
    """Prior draws (the same z and x_T as ``evaluate``) decoded by each student with each eta between its calls,
    and by the teacher with each (steps, eta): one row each with the classifier's confidence, the Fréchet
    distance to held-out images and the grain left in, and each row's first PICTURE_COLUMNS images. What the
    evaluation's single setting does not show: which sampler a student's prior draws are best with, and whether a
    deterministic teacher map could be a target at all."""
    judge = prior_judge(loaded, held_out_images(loaded, images, seed))
    if judge is None:
        raise ValueError(f'{loaded.dataset} has no classifier to judge prior draws with')
    z, x_noise = prior_inputs(loaded, images, seed)
    rows, pictures = [], []

    def judged(decoder: str, eta: float, decoded: torch.Tensor) -> None:
        rows.append({'decoder': decoder, 'eta': eta, **_judged_row(judge_draws(judge, decoded))})
        pictures.append(decoded[:PICTURE_COLUMNS].cpu())

    for steps, eta in teacher_samplers:
        judged(f'teacher, {steps} steps', eta, decode(loaded, x_noise, z, steps, eta, settled_noise(seed), batch_size))
    for name, student in students.items():
        for eta in etas:
            judged(f'student {name}, {len(student.plan)} calls', eta,
                   decode_student(loaded, student, x_noise, z, None, batch_size, eta, student_noise(seed)))
    return rows, pictures


def _judged_row(judged: Dict[str, Any]) -> Dict[str, Any]:
    """Confidence and Fréchet distance, and each head's confidence where the classifier has several (shapes)."""
    row: Dict[str, Any] = {'meanConfidence': round(judged['recognisability']['meanConfidence'], 4),
                           'frechetDistance': round(judged['frechetDistance'], 3),
                           'highFrequency': round(judged['highFrequency'], 6)}
    heads = judged['recognisability'].get('heads', {})
    if len(heads) > 1:
        row['heads'] = {name: round(head['meanConfidence'], 4) for name, head in heads.items()}
    return row


def fidelity_summary(result: Dict[str, Any]) -> Dict[str, Any]:
    """The part of an evaluation the package carries (metadata.student.fidelity)."""
    summary: Dict[str, Any] = {'images': result['fidelity']['images'], 'inverted': result['fidelity']['student'],
                               'plainDdim': result['fidelity']['plainDdim'],
                               'prior': result['prior']['psnrAgainstSettled']}
    if 'student' in result['prior']:
        summary['priorConfidence'] = {key: round(value['recognisability']['meanConfidence'], 4)
                                      for key, value in result['prior']['student'].items()}
        summary['settledConfidence'] = round(result['prior']['settled']['recognisability']['meanConfidence'], 4)
        # What the model card says of the student's prior draws (studentFact in src/app/modelCard.ts).
        summary['priorFrechet'] = {key: round(value['frechetDistance'], 3)
                                   for key, value in result['prior']['student'].items()}
        summary['settledFrechet'] = round(result['prior']['settled']['frechetDistance'], 3)
    return summary


def save_picture(pictures: Dict[str, List[torch.Tensor]], path: str | Path, columns: int = PICTURE_COLUMNS) -> Path:
    """Rows: teacher, student at 1..S calls, plain DDIM at 1..S calls (held-out images); then the settled prior
    draws and the student's (the first ``columns`` of each)."""
    rows = [images[:columns].cpu() for images in pictures['inverted'] + pictures['prior']]
    return save_grid(torch.cat(rows), columns, path, keep_within=1)


def training_summary(state: Dict[str, Any], teacher: ReadyModel) -> Dict[str, Any]:
    """What a distillation checkpoint says about its cost, for the package and the results page. A run started
    from another's weights (``init_from``) counts that run's steps and time too, so the cost is the whole chain's."""
    cfg = state['config']
    method = 'direct regression of the teacher sampler (infodiff.distill)'
    if cfg.get('adversarial_weight', 0) > 0:
        method += f', then a discriminator on its prior draws (adversarial weight {cfg["adversarial_weight"]:g})'
    steps, planned, wall = state['step'], cfg['steps'], state['wall_time_seconds']
    if cfg.get('init_from'):
        earlier = training_summary(torch.load(cfg['init_from'], map_location='cpu'), teacher)
        steps, planned = steps + earlier['steps'], planned + earlier['steps']
        wall += earlier['wallTimeSeconds']
    return {'method': method, 'steps': steps, 'weights': state.get('weights', 'ema'),
            'plannedSteps': planned, 'batchSize': cfg['batch_size'],
            'wallTimeSeconds': round(wall, 1), 'hardware': state['hardware'],
            'teacherSteps': teacher.training_steps, 'poolRows': cfg['inverted_images'] + cfg['prior_draws'],
            'poolWallTimeSeconds': state.get('pool_seconds')}


def attach_student(package_dir: str | Path, checkpoint: str | Path, fidelity: Optional[Dict[str, Any]] = None,
                   raw: bool = False) -> Path:
    """Rewrites the package with the checkpoint's student (EMA weights, or the optimiser's with ``raw``: early in a
    run the EMA still holds much of the starting point) and its metadata.student."""
    package_dir = Path(package_dir)
    weights, meta = read_web_package(package_dir)
    float16 = any('quantization' in spec for group in json.loads((package_dir / 'model.json').read_text())[
        'weightsManifest'] for spec in group['weights'])
    loaded = load_model(package_dir)
    student, state = _student(loaded, str(checkpoint), raw)
    net, plan, parameterisation = student.denoiser, student.plan, student.parameterisation
    cfg = state['config']
    meta = {**meta, 'student': {
        'parameterisation': parameterisation, 'plan': plan, 'teacherSteps': cfg['teacher_steps'],
        'training': training_summary(state, loaded),
        'fidelity': fidelity_summary(fidelity) if fidelity else {}}}
    own = {name: array for name, array in weights.items() if not name.startswith('student.')}
    return write_web_package(package_dir, {**own, **student_weight_arrays(net)}, meta, float16=float16)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog='python -m infodiff.student', description=__doc__.split('\n\n')[0])
    commands = parser.add_subparsers(dest='command', required=True)
    ev = commands.add_parser('evaluate', help='fidelity and prior-draw quality against the teacher')
    ev.add_argument('--package', required=True)
    ev.add_argument('--checkpoint', default='', help='a distillation checkpoint (default: the package\'s student)')
    ev.add_argument('--raw', action='store_true', help='the optimiser\'s weights instead of the EMA')
    ev.add_argument('--images', type=int, default=1000)
    ev.add_argument('--teacher-steps', type=int, default=20)
    ev.add_argument('--seed', type=int, default=1)
    ev.add_argument('--threads', type=int, default=0)
    ev.add_argument('--out', required=True, help='JSON')
    ev.add_argument('--picture', default='', help='PNG: teacher, student and plain DDIM side by side')
    pr = commands.add_parser('prior', help='prior-draw quality of students and teacher samplers side by side')
    pr.add_argument('--package', required=True)
    pr.add_argument('--checkpoint', nargs='*', default=[],
                    help='distillation checkpoints (EMA weights); "package" for the package\'s own student')
    pr.add_argument('--etas', default='1', help='eta between a student\'s calls, comma-separated')
    pr.add_argument('--teacher', default='20:1', help='teacher samplers as steps:eta, comma-separated')
    pr.add_argument('--images', type=int, default=1000)
    pr.add_argument('--seed', type=int, default=1)
    pr.add_argument('--threads', type=int, default=0)
    pr.add_argument('--out', default='', help='JSON')
    pr.add_argument('--picture', default='', help='PNG: one row per sampler, in the order printed')
    at = commands.add_parser('attach', help='put the student into the package')
    at.add_argument('--package', required=True)
    at.add_argument('--checkpoint', required=True)
    at.add_argument('--fidelity', default='', help='JSON from `evaluate`, summarised into metadata.student.fidelity')
    at.add_argument('--raw', action='store_true', help='the optimiser\'s weights instead of the EMA')
    args = parser.parse_args(argv)
    try:
        if args.command == 'evaluate':
            if args.threads:
                torch.set_num_threads(args.threads)
            loaded = load_model(args.package)
            student, state = _student(loaded, args.checkpoint, args.raw)
            measured = evaluate_student(loaded, student, args.images, args.teacher_steps, seed=args.seed)
            measured['result']['training'] = (training_summary(state, loaded) if state
                                              else loaded.metadata['student']['training'])
            measured['result']['command'] = 'python -m infodiff.student ' + ' '.join(argv or sys.argv[1:])
            Path(args.out).write_text(json.dumps(measured['result'], indent=1) + '\n', encoding='utf-8')
            print(json.dumps(fidelity_summary(measured['result'])))
            if args.picture:
                save_picture(measured['pictures'], args.picture)
        elif args.command == 'prior':
            if args.threads:
                torch.set_num_threads(args.threads)
            loaded = load_model(args.package)
            students = {path: _student(loaded, '' if path == 'package' else path)[0] for path in args.checkpoint}
            etas = [float(e) for e in args.etas.split(',') if e.strip()]
            samplers = [(int(t.split(':')[0]), float(t.split(':')[1])) for t in args.teacher.split(',') if t.strip()]
            rows, pictures = compare_prior_samplers(loaded, students, etas, samplers, args.images, args.seed)
            for row in rows:
                print(json.dumps(row), flush=True)
            if args.picture:
                save_grid(torch.cat(pictures), PICTURE_COLUMNS, args.picture, keep_within=1)
            if args.out:
                command = 'python -m infodiff.student ' + ' '.join(argv or sys.argv[1:])
                Path(args.out).write_text(json.dumps({'command': command, 'rows': rows}, indent=1) + '\n',
                                          encoding='utf-8')
        else:
            fidelity = json.loads(Path(args.fidelity).read_text(encoding='utf-8')) if args.fidelity else None
            print(f'student: wrote {attach_student(args.package, args.checkpoint, fidelity, args.raw)}')
    except (ValueError, OSError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
