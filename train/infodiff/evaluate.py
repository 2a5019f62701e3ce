"""One command that evaluates a model and writes every metric to one JSON file.

    cd train
    python -m infodiff.evaluate --model ../public/models/fashion-mnist --out runs/fmnist-infodiff/metrics.json
    python -m infodiff.evaluate --model runs/shapes-infodiff/checkpoint.pt --out metrics.json --threads 2

`--model` is a web package folder or a training checkpoint. What is measured (each block can be skipped with
`--skip`, and every size is an option so a CI test can run it tiny):

    linearProbe     z = Enc(x) of N training images, 5-fold logistic-regression accuracy per attribute
                    (FashionMNIST: the class; shapes: each factor), as the official protocol (infodiff.metrics);
                    with it latentCodes: those codes' mean norm and per-dimension mean and std beside N(0, I)'s
    mlpProbe        shapes only: the same probe with a one-hidden-layer MLP on the first --mlp-probe-images of
                    those codes: whether a factor the linear probe reads poorly is in z at all
    dci             shapes only: DCI disentanglement / completeness / informativeness with gradient-boosted trees
    factorSwap      shapes only: for each factor, the share of its pixel change that swapping z alone produces,
                    over DDIM-inverted and over fresh x_T (infodiff.factor_swap: which input decides the factor)
    frechetDistance Fréchet distance between the features of the data set's classifier (infodiff.classifier,
                    penultimate layer; FashionMNIST and shapes) of N prior samples (z from the model's prior,
                    DDIM) and of N test images
    recognisability that classifier's mean max-softmax confidence and class coverage of those samples (per
                    head: the class, or each shapes factor), and the same for the test images as a reference
    samplers        both of the above again for each DDIM eta of --compare-eta (default 1: the stochastic
                    sampler, which draws fresh per-step noise), beside --eta's, on the same z and x_T; and for
                    each eta again with z from the Gaussian mixture fitted to the encoded training set
                    (infodiff.latent_prior: the prior the explorer samples from), unless --no-fitted-prior; and
                    with z = Enc(x) of N held-out test images, unless --no-encoded-codes: z exactly where the
                    codes lie, so what no latent prior can beat with this denoiser (the rest is the denoiser's)
    nll             -log p(x | z = Enc(x)) in bits/dim by I-MMSE (infodiff.itd), mean +- SE over M test images
    reconstruction  PSNR of DDIM reconstructions of R test images: with inversion at each of --recon-steps
                    (default 20 and 100), and without inversion (decoded from fresh noise with the same z)

Training images are the model's own training draw (a package's provenance.data, a checkpoint's seed and
dataset_size), so the probe and DCI see the scenes the model was trained on. The JSON records the exact command,
the resolved settings, the model and the time taken; infodiff.export embeds it in the package's
provenance.metrics, and infodiff.report turns it into docs/results.md.
"""
from __future__ import annotations

import argparse
import functools
import json
import math
import platform
import shlex
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from . import classifier as judges
from . import itd, metrics
from .factor_swap import factor_swap
from .data import DataError, ImageDataset, balanced_indices
from .export import gaussian_reference
from .latent_prior import describe as describe_mixture
from .latent_prior import fit_latent_mixture
from .sample import (ReadyModel, encode, encode_rows, load_model, open_dataset, package_mixture, reconstruct,
                     resolve_device, sample_images)

BLOCKS = ('probe', 'dci', 'swap', 'fd', 'nll', 'recon')
REFERENCE_IMAGES = 20000  # training images behind a Gaussian reference computed here (checkpoints have none)


def _rows(dataset: ImageDataset, count: int, seed: int) -> List[int]:
    """`count` rows spread over the classes when there are labels, else a seeded random choice."""
    return balanced_indices(dataset, min(count, len(dataset)), seed)


def _batch(loaded: ReadyModel, dataset: ImageDataset, rows: Sequence[int]) -> torch.Tensor:
    return dataset.batch(torch.tensor(list(rows), dtype=torch.int64), loaded.device)


def _probe_labels(dataset: ImageDataset, rows: Sequence[int]) -> Dict[str, np.ndarray]:
    if dataset.factors is not None and dataset.factor_names is not None:
        return {name: dataset.factors[rows, k] for k, name in enumerate(dataset.factor_names)}
    if dataset.labels is not None:
        return {'class': dataset.labels[rows]}
    return {}


