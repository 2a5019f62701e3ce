"""Information-Theoretic Diffusion on a test set: the continuous and the exact-discrete NLL of two or more models of
one data set, on the same images and the same noise draws, and their ensemble (infodiff.itd; Kong, Brekelmans &
Ver Steeg, ICLR 2023: its discrete-probability result and its ensembles). Writes the JSON that report_itd.py turns into the
"Information-Theoretic Diffusion" section of docs/results.md.

    cd train && nice -n 5 /usr/bin/python3 -m infodiff.evaluate_itd \\
        --models ../public/models/fashion-mnist ../public/models/fashion-mnist-diffae \\
        --images 1000 --samples 32 --threads 1 --out runs/itd-fashion-mnist.json

Every model is conditioned on its own z = Enc(x), so each figure is -log p(x | z) (in bits per dimension) and the
ensemble is the minimum, at each log-SNR, of denoisers that each see their own code of x. All models use the first
model's Gaussian reference (any reference gives the same expectation; one shared reference makes the control
variate, the tails and the draws identical across members), and each its own schedule's trained log-SNR range
(outside it the network is not called; infodiff.itd's module doc). Images are processed in chunks; within a chunk
every image and every model shares the same log-SNR samples, so the ensemble takes, per log-SNR, the member with
the lower error averaged over the chunk's images (the ITD code's rule); then on the same draws it is never above a
member.
"""
from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch

from . import itd
from .evaluate import _batch, _reference, _rows
from .sample import encode, load_model, open_dataset, resolve_device


def _summary(bits: np.ndarray) -> Dict[str, float]:
    """Mean over images and its standard error (the spread across images, which contains the Monte Carlo noise)."""
    return {'bitsPerDim': float(bits.mean()),
            'stdErr': float(bits.std(ddof=1) / math.sqrt(len(bits))) if len(bits) > 1 else float('nan')}


