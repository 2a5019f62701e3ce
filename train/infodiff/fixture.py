"""The tiny fixture model and the golden parity files the TypeScript runtime is checked against.

    cd train && /usr/bin/python3 -m infodiff.fixture

1. Builds the fixture architecture of configs/fixture.json (16x16x1, ch 4, ch_mult [1,2], latentDim 6) with
   seeded, deliberately non-degenerate weights: the official init starts the tails and attention projections at
   ~1e-5, which would hide most weights from the outputs, so every weight is drawn instead (conv/linear
   N(0, 1/fan_in), GroupNorm scales 1 + 0.1 N, biases 0.1 N; the frozen sinusoid table stays exact).
2. Exports it, float32, to public/models/fixture/ with plausible metadata computed from procedurally drawn
   images by infodiff.export.build_metadata (latent statistics, a Gaussian reference, one attribute direction
   per drawing class, a gallery of 4 PNGs, one per class), and a "student" (docs/model-format.md): a second
   denoiser with its own seeded random weights, read in v-parameterisation along a 2-call plan, so the app's
   student previews and their parity are exercised (its images are noise like the teacher's). Beside it,
   public/models/fixture-baseline/: a second random-weights model of the same data marked as the fixture's
   baseline (metadata.baselineOf), for the app's "compare with" and its e2e test.
3. Loads that package back with load_web_package and, in float64, writes e2e/fixtures/golden/: encoder,
   denoiser, 3-step DDIM sampling, DDIM inversion, the student's 1- and 2-call decodes, and the I-MMSE
   estimators' per-sample errors and figures on given draws (`itd_golden`) (NHWC float32 .npy, t int32, the
   log-SNRs and weights float64) listed in golden.json.

Deterministic: every random draw is seeded, torch runs on one thread and metadata floats are rounded, so a rerun
writes identical bytes.
"""
from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path
from typing import Dict, Optional, Sequence

import numpy as np
import torch

from .config import load_preset, validate_train_config
from .data import ImageDataset
from . import itd
from .diffusion import ddim_invert, ddim_plan, ddim_sample, make_schedule
from .export import build_metadata
from .model import TIME_TABLE_KEY, InfoDiff
from .objective import ObjectiveConfig
from .webpackage import load_web_package_with_student, state_dict_arrays, student_weight_arrays, write_web_package

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DIR = REPO_ROOT / "public" / "models" / "fixture"
GOLDEN_DIR = REPO_ROOT / "e2e" / "fixtures" / "golden"
CONFIG_PATH = Path(__file__).resolve().parents[1] / "configs" / "fixture.json"
WEIGHT_SEED = 1234
IMAGE_SEED = 5678
GOLDEN_SEED = 91011
SYNTHETIC_IMAGES = 600  # > d = 256, so the Gaussian reference is a full-rank spectrum
SHAPE_CLASSES = ("Square", "Disc", "Ring", "Bar")
GOLDEN_BATCH = 2
GOLDEN_DDIM_STEPS = 3
GOLDEN_ETA = 0.0
GOLDEN_TOLERANCE = 1e-4
STUDENT_WEIGHT_SEED = 4321
BASELINE_ID = "fixture-baseline"  # the second fixture package (metadata.baselineOf = "fixture")
BASELINE_WEIGHT_SEED = 2468
STUDENT_PLAN = [999, 500]
STUDENT_PARAMETERISATION = "v"
CREATED_AT = "2025-01-01T00:00:00Z"  # fixed, so reruns are byte-identical
# Log-SNRs of the I-MMSE parity case: below, inside, in the soft-rounding band of, and above the trained range.
ITD_LOG_SNR = [-6.5, -5.5, -2.0, 0.0, 3.0, 6.0, 9.0, 9.9, 10.8, 11.4, 12.5, 15.0]