def evaluate_linear_probe(train_set: ImageDataset, rows: Sequence[int], codes: np.ndarray,
                          probe=metrics.linear_probe) -> Dict[str, Any]:
    """The probe (metrics.linear_probe or metrics.mlp_probe) on z = Enc(x) (``codes``) of training rows ``rows``."""
    labels = _probe_labels(train_set, rows)
    if not labels:
        return {'skipped': 'the data set has neither class labels nor generative factors'}
    return probe(codes, labels)


def latent_code_summary(codes: np.ndarray) -> Dict[str, Any]:
    """Where the codes z = Enc(x) lie beside N(0, I), the prior the MMD term pulls them towards: their mean norm
    against N(0, I)'s (E|n| = sqrt(2) Gamma((D + 1) / 2) / Gamma(D / 2)), and the range of per-dimension means and
    standard deviations (N(0, I): 0 and 1)."""
    dim = codes.shape[1]
    prior_norm = math.sqrt(2) * math.exp(math.lgamma((dim + 1) / 2) - math.lgamma(dim / 2))
    means, stds = codes.mean(0), codes.std(0)
    return {'images': int(len(codes)), 'meanNorm': float(np.linalg.norm(codes, axis=1).mean()),
            'priorMeanNorm': prior_norm, 'meanRange': [float(means.min()), float(means.max())],
            'stdRange': [float(stds.min()), float(stds.max())]}


def evaluate_dci(loaded: ReadyModel, train_set: ImageDataset, test_set: ImageDataset, train_count: int,
                 test_count: int, estimators: int, seed: int, batch_size: int) -> Dict[str, Any]:
    if train_set.factors is None or test_set.factors is None:
        return {'skipped': 'DCI needs generative factors (the shapes data set)'}
    train_rows = _rows(train_set, train_count, seed)
    test_rows = _rows(test_set, test_count, seed)
    z_train = encode_rows(loaded, train_set, train_rows, batch_size)
    z_test = encode_rows(loaded, test_set, test_rows, batch_size)
    result = metrics.dci(z_train, train_set.factors[train_rows], z_test, test_set.factors[test_rows],
                         train_set.factor_names, n_estimators=estimators, seed=seed)
    result['dimensionNames'] = metrics.factor_dimension_names(np.asarray(result['importance']),
                                                              train_set.factor_names)
    result['trainImages'], result['testImages'] = len(train_rows), len(test_rows)
    return result


def _classifier_input(images: torch.Tensor) -> tuple[torch.Tensor, Optional[int]]:
    """Model-space images [N, C, S, S] -> [N, C, 32, 32] for the classifier (bilinear resize when S != 32;
    returns the original size then, for the record). Samples are clipped to [-1, 1] as a PNG would be."""
    images = images.detach().float().cpu().clamp(-1, 1)
    size = images.shape[-1]
    if size == judges.IMAGE_SIZE:
        return images, None
    resized = F.interpolate(images, size=(judges.IMAGE_SIZE,) * 2, mode='bilinear', align_corners=False)
    return resized, size


def _repository_path(path: str | Path) -> str:
    """A path inside the repository relative to its root (what the JSON should say on any machine), else as is."""
    resolved = Path(path).resolve()
    root = Path(__file__).resolve().parents[2]
    return str(resolved.relative_to(root)) if root in resolved.parents else str(path)


@dataclass(frozen=True)
class Sampler:
    """How samples are drawn: z from ``prior`` (the model's own; ``mixture``, a fitted latent mixture; or
    ``codes``, the encoder's codes of held-out images), x_T ~ N(0, I), then DDIM with ``eta``."""
    prior: str  # 'model', 'fitted' or 'encoded', as the JSON records it
    description: str  # 'z ~ N(0, I)', 'z ~ a 10-component Gaussian mixture fitted to ...', 'z = Enc(x) of ...'
    eta: float
    mixture: Optional[Dict[str, Any]] = None
    codes: Optional[torch.Tensor] = None