def evaluate_itd(model_paths: Sequence[str], images: int, samples: int, chunk: int, seed: int, batch_size: int,
                 device: str, data_dir: str = '') -> Dict[str, Any]:
    loaded = [load_model(path, device) for path in model_paths]
    datasets = {m.dataset for m in loaded}
    if len(datasets) != 1:
        raise ValueError(f'evaluate_itd: the models must share a data set, got {sorted(datasets)}')
    first = loaded[0]
    train_set = open_dataset(first, 'train', data_dir, 1 if first.metadata is not None else 20000)
    test_set = open_dataset(first, 'test', data_dir, images)
    reference = _reference(first, train_set, seed)
    rows = _rows(test_set, images, seed)
    d = reference.dimensions
    per_model: List[Dict[str, List[float]]] = [{'continuous': [], 'discrete': [], 'seconds': 0.0, 'evaluations': 0}
                                               for _ in loaded]
    ensemble = {'continuous': [], 'discrete': []}
    wins: List[np.ndarray] = []
    grid_log_snr: List[np.ndarray] = []
    for start in range(0, len(rows), chunk):
        chunk_rows = rows[start:start + chunk]
        x = _batch(first, test_set, chunk_rows)
        runs = []
        for k, model in enumerate(loaded):
            began = time.time()
            z = encode(model, x, batch_size)
            run = itd.estimate_nll(itd.network_denoiser(model.model.predict_eps), model.schedule.alpha_bar,
                                   reference, x, z, samples=samples, dequantize=True, batch_size=batch_size,
                                   generator=torch.Generator().manual_seed(seed + start),
                                   trained_range=itd.trained_log_snr_range(model.schedule.alpha_bar),
                                   discrete=True, shared_log_snr=True, return_terms=True)
            per_model[k]['continuous'] += [p['bitsPerDim'] for p in run['perImage']]
            per_model[k]['discrete'] += [p['bitsPerDim'] for p in run['discrete']['perImage']]
            per_model[k]['seconds'] += time.time() - began
            per_model[k]['evaluations'] += run['denoiserEvaluations'] + run['discrete']['denoiserEvaluations']
            runs.append(run)
        if len(loaded) > 1:
            joint = itd.ensemble_nll([r['terms'] for r in runs])
            ensemble['continuous'] += joint['perImage']
            ensemble['discrete'] += [p['bitsPerDim'] for p in joint['discrete']['perImage']]
            wins.append(np.asarray(joint['discreteChoice']))
            grid_log_snr.append(runs[0]['terms']['log_snr'][0])
        print(f'evaluate_itd: {start + len(chunk_rows)}/{len(rows)} images, '
              + ', '.join(f"{Path(p).name} {np.mean(m['discrete']):.3f}" for p, m in zip(model_paths, per_model))
              + ' bits/dim discrete', flush=True)
    models = []
    for path, model, result in zip(model_paths, loaded, per_model):
        continuous = _summary(np.array(result['continuous']))
        meta = model.metadata or {}
        models.append({
            'id': meta.get('id', Path(path).name), 'path': str(path), 'baselineOf': meta.get('baselineOf'),
            'displayName': meta.get('displayName', Path(path).name),
            'continuous': continuous,
            'dequantisedBound': {'bitsPerDim': continuous['bitsPerDim'] + itd.BITS_8BIT_OFFSET,
                                 'stdErr': continuous['stdErr']},
            'discrete': _summary(np.array(result['discrete'])),
            'trainedLogSnrRange': list(itd.trained_log_snr_range(model.schedule.alpha_bar)),
            'denoiserEvaluations': int(result['evaluations']), 'seconds': round(result['seconds'], 1)})
    report: Dict[str, Any] = {
        'dataset': first.dataset, 'split': 'test', 'images': len(rows), 'samples': samples, 'chunk': chunk,
        'seed': seed, 'dimensions': d, 'logSnrRange': list(reference.log_snr_range()),
        'reference': f"{models[0]['id']}'s gaussianReference, shared by every model",
        'conditioning': 'each model on its own z = Enc(x): -log p(x | z)',
        'models': models,
    }
    if len(loaded) > 1:
        continuous = _summary(np.array(ensemble['continuous']))
        # Which member the discrete ensemble used, per log-SNR band (over every chunk's samples).
        all_log_snr, all_wins = np.concatenate(grid_log_snr), np.concatenate(wins)
        edges = np.linspace(*reference.log_snr_range(), 9)
        bands = []
        for low, high in zip(edges[:-1], edges[1:]):
            inside = (all_log_snr >= low) & (all_log_snr <= high)
            counts = np.bincount(all_wins[inside], minlength=len(loaded)) if inside.any() else np.zeros(len(loaded))
            bands.append({'logSnr': [float(low), float(high)], 'samplesPerModel': counts.astype(int).tolist()})
        report['ensemble'] = {
            'continuous': continuous,
            'dequantisedBound': {'bitsPerDim': continuous['bitsPerDim'] + itd.BITS_8BIT_OFFSET,
                                 'stdErr': continuous['stdErr']},
            'discrete': _summary(np.array(ensemble['discrete'])), 'discreteChoiceByBand': bands}
    return report


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description='Continuous and discrete NLL of models of one data set, and their '
                                            'ensemble, on the same test images and noise draws (JSON).')
    p.add_argument('--models', nargs='+', required=True, help='web package folders (or checkpoints) of one data set')
    p.add_argument('--out', type=Path, required=True, help='JSON file to write')
    p.add_argument('--images', type=int, default=1000, help='test images')
    p.add_argument('--samples', type=int, default=32, help='log-SNR samples per image (each pass)')
    p.add_argument('--chunk', type=int, default=50, help='images sharing one set of log-SNR samples')
    p.add_argument('--data-dir', default='')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--batch-size', type=int, default=128)
    p.add_argument('--device', default='auto', choices=('auto', 'cpu', 'cuda'))
    p.add_argument('--threads', type=int, default=0, help='torch CPU threads (0 = torch default)')
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parser().parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    started = time.time()
    report = evaluate_itd(args.models, args.images, args.samples, args.chunk, args.seed, args.batch_size,
                          resolve_device(args.device), args.data_dir)
    command = 'python -m infodiff.evaluate_itd ' + ' '.join(sys.argv[1:] if argv is None else argv)
    report.update({'command': command, 'seconds': round(time.time() - started, 1),
                   'createdAt': datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace('+00:00', 'Z'),
                   'hardware': f'{args.device} (torch {torch.__version__}, {platform.machine()}, '
                               f'{torch.get_num_threads()} threads)'})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + '\n', encoding='utf-8')
    print(f'evaluate_itd: wrote {args.out}', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