def randomize_weights(model: torch.nn.Module, seed: int = WEIGHT_SEED) -> None:
    """Draws every weight so that outputs depend on all of them (see the module docstring)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict(keep_vars=True).items():
            if name.endswith(TIME_TABLE_KEY.split("backbone.", 1)[1]):
                continue
            noise = torch.randn(tensor.shape, generator=generator, dtype=torch.float64)
            if tensor.dim() >= 2:  # conv [out, in, kh, kw] or linear [out, in]
                fan_in = int(np.prod(tensor.shape[1:]))
                tensor.copy_(noise / np.sqrt(fan_in))
            elif name.endswith(".weight"):  # GroupNorm scale
                tensor.copy_(1 + 0.1 * noise)
            else:
                tensor.copy_(0.1 * noise)


def synthetic_images(count: int, size: int, seed: int = IMAGE_SEED):
    """Procedural light-on-dark drawings (uint8 [N, 1, size, size]) and their class index [N] in SHAPE_CLASSES:
    a square, a disc, a ring or a bar, each with a random position, size and brightness plus a little noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) + 0.5
    images = np.zeros((count, 1, size, size), dtype=np.uint8)
    labels = rng.integers(0, len(SHAPE_CLASSES), size=count)
    for i, label in enumerate(labels):
        cx, cy = rng.uniform(0.35, 0.65, size=2) * size
        radius = rng.uniform(0.18, 0.32) * size
        brightness = rng.uniform(150, 255)
        distance = np.hypot(xx - cx, yy - cy)
        if label == 0:
            mask = (np.abs(xx - cx) < radius * 0.8) & (np.abs(yy - cy) < radius * 0.8)
        elif label == 1:
            mask = distance < radius
        elif label == 2:
            mask = (distance < radius) & (distance > radius * 0.55)
        else:
            mask = (np.abs(xx - cx) < radius * 0.3) & (np.abs(yy - cy) < radius * 1.1)
        picture = mask * brightness + rng.normal(0, 6, size=(size, size))
        images[i, 0] = np.clip(np.round(picture), 0, 255).astype(np.uint8)
    return images, labels.astype(np.int64)


def save_npy(path: Path, array: np.ndarray) -> None:
    np.save(path, np.ascontiguousarray(array))


def nchw_to_nhwc(x: torch.Tensor) -> np.ndarray:
    return x.permute(0, 2, 3, 1).contiguous().float().numpy()