class ImageJudge:
    """The data set's classifier (infodiff.classifier) judging generated images against reference images, whose
    features it computes once: the images' recognisability and the Fréchet distance between the two feature sets
    (its penultimate layer). One owner for how samples are judged: the model evaluation and the students'."""

    def __init__(self, loaded: ReadyModel, references: torch.Tensor, classifier_path: str = ''):
        self.spec = judges.judge_spec(loaded.dataset)
        if loaded.architecture['imageChannels'] != self.spec.channels:
            raise ValueError(f'the {loaded.dataset} classifier takes {self.spec.channels}-channel images; '
                             f'{loaded.source} makes {loaded.architecture["imageChannels"]}-channel ones')
        self.classifier = _repository_path(classifier_path or self.spec.path)
        self.model = judges.load_classifier(self.spec, classifier_path)
        out = judges.predict(self.model, _classifier_input(references)[0])
        self.reference_features = out['features'].double().numpy()
        self.reference_recognisability = judges.recognisability(out['probabilities'], self.spec)

    def __call__(self, images: torch.Tensor) -> Dict[str, Any]:
        """{recognisability, frechetDistance (metrics.frechet_distance's dict), resizedFrom} of ``images``."""
        inputs, resized_from = _classifier_input(images)
        out = judges.predict(self.model, inputs)
        return {'recognisability': judges.recognisability(out['probabilities'], self.spec),
                'frechetDistance': metrics.frechet_distance(out['features'].double().numpy(), self.reference_features),
                'resizedFrom': resized_from}


def evaluate_samples(loaded: ReadyModel, test_set: ImageDataset, classifier_path: str, count: int, steps: int,
                     samplers: Sequence[Sampler], seed: int, batch_size: int) -> List[Dict[str, Any]]:
    """Fréchet distance and recognisability of prior samples in the feature space of the data set's classifier
    (`classifier_path`, or '' for the committed one), one result per sampler: the same seed each time (so the
    same x_T, and the same z for samplers of one prior), against test-image features computed once."""
    judge = ImageJudge(loaded, _batch(loaded, test_set, _rows(test_set, count, seed)), classifier_path)
    results = []
    for sampler in samplers:
        images = sample_images(loaded, count, steps, sampler.eta, seed, batch_size, sampler.mixture, sampler.codes)
        judged = judge(images)
        setting = {'sampleCount': count, 'ddimSteps': steps, 'eta': sampler.eta, 'prior': sampler.description,
                   'priorKind': sampler.prior,
                   'featureSpace': f'{loaded.dataset} classifier penultimate layer ({judges.FEATURE_DIM}-d)',
                   'classifier': judge.classifier, 'resizedFrom': judged['resizedFrom']}
        results.append({
            'frechetDistance': {**judged['frechetDistance'], **setting},
            'recognisability': {'samples': judged['recognisability'],
                                'testImages': judge.reference_recognisability, **setting},
        })
    return results


def model_prior_description(loaded: ReadyModel) -> str:
    return 'z ~ N(0, I)' if loaded.prior == 'regular' else f'z ~ the {loaded.prior} mixture prior'


def sampler_summary(blocks: Dict[str, Any]) -> Dict[str, Any]:
    """One row of the sampler comparison from evaluate_samples' blocks: eta, FD and the samples'
    recognisability (the test images' reference does not depend on the sampler)."""
    distance = blocks['frechetDistance']
    return {'eta': distance['eta'], 'prior': distance['priorKind'], 'priorDescription': distance['prior'],
            'ddimSteps': distance['ddimSteps'], 'sampleCount': distance['sampleCount'],
            'frechetDistance': distance['frechetDistance'], 'recognisability': blocks['recognisability']['samples']}


def _reference(loaded: ReadyModel, train_set: ImageDataset, seed: int) -> itd.GaussianReference:
    """The package's Gaussian reference, or (checkpoints) one computed from training images as export does."""
    arch = loaded.architecture
    shape_hwc = (arch['imageSize'], arch['imageSize'], arch['imageChannels'])
    if loaded.metadata is not None:
        block = loaded.metadata['gaussianReference']
    else:
        rows = np.sort(np.random.default_rng(seed).permutation(len(train_set))[:REFERENCE_IMAGES])
        images = train_set.images[torch.from_numpy(rows)].permute(0, 2, 3, 1).numpy().astype(np.float32)
        block = gaussian_reference(images / 127.5 - 1)
    return itd.reference_from_metadata(block, shape_hwc, channels_first=True)


def evaluate_nll(loaded: ReadyModel, train_set: ImageDataset, test_set: ImageDataset, count: int, samples: int,
                 seed: int, batch_size: int) -> Dict[str, Any]:
    reference = _reference(loaded, train_set, seed)
    rows = _rows(test_set, count, seed)
    x = _batch(loaded, test_set, rows)
    z = encode(loaded, x, batch_size)
    result = itd.estimate_nll(itd.network_denoiser(loaded.model.predict_eps), loaded.schedule.alpha_bar, reference,
                              x, z, samples=samples, dequantize=True, batch_size=batch_size,
                              generator=torch.Generator().manual_seed(seed))
    result['conditioning'] = 'z = Enc(x): the figure is -log p(x | z), not a bound on -log p(x)'
    result['reference'] = 'package gaussianReference' if loaded.metadata is not None else \
        f'computed from {min(REFERENCE_IMAGES, len(train_set))} training images'
    return result


def evaluate_reconstruction(loaded: ReadyModel, test_set: ImageDataset, count: int, steps: Sequence[int],
                            seed: int, batch_size: int) -> Dict[str, Any]:
    rows = _rows(test_set, count, seed)
    x0 = _batch(loaded, test_set, rows)
    reference = x0.double().cpu().numpy()
    result: Dict[str, Any] = {'images': len(rows)}

    def psnr(images: torch.Tensor) -> Dict[str, float]:
        scores = metrics.reconstruction_psnr(images.double().cpu().numpy(), reference)
        return {'psnr': scores['psnr'], 'psnrStd': scores['psnrStd']}

    for s in steps:
        result[f'inversion{s}'] = {'ddimSteps': s, **psnr(reconstruct(loaded, x0, s, True, seed, batch_size))}
    no_inversion_steps = max(steps)
    result['noInversion'] = {'ddimSteps': no_inversion_steps,
                             **psnr(reconstruct(loaded, x0, no_inversion_steps, False, seed, batch_size))}
    return result