def build_fixture(package_dir: Path = PACKAGE_DIR, golden_dir: Path = GOLDEN_DIR,
                  baseline_dir: Optional[Path] = None) -> Dict[str, str]:
    """Writes the fixture package, its baseline package (beside it unless ``baseline_dir``) and the golden files;
    returns {'package': ..., 'baseline': ..., 'golden': ...} paths."""
    torch.set_num_threads(1)  # one thread: reductions always run in the same order
    cfg = validate_train_config(load_preset(CONFIG_PATH))
    arch, schedule_cfg = cfg.architecture, cfg.schedule
    schedule = make_schedule(schedule_cfg)
    model = InfoDiff(arch, schedule.timesteps)
    randomize_weights(model)
    model.eval()

    # ---- metadata from procedural images
    images_u8, labels = synthetic_images(SYNTHETIC_IMAGES, arch["imageSize"])
    dataset = ImageDataset(name="synthetic", images=torch.from_numpy(images_u8), labels=labels,
                           label_names=list(SHAPE_CLASSES), factors=None, factor_names=None, light_on_dark=True)
    provenance = {
        "source": "fixture",
        "dataset": "synthetic",
        "objective": ObjectiveConfig.from_train_config(cfg).as_provenance(),
        "steps": 0,
        "batchSize": 0,
        "wallTimeSeconds": 0.0,
        "hardware": "none (random weights)",
        "ema": False,
        "metrics": {},
        "createdAt": CREATED_AT,
        "notes": cfg.notes,
    }
    metadata = build_metadata(
        model, "fixture", package_dir, train_set=dataset, gallery_set=dataset, schedule=schedule_cfg,
        provenance=provenance, display_name="Fixture (random weights)",
        description="A tiny 16x16 model with random weights for tests and parity checks; its images are noise.",
        prior=cfg.prior, gallery_size=len(SHAPE_CLASSES), seed=0, fit_prior=False)
    student = copy.deepcopy(model.backbone)
    randomize_weights(student, STUDENT_WEIGHT_SEED)
    metadata["student"] = {"parameterisation": STUDENT_PARAMETERISATION, "plan": STUDENT_PLAN,
                           "teacherSteps": GOLDEN_DDIM_STEPS, "training": {"steps": 0}, "fidelity": {}}
    write_web_package(package_dir, {**state_dict_arrays(model.state_dict()), **student_weight_arrays(student)},
                      metadata)

    # ---- a second model of the same data: the app's "compare with" and the e2e test of two models need one
    baseline_dir = baseline_dir or package_dir.parent / BASELINE_ID
    baseline = InfoDiff(arch, schedule.timesteps)
    randomize_weights(baseline, BASELINE_WEIGHT_SEED)
    baseline.eval()
    baseline_metadata = build_metadata(
        baseline, BASELINE_ID, baseline_dir, train_set=dataset, gallery_set=dataset, schedule=schedule_cfg,
        provenance=provenance, display_name="Fixture baseline (random weights)",
        description="A second tiny random-weights model of the fixture's data, marked as its baseline, for tests "
                    "that compare two models.",
        prior=cfg.prior, gallery_size=len(SHAPE_CLASSES), seed=0, fit_prior=False)
    baseline_metadata = {"id": BASELINE_ID, "displayName": baseline_metadata["displayName"],
                         "description": baseline_metadata["description"], "baselineOf": "fixture",
                         **{k: v for k, v in baseline_metadata.items()
                            if k not in ("id", "displayName", "description")}}
    write_web_package(baseline_dir, state_dict_arrays(baseline.state_dict()), baseline_metadata)

    # ---- golden files, from the package as the app loads it, computed in float64
    loaded, meta, loaded_student = load_web_package_with_student(package_dir)
    loaded, loaded_student = loaded.double(), loaded_student.double()
    size, channels, dim = arch["imageSize"], arch["imageChannels"], arch["latentDim"]
    rng = np.random.default_rng(GOLDEN_SEED)

    def draw(shape, kind="normal") -> torch.Tensor:
        values = rng.uniform(-1, 1, size=shape) if kind == "uniform" else rng.normal(size=shape)
        return torch.from_numpy(values.astype(np.float32))  # the stored float32 values are the inputs

    golden_dir.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        encoder_x = draw((GOLDEN_BATCH, size, size, channels), "uniform")
        encoder_z = loaded.encode(encoder_x.permute(0, 3, 1, 2).double())

        denoiser_xt = draw((GOLDEN_BATCH, size, size, channels))
        denoiser_t = torch.from_numpy(rng.integers(0, schedule.timesteps, size=GOLDEN_BATCH).astype(np.int32))
        denoiser_z = draw((GOLDEN_BATCH, dim))
        denoiser_eps = loaded.predict_eps(denoiser_xt.permute(0, 3, 1, 2).double(), denoiser_t.long(),
                                          denoiser_z.double())

        plan = ddim_plan(schedule.timesteps, GOLDEN_DDIM_STEPS)
        ddim_x_noise = draw((GOLDEN_BATCH, size, size, channels))
        ddim_z = draw((GOLDEN_BATCH, dim))
        ddim_x0 = ddim_sample(loaded.predict_eps, schedule, plan, ddim_x_noise.permute(0, 3, 1, 2).double(),
                              ddim_z.double(), eta=GOLDEN_ETA)

        invert_x0_u8, _ = synthetic_images(GOLDEN_BATCH, size, seed=GOLDEN_SEED)
        invert_x0 = torch.from_numpy(np.transpose(invert_x0_u8, (0, 2, 3, 1)).astype(np.float32) / 127.5 - 1)
        invert_x0_nchw = invert_x0.permute(0, 3, 1, 2).double()
        invert_z = loaded.encode(invert_x0_nchw)
        invert_x_noise = ddim_invert(loaded.predict_eps, schedule, plan, invert_x0_nchw, invert_z)

        student_x0 = {calls: ddim_sample(loaded_student, schedule, STUDENT_PLAN[:calls],
                                         ddim_x_noise.permute(0, 3, 1, 2).double(), ddim_z.double(),
                                         parameterisation=STUDENT_PARAMETERISATION) for calls in (1, 2)}

        itd_case = itd_golden(loaded, meta, schedule, invert_x0[:1], draw)

    files = {
        "encoder_x.npy": encoder_x.numpy(), "encoder_z.npy": encoder_z.float().numpy(),
        "denoiser_xt.npy": denoiser_xt.numpy(), "denoiser_t.npy": denoiser_t.numpy(),
        "denoiser_z.npy": denoiser_z.numpy(), "denoiser_eps.npy": nchw_to_nhwc(denoiser_eps),
        "ddim_xT.npy": ddim_x_noise.numpy(), "ddim_z.npy": ddim_z.numpy(), "ddim_x0.npy": nchw_to_nhwc(ddim_x0),
        "invert_x0.npy": invert_x0.numpy(), "invert_z.npy": invert_z.float().numpy(),
        "invert_xT.npy": nchw_to_nhwc(invert_x_noise),
        "student_x0.npy": nchw_to_nhwc(student_x0[2]), "student_x0_calls1.npy": nchw_to_nhwc(student_x0[1]),
        **itd_case["files"],
    }
    for name, array in files.items():
        save_npy(golden_dir / name, array)
    manifest = {
        "$comment": "Written by `cd train && python -m infodiff.fixture` from the fixture package loaded back with "
                    "load_web_package, computed in float64 and stored as float32. Images are NHWC, t is int32. "
                    "Check: max|ours - golden| / max|golden| <= relativeTolerance per output.",
        "model": "public/models/fixture",
        "relativeTolerance": GOLDEN_TOLERANCE,
        "batch": GOLDEN_BATCH,
        "ddimSteps": GOLDEN_DDIM_STEPS,
        "eta": GOLDEN_ETA,
        "ddimTimesteps": plan,
        "studentPlan": STUDENT_PLAN,
        "studentParameterisation": STUDENT_PARAMETERISATION,
        "files": sorted(files),
        "itd": itd_case["facts"],
        "cases": {
            "encoder": {"inputs": {"x": "encoder_x.npy"}, "outputs": {"z": "encoder_z.npy"}},
            "denoiser": {"inputs": {"xt": "denoiser_xt.npy", "t": "denoiser_t.npy", "z": "denoiser_z.npy"},
                         "outputs": {"eps": "denoiser_eps.npy"}},
            "ddim": {"inputs": {"xNoise": "ddim_xT.npy", "z": "ddim_z.npy"}, "outputs": {"x0": "ddim_x0.npy"}},
            "invert": {"inputs": {"x0": "invert_x0.npy"},
                       "outputs": {"z": "invert_z.npy", "xNoise": "invert_xT.npy"}},
            "student": {"inputs": {"xNoise": "ddim_xT.npy", "z": "ddim_z.npy"},
                        "outputs": {"x0": "student_x0.npy", "x0Calls1": "student_x0_calls1.npy"}},
            "itd": itd_case["case"],
        },
    }
    (golden_dir / "golden.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return {"package": str(package_dir), "baseline": str(baseline_dir), "golden": str(golden_dir)}


def itd_golden(loaded, meta, schedule, x_nhwc: torch.Tensor, draw) -> Dict:
    """The I-MMSE estimators on given draws (src/diffusion/itd.ts `estimateNll` with `draws`, against infodiff.itd):
    one image, ITD_LOG_SNR (below, inside, in the soft-rounding band of, and above the trained range), the logistic
    weights at them, one noise draw each; the conditional denoiser (z = Enc(x)), the prior-averaged one over two z
    draws, each member's per-sample errors and figures, and their ensemble along a fixed alternating choice."""
    size, channels = meta["preprocessing"]["imageSize"], meta["preprocessing"]["channels"]
    reference = itd.reference_from_metadata(meta["gaussianReference"], (size, size, channels), channels_first=True)
    reference = itd.GaussianReference(mean=reference.mean.double(), variance=reference.variance,
                                      log_eigenvalues=reference.log_eigenvalues, log_snr_loc=reference.log_snr_loc,
                                      log_snr_scale=reference.log_snr_scale)
    log_snr = np.array(ITD_LOG_SNR)
    loc, scale = reference.log_snr_loc, reference.log_snr_scale
    xi = (log_snr - loc) / scale
    kept = itd._sigmoid(itd.LOGISTIC_CLIP) - itd._sigmoid(-itd.LOGISTIC_CLIP)
    weight = scale * kept / (itd._sigmoid(xi) * itd._sigmoid(-xi))
    noise = draw((len(log_snr), size, size, channels))
    z_prior = draw((2, meta["architecture"]["latentDim"]))
    x = itd.quantise(x_nhwc.double()).permute(0, 3, 1, 2).contiguous()
    z = loaded.encode(x)
    trained = itd.trained_log_snr_range(schedule.alpha_bar)
    members = {
        "conditional": itd.network_denoiser(loaded.predict_eps),
        "unconditional": itd.prior_averaged_denoiser(loaded.predict_eps, z_prior.double()),
    }
    d = reference.dimensions
    squared = float(((x - reference.mean) ** 2).sum())
    linear_nats = d / 2 * np.log(2 * np.pi * reference.variance) + squared / (2 * reference.variance)
    tails = float(itd.discrete_tails_nats(x, reference, np.array([reference.log_snr_range()[0]]),
                                          np.array([reference.log_snr_range()[1]]))[0])
    files, figures, errors = {}, {}, {}
    for name, eps_fn in members.items():
        e = itd.errors_on_draws(eps_fn, schedule.alpha_bar, reference, x, z, log_snr,
                                noise.permute(0, 3, 1, 2).double(), trained_range=trained)
        errors[name] = e
        files[f"itd_errors_{name}.npy"] = np.stack([e["model"], e["linear"], e["discrete"]]).astype(np.float32)
        figures[name] = _itd_figures(e["model"], e["linear"], e["discrete"], weight, linear_nats, tails, d)
    choice = np.arange(len(log_snr)) % 2  # 0 conditional, 1 unconditional
    pick = lambda key: np.where(choice == 0, errors["conditional"][key], errors["unconditional"][key])  # noqa: E731
    figures["ensemble"] = _itd_figures(pick("model"), errors["conditional"]["linear"], pick("discrete"), weight,
                                       linear_nats, tails, d)
    files.update({"itd_x.npy": nchw_to_nhwc(x), "itd_z.npy": z.float().numpy(), "itd_noise.npy": noise.numpy(),
                  "itd_z_prior.npy": z_prior.numpy(), "itd_log_snr.npy": log_snr, "itd_weight.npy": weight})
    case = {"inputs": {"x": "itd_x.npy", "z": "itd_z.npy", "noise": "itd_noise.npy", "zPrior": "itd_z_prior.npy",
                       "logSnr": "itd_log_snr.npy", "weight": "itd_weight.npy"},
            "outputs": {"conditional": "itd_errors_conditional.npy",
                        "unconditional": "itd_errors_unconditional.npy"}}
    facts = {"$comment": "The itd case: errors rows are model, linear, discrete per log-SNR; figures in bits/dim; "
                         "the ensemble takes member choice[k] at sample k. logSnr and weight are float64.",
             "trainedLogSnrRange": list(trained), "logSnrRange": list(reference.log_snr_range()),
             "choice": choice.tolist(), "figures": figures}
    return {"files": files, "case": case, "facts": facts}


def _itd_figures(model, linear, discrete, weight, linear_nats, tails, d) -> Dict[str, float]:
    nats_per_bit_dim = d * np.log(2)
    continuous = 0.5 * weight * (model - linear)
    disc = 0.5 * weight * discrete
    return {"continuous": float((linear_nats + continuous.mean()) / nats_per_bit_dim),
            "continuousStdErr": float(continuous.std(ddof=1) / np.sqrt(len(weight)) / nats_per_bit_dim),
            "discrete": float((tails + disc.mean()) / nats_per_bit_dim),
            "discreteStdErr": float(disc.std(ddof=1) / np.sqrt(len(weight)) / nats_per_bit_dim)}


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Write the fixture model package and the golden parity files.")
    parser.add_argument("--package-dir", type=Path, default=PACKAGE_DIR)
    parser.add_argument("--golden-dir", type=Path, default=GOLDEN_DIR)
    parser.add_argument("--baseline-dir", type=Path, default=None,
                        help=f"the second package (default: {BASELINE_ID} beside --package-dir)")
    args = parser.parse_args(argv)
    paths = build_fixture(args.package_dir, args.golden_dir, args.baseline_dir)
    print(f"fixture: wrote {paths['package']}, {paths['baseline']} and {paths['golden']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