def evaluate(args: argparse.Namespace, command: str) -> Dict[str, Any]:
    started = time.time()
    torch.manual_seed(args.seed)
    device = resolve_device(args.device)
    loaded = load_model(args.model, device)
    skip = set(args.skip)
    train_size = max(args.probe_images, args.dci_train if loaded.dataset == 'shapes' else 0, REFERENCE_IMAGES
                     if loaded.metadata is None and 'nll' not in skip else 0)
    # The encoded-codes sampler decodes held-out test images: the next fd_samples after the reference ones.
    test_size = max(args.fd_samples * (2 if args.encoded_codes else 1), args.nll_images, args.recon_images,
                    args.dci_test, args.swap_scenes)
    # Shapes scenes are rendered on demand, so only as many as are used; file-backed data loads whole.
    train_set = open_dataset(loaded, 'train', args.data_dir, train_size)
    test_set = open_dataset(loaded, 'test', args.data_dir, test_size)

    report: Dict[str, Any] = {
        'command': command,
        'model': {'source': loaded.source, 'dataset': loaded.dataset, 'architecture': loaded.architecture,
                  'schedule': loaded.metadata['schedule'] if loaded.metadata else None,
                  'trainingSteps': loaded.training_steps},
        'settings': {_camel(key): value for key, value in vars(args).items() if key != 'out'},
        'createdAt': datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace('+00:00', 'Z'),
        'hardware': f'{device} (torch {torch.__version__}, {platform.machine()}, {torch.get_num_threads()} threads)',
    }

    def timed(name: str, run) -> None:
        block_started = time.time()
        print(f'evaluate: {name} ...', flush=True)
        report[name] = run()
        print(f'evaluate: {name} done in {time.time() - block_started:.0f} s', flush=True)

    # z of the probe's training rows, encoded once: the probe uses them, and so does the fitted latent prior of a
    # model whose package carries none (a checkpoint).
    probe_rows = _rows(train_set, args.probe_images, args.seed)
    probe_codes = functools.cache(lambda: encode_rows(loaded, train_set, probe_rows, args.batch_size))
    if 'probe' not in skip:
        timed('linearProbe', lambda: evaluate_linear_probe(train_set, probe_rows, probe_codes()))
        report['latentCodes'] = latent_code_summary(probe_codes())
        if loaded.dataset == 'shapes':
            count = min(args.mlp_probe_images, len(probe_rows))
            timed('mlpProbe', lambda: evaluate_linear_probe(train_set, probe_rows[:count], probe_codes()[:count],
                                                            metrics.mlp_probe))
    if 'dci' not in skip and loaded.dataset == 'shapes':
        timed('dci', lambda: evaluate_dci(loaded, train_set, test_set, args.dci_train, args.dci_test,
                                          args.dci_estimators, args.seed, args.batch_size))
    if 'swap' not in skip and loaded.dataset == 'shapes':
        rows = _rows(test_set, args.swap_scenes, args.seed)
        timed('factorSwap', lambda: factor_swap(loaded, test_set.factors[rows], args.sample_steps, args.seed,
                                                args.batch_size))
    if 'fd' not in skip and loaded.dataset in judges.JUDGED_DATASETS:
        # One set of samples serves both blocks, so they are produced together and filed separately; the
        # --compare-eta samplers reuse the test-image features.
        etas = [args.eta] + [eta for eta in args.compare_eta if eta != args.eta]
        samplers = [Sampler('model', model_prior_description(loaded), eta) for eta in etas]
        if args.fitted_prior:
            mixture = package_mixture(loaded) or fit_latent_mixture(probe_codes(), seed=args.seed)
            samplers += [Sampler('fitted', f'z ~ {describe_mixture(mixture)}', eta, mixture) for eta in etas]
        if args.encoded_codes:
            # The reference images are the first fd_samples of this balanced order; these are the next ones.
            rows = _rows(test_set, 2 * args.fd_samples, args.seed)[args.fd_samples:]
            if len(rows) == args.fd_samples:
                codes = torch.from_numpy(encode_rows(loaded, test_set, rows, args.batch_size))
                description = f'z = Enc(x) of {len(rows):,} held-out test images'
                samplers += [Sampler('encoded', description, eta, codes=codes) for eta in etas]
            else:
                print(f'evaluate: the test set has {len(test_set):,} images, too few for {args.fd_samples:,} '
                      'held-out codes beside the reference images; no encoded-codes samples', flush=True)
        timed('samples', lambda: evaluate_samples(loaded, test_set, args.classifier, args.fd_samples,
                                                  args.sample_steps, samplers, args.seed, args.batch_size))
        per_sampler = report.pop('samples')
        report['frechetDistance'] = per_sampler[0]['frechetDistance']
        report['recognisability'] = per_sampler[0]['recognisability']
        if len(per_sampler) > 1:
            report['samplers'] = [sampler_summary(blocks) for blocks in per_sampler]
    if 'nll' not in skip:
        timed('nll', lambda: evaluate_nll(loaded, train_set, test_set, args.nll_images, args.nll_samples, args.seed,
                                          args.batch_size))
    if 'recon' not in skip:
        timed('reconstruction', lambda: evaluate_reconstruction(loaded, test_set, args.recon_images,
                                                                args.recon_steps, args.seed, args.batch_size))
    report['wallTimeSeconds'] = round(time.time() - started, 1)
    return report


def _steps_list(text: str) -> List[int]:
    steps = [int(part) for part in text.split(',') if part.strip()]
    if not steps or any(s < 1 for s in steps):
        raise argparse.ArgumentTypeError(f'expected comma-separated positive step counts, got {text!r}')
    return steps


def _eta_list(text: str) -> List[float]:
    etas = [float(part) for part in text.split(',') if part.strip()]
    if any(not 0 <= eta <= 1 for eta in etas):
        raise argparse.ArgumentTypeError(f'DDIM etas must lie in [0, 1], got {text!r}')
    return etas


def _skip_list(text: str) -> List[str]:
    blocks = [part for part in text.split(',') if part.strip()]
    unknown = [b for b in blocks if b not in BLOCKS]
    if unknown:
        raise argparse.ArgumentTypeError(f'unknown block(s) {unknown}; blocks are {", ".join(BLOCKS)}')
    return blocks


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description='Evaluate an InfoDiffusion model and write the metrics as JSON.')
    p.add_argument('--model', required=True, help='web package folder or training checkpoint file')
    p.add_argument('--out', type=Path, required=True, help='JSON file to write')
    p.add_argument('--data-dir', default='', help="where the model's data set lives (default: its usual place)")
    p.add_argument('--probe-images', type=int, default=10000, help='training images for the linear probe')
    p.add_argument('--mlp-probe-images', type=int, default=5000,
                   help='shapes: how many of the probe images the MLP probe uses')
    p.add_argument('--dci-train', type=int, default=5000, help='shapes: training scenes for DCI')
    p.add_argument('--dci-test', type=int, default=2000, help='shapes: test scenes for DCI')
    p.add_argument('--dci-estimators', type=int, default=100, help='trees per gradient-boosted classifier')
    p.add_argument('--swap-scenes', type=int, default=32, help='shapes: held-out scenes for the factor swap')
    p.add_argument('--fd-samples', type=int, default=1000, help='prior samples (and test images) for the Fréchet '
                                                                'distance')
    p.add_argument('--sample-steps', type=int, default=50, help='DDIM steps for the prior samples')
    p.add_argument('--eta', type=float, default=0.0, help='DDIM eta for the prior samples (0: deterministic, as the '
                                                          'app renders encoded images; it draws prior samples '
                                                          'with 1, which --compare-eta measures)')
    p.add_argument('--compare-eta', type=_eta_list, default=[1.0],
                   help="further DDIM etas to measure FD and recognisability with, on the same z and x_T "
                        "(comma-separated; '' for none)")
    p.add_argument('--no-fitted-prior', dest='fitted_prior', action='store_false',
                   help="don't also measure samples with z from the Gaussian mixture fitted to the encoded training "
                        "set (the package's latent.fitted; a checkpoint's is fitted here to the probe's images)")
    p.add_argument('--no-encoded-codes', dest='encoded_codes', action='store_false',
                   help='leave out samples decoded from the codes of held-out test images (z = Enc(x), x_T fresh): '
                        'how good samples get when z is exactly where the codes lie, the ceiling of any latent prior '
                        'with this denoiser')
    p.add_argument('--classifier', default='', help="the data set's classifier checkpoint (default: the committed "
                                                     "runs/classifier/<fmnist|shapes>_classifier.pt)")
    p.add_argument('--nll-images', type=int, default=64, help='test images for -log p(x | z)')
    p.add_argument('--nll-samples', type=int, default=256, help='log-SNR samples per image')
    p.add_argument('--recon-images', type=int, default=100, help='test images for the reconstruction PSNR')
    p.add_argument('--recon-steps', type=_steps_list, default=[20, 100], help='DDIM steps with inversion, e.g. 20,100')
    p.add_argument('--skip', type=_skip_list, default=[], help=f'comma-separated blocks to skip: {", ".join(BLOCKS)}')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--batch-size', type=int, default=64)
    p.add_argument('--device', default='auto', choices=('auto', 'cpu', 'cuda'))
    p.add_argument('--threads', type=int, default=0, help='torch CPU threads (0 = torch default)')
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    command = 'python -m infodiff.evaluate ' + shlex.join(argv)
    try:
        report = evaluate(args, command)
    except (ValueError, OSError, DataError) as err:  # user-facing problems: say what, without a traceback
        print(f'error: {err}', file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + '.tmp')
    tmp.write_text(json.dumps(_json_ready(report), indent=1, allow_nan=False) + '\n', encoding='utf-8')
    tmp.replace(args.out)
    print(f'evaluate: wrote {args.out} in {report["wallTimeSeconds"]} s')
    return 0


def _camel(name: str) -> str:
    head, *rest = name.split('_')
    return head + ''.join(part.title() for part in rest)


def _json_ready(value: Any) -> Any:
    """Paths and numpy scalars -> plain JSON; a non-finite float is an error (it would mean a broken metric)."""
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f'a metric is {value}; refusing to write it as JSON')
    return value


if __name__ == '__main__':
    sys.exit(main())
