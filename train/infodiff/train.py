"""Trains an InfoDiffusion model. Read it top to bottom: config -> data -> model -> optimiser -> loop.

    cd train
    /usr/bin/python3 -m infodiff.train --config configs/fmnist_tiny.json                 # seconds, on a CPU
    /usr/bin/python3 -m infodiff.train --config configs/fmnist_cpu.json --threads=1 --resume
    torchrun --standalone --nproc_per_node=4 -m infodiff.train --config configs/fmnist_official.json

Everything a run needs to continue lives in ``out_dir/checkpoint.pt`` (model, EMA, optimiser, config, step, best
eval loss, every rank's RNG states), written atomically every ``checkpoint_every`` steps. The data order is a
pure function of (seed, step), so ``--resume`` continues exactly where an uninterrupted run would have been.
A non-finite loss or gradient stops the run before the weights change; the last checkpoint stays good.
"""
from __future__ import annotations

import copy
import gc
import json
import math
import os
import pickle
import random
import signal
import sys
import time
from pathlib import Path
from typing import Any, Collection, Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from . import rng
from .config import ConfigError, TrainConfig, config_from_args, config_from_dict, config_to_dict, keys_set_by
from .data import DataError, global_batch_indices, load_dataset, to_model_space
from .diffusion import make_schedule
from .model import build_model, count_parameters
from .objective import InfoDiffusionObjective, LossTerms, ObjectiveConfig

CHECKPOINT_NAME = "checkpoint.pt"
CHECKPOINT_VERSION = 1
# Resuming keeps these from the checkpoint whatever the command line says (nanoGPT forces the model args):
# they define the weights' shapes, the noise schedule the weights were trained for, and the data order.
FORCED_ON_RESUME = ("architecture", "schedule", "image_size", "dataset", "dataset_size", "seed")
# Fields that say how a run is driven, not what it learns: a resume may change them without it being recorded.
BOOKKEEPING = ("data_dir", "out_dir", "checkpoint_every", "eval_every", "eval_images", "log_every", "resume",
               "stop_after_steps", "stop_at_step", "device", "threads", "notes",
               "init_from_package")  # read only when a run starts; recorded in config_changes then
# Bookkeeping that describes the run rather than drives it: a resume keeps the checkpoint's unless the command
# line sets it again (a baseline's notes differ from its preset's, and a resume that omits them keeps them).
KEPT_UNLESS_GIVEN = ("notes",)
EVAL_SEED = 20230717  # fixed t and noise for evaluate(), so eval losses are comparable across steps and runs


class NonFiniteLossError(RuntimeError):
    """The loss or the gradient norm became NaN/inf; the weights were not updated with it."""


def train(cfg: TrainConfig, given: Collection[str] = ()) -> Dict[str, Any]:
    """Runs (or resumes) training as configured; returns a summary {step, eval, wallTimeSeconds, checkpoint}.

    ``given`` names the keys the command line set itself (config.keys_set_by): on resume, the fields in
    KEPT_UNLESS_GIVEN come from the checkpoint unless they are among them."""
    # ------------------------------------------------------------------ distributed setup and device
    # torchrun sets RANK/WORLD_SIZE/LOCAL_RANK; a plain `python -m` run is rank 0 of 1.
    rank = int(os.environ.get("RANK", "0"))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    distributed = world > 1
    use_cuda = cfg.device == "cuda" or (cfg.device == "auto" and torch.cuda.is_available())
    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' was requested but torch sees no CUDA device")
    device = torch.device(f"cuda:{local_rank}" if use_cuda else "cpu")
    if use_cuda:
        torch.cuda.set_device(device)
        torch.backends.cudnn.benchmark = True
    else:
        torch.set_num_threads(cfg.threads or max(1, (os.cpu_count() or 1) // world))
    if distributed:
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    master = rank == 0
    if cfg.batch_size % world != 0:
        raise ConfigError(f"batch_size {cfg.batch_size} must be divisible by the {world} ranks")

    # A live progress bar on a terminal; plain log lines (every log_every steps) always, e.g. under nohup.
    bar = tqdm(total=0, disable=not (master and sys.stderr.isatty()), dynamic_ncols=True)

    def log(message: str) -> None:
        if master:
            if bar.disable:
                print(message, flush=True)
            else:
                bar.write(message)

    out_dir = Path(cfg.out_dir)
    checkpoint_path = out_dir / CHECKPOINT_NAME
    if master:
        out_dir.mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------------ resume: the checkpoint's model wins
    checkpoint: Optional[Dict[str, Any]] = None
    config_changes: List[Dict[str, Any]] = []  # every resume that changed what is learned, oldest first
    changed: Dict[str, List[Any]] = {}
    if cfg.resume and checkpoint_path.is_file():
        checkpoint = read_checkpoint(checkpoint_path)
        if checkpoint.get("version") != CHECKPOINT_VERSION:
            raise ConfigError(f"{checkpoint_path} has checkpoint version {checkpoint.get('version')!r}, "
                              f"this code reads {CHECKPOINT_VERSION}")
        saved = checkpoint["config"]
        merged = config_to_dict(cfg)
        for key in FORCED_ON_RESUME:
            if merged[key] != saved[key]:
                log(f"resume: keeping {key}={json.dumps(saved[key])} from the checkpoint (command line said "
                    f"{json.dumps(merged[key])})")
            merged[key] = saved[key]
        for key in KEPT_UNLESS_GIVEN:
            if key not in given:
                merged[key] = saved.get(key, merged[key])
        cfg = config_from_dict(merged)
        log(f"resume: continuing {checkpoint_path} at step {checkpoint['step']}")
        config_changes = list(checkpoint.get("config_changes", []))
        changed = resume_changes(saved, config_to_dict(cfg))
        if changed:
            config_changes.append({"step": checkpoint["step"], "changes": changed})
            log("resume: the run continues with a changed configuration (recorded in the checkpoint and log): "
                + config_change_clauses(config_changes[-1:]))
    elif checkpoint_path.is_file():
        raise ConfigError(f"{checkpoint_path} exists; pass --resume to continue it or choose another --out_dir")
    elif cfg.resume and not cfg.init_from_package:
        log(f"resume: no {checkpoint_path} yet, starting from scratch")

    # ------------------------------------------------------------------ or start from a package's weights
    package: Optional[Dict[str, Any]] = None
    if checkpoint is None and cfg.init_from_package:
        package = read_package_start(cfg.init_from_package)
        merged = config_to_dict(cfg)
        for key in ("architecture", "schedule"):
            if merged[key] != package[key]:
                log(f"init: taking {key}={json.dumps(package[key])} from the package (the config said "
                    f"{json.dumps(merged[key])})")
            merged[key] = package[key]
        merged["image_size"] = package["architecture"]["imageSize"]
        cfg = config_from_dict(merged)
        if cfg.steps <= package["step"]:
            raise ConfigError(f"{cfg.init_from_package} was trained for {package['step']} steps; --steps must be "
                              f"larger to train on from it, got {cfg.steps}")
        # Recorded like a changing resume, so the exported provenance says where the run restarted and how.
        changed = {"init_from_package": ["", cfg.init_from_package], "optimizer": ["continued", "fresh"]}
        config_changes = [{"step": package["step"], "changes": changed}]
        log(f"init: model and EMA from {cfg.init_from_package} at step {package['step']}, with a fresh optimiser")
    elif cfg.init_from_package:
        log(f"init: {checkpoint_path} exists, so --init_from_package is ignored and the checkpoint continues")

    if master:
        _atomic_write_text(out_dir / "config.json", json.dumps(config_to_dict(cfg), indent=2) + "\n")
        if changed:
            _append_jsonl(out_dir / "log.jsonl", {"step": config_changes[-1]["step"], "configChanges": changed})

    # ------------------------------------------------------------------ data (uint8 in memory)
    arch = cfg.architecture
    train_set = load_dataset(cfg.dataset, cfg.data_dir, cfg.image_size, arch["imageChannels"], "train",
                             cfg.dataset_size, cfg.seed)
    eval_set = load_dataset(cfg.dataset, cfg.data_dir, cfg.image_size, arch["imageChannels"], "test",
                            cfg.eval_images, cfg.seed)
    eval_images = eval_set.images[:cfg.eval_images]
    if use_cuda:
        # uint8 images are small (61 MB for FashionMNIST); on the GPU a batch is a gather without a host copy.
        train_set.images = train_set.images.to(device)
    batches_per_epoch = len(train_set) // cfg.batch_size
    log(f"data: {train_set.name}, {len(train_set)} training images {tuple(train_set.images.shape[1:])}, "
        f"{batches_per_epoch} batches of {cfg.batch_size} per epoch; {len(eval_images)} held-out images for eval")

    # ------------------------------------------------------------------ model, EMA, optimiser
    schedule = make_schedule(cfg.schedule)
    raw_model = build_model(arch, schedule.timesteps, seed=cfg.seed).to(device)
    ema = copy.deepcopy(raw_model).eval().requires_grad_(False) if cfg.ema_decay > 0 else None
    trainable = [p for p in raw_model.parameters() if p.requires_grad]  # the frozen sinusoid table is left out
    optimizer = torch.optim.AdamW(trainable, lr=cfg.lr, weight_decay=cfg.weight_decay)
    objective = InfoDiffusionObjective(schedule, ObjectiveConfig.from_train_config(cfg))
    # Two random streams per rank: `noise` draws flips, t, eps and prior samples; the global torch RNG drives
    # dropout. Both are saved and restored, which is what makes a resumed run bit-identical.
    noise = torch.Generator(device=device).manual_seed(cfg.seed * 1009 + rank + 1)
    torch.manual_seed(cfg.seed * 7919 + rank)
    step = 0
    best_eval_loss = math.inf
    wall_time_before = 0.0
    if checkpoint is not None:
        raw_model.load_state_dict(checkpoint["model"])
        if ema is not None and checkpoint.get("ema") is not None:
            ema.load_state_dict(checkpoint["ema"])
        elif ema is not None:
            ema.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        step = checkpoint["step"]
        best_eval_loss = checkpoint["best_eval_loss"]
        wall_time_before = checkpoint["wall_time_seconds"]
        data_state = checkpoint["data"]
        if (data_state["num_items"], data_state["batch_size"]) != (len(train_set), cfg.batch_size):
            log("resume: the dataset size or batch size changed, so the data order differs from the original run")
        states: List[Dict[str, Any]] = checkpoint["rng"]
        if len(states) == world:
            _restore_rng(states[rank], noise, use_cuda)
        else:
            log(f"resume: checkpoint holds RNG states of {len(states)} ranks, this run has {world}; "
                "reseeding, so the continuation is valid but not bit-identical")
            noise.manual_seed(cfg.seed * 1009 + rank + 1 + step)
            torch.manual_seed(cfg.seed * 7919 + rank + step)
        del checkpoint  # the state dicts are copied into the modules; free the CPU copies
    elif package is not None:
        # Only the weights survive in a package: AdamW's moments start from zero (warm-up is not repeated, since
        # lr_at continues at the package's step), and the data order continues from that step.
        raw_model.load_state_dict(package["weights"])
        if ema is not None:
            ema.load_state_dict(package["weights"])
        step = package["step"]
        wall_time_before = package["wall_time_seconds"]
        del package
    counts = count_parameters(raw_model)
    ranks = f" x {world} ranks" if world > 1 else ""
    hardware = (f"{torch.cuda.get_device_name(device)}{ranks} (torch {torch.__version__})" if use_cuda
                else f"CPU, {torch.get_num_threads()} thread(s){ranks} (torch {torch.__version__})")
    log(f"model: {counts['total']:,} parameters ({counts['frozen']:,} frozen); {hardware}")
    model = raw_model
    if distributed:
        # fc_mu/fc_var take no part in the loss unless the KL term is on.
        model = DistributedDataParallel(raw_model, device_ids=[local_rank] if use_cuda else None,
                                        find_unused_parameters=cfg.kld_weight == 0)

    # ------------------------------------------------------------------ helpers the loop uses
    def lr_at(at_step: int) -> float:
        """Linear warm-up to lr, then cosine decay to min_lr at cfg.steps."""
        if at_step < cfg.warmup_steps:
            return cfg.lr * (at_step + 1) / cfg.warmup_steps
        span = max(1, cfg.steps - cfg.warmup_steps)
        progress = min(1.0, (at_step - cfg.warmup_steps) / span)
        return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * progress))

    @torch.no_grad()
    def update_ema(at_step: int) -> None:
        # Early on the average would be dominated by the random init; (1+s)/(10+s) shortens its memory then.
        decay = min(cfg.ema_decay, (1 + at_step) / (10 + at_step))
        for averaged, current in zip(ema.parameters(), raw_model.parameters()):
            averaged.mul_(decay).add_(current.detach(), alpha=1 - decay)

    @torch.no_grad()
    def evaluate() -> Dict[str, float]:
        """Loss terms of the exported weights (EMA, else raw) on the fixed held-out batch, fixed t and noise."""
        net = ema if ema is not None else raw_model
        was_training = net.training
        net.eval()
        generator = torch.Generator(device=device).manual_seed(EVAL_SEED)
        sums = np.zeros(5)
        chunks = 0
        for start in range(0, len(eval_images), cfg.batch_size):
            x0 = to_model_space(eval_images[start:start + cfg.batch_size].to(device))
            terms = objective(net, x0, generator, progress=step / cfg.steps)
            sums += np.array([float(v) for v in terms])  # host sync, once per chunk
            chunks += 1
        net.train(was_training)
        return dict(zip(LossTerms._fields, (sums / max(chunks, 1)).tolist()))

    def save_checkpoint() -> None:
        # Every rank contributes its RNG states (a collective), only rank 0 writes.
        states = [_capture_rng(noise, use_cuda)]
        if distributed:
            states = _all_gather_objects(states[0], world, device, gather_buffers)
        if not master:
            return
        epoch, position = divmod(step, batches_per_epoch)
        payload = {
            "version": CHECKPOINT_VERSION,
            "model": raw_model.state_dict(),  # the unwrapped module: keys never carry a 'module.' prefix
            "ema": ema.state_dict() if ema is not None else None,
            "optimizer": optimizer.state_dict(),
            "config": config_to_dict(cfg),
            "config_changes": config_changes,  # [{step, changes: {field: [before, after]}}], one per changing resume
            "step": step,
            "best_eval_loss": best_eval_loss,
            "wall_time_seconds": wall_time_before + (time.time() - started),
            "hardware": hardware,
            "rng": states,
            "data": {"epoch": epoch, "position": position, "num_items": len(train_set),
                     "batch_size": cfg.batch_size},
        }
        tmp = checkpoint_path.with_name(CHECKPOINT_NAME + ".tmp")
        torch.save(payload, tmp)
        os.replace(tmp, checkpoint_path)

    gather_buffers: List[torch.Tensor] = []  # the last RNG gather's tensors, alive until the group is destroyed
    # A polite stop (Ctrl-C, SIGTERM from a scheduler) finishes the current step and checkpoints. Only without
    # DDP: ranks would see the signal at different steps and the checkpoint gather would hang.
    stop_requested = {"signal": None}
    if not distributed:
        def request_stop(signum, _frame):
            stop_requested["signal"] = signal.Signals(signum).name
        previous_handlers = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}

    # ------------------------------------------------------------------ the loop
    started = time.time()
    start_step = step
    run_end = cfg.steps
    if cfg.stop_after_steps:
        run_end = min(run_end, start_step + cfg.stop_after_steps)
    if cfg.stop_at_step:
        run_end = min(run_end, max(start_step, cfg.stop_at_step))
    interval_sums = torch.zeros(5, dtype=torch.float64, device=device)
    interval_steps, interval_start = 0, time.time()
    last_eval: Dict[str, float] = {}
    last_saved_step = start_step if start_step > 0 else -1
    log(f"training steps {start_step}..{run_end} of {cfg.steps}; checkpoint every {cfg.checkpoint_every} "
        f"to {checkpoint_path}")
    raw_model.train()
    bar.reset(total=cfg.steps)
    bar.update(start_step)
    try:
        while step < run_end:
            lr = lr_at(step)
            for group in optimizer.param_groups:
                group["lr"] = lr
            # This rank's share of the global batch: the same global batch whatever the number of ranks.
            indices = global_batch_indices(len(train_set), cfg.batch_size, cfg.seed, step)[rank::world]
            x0 = train_set.batch(indices, device)
            if cfg.hflip:
                flip = rng.uniform((x0.shape[0],), noise, device) < 0.5
                x0 = torch.where(flip[:, None, None, None], torch.flip(x0, dims=(3,)), x0)

            terms = objective(model, x0, noise, progress=step / cfg.steps)
            optimizer.zero_grad(set_to_none=True)
            terms.total.backward()
            # max_norm inf measures without clipping; a non-finite norm is returned, not raised.
            grad_norm = torch.nn.utils.clip_grad_norm_(trainable, cfg.grad_clip if cfg.grad_clip > 0 else math.inf)
            # Host-device sync every step: the price of never letting a NaN into the weights. With DDP the
            # gradients are already all-reduced, so every rank takes the same decision.
            if not bool(torch.isfinite(terms.total) & torch.isfinite(grad_norm)):
                values = ", ".join(f"{k}={float(v):.4g}" for k, v in zip(LossTerms._fields, terms))
                kept = (f"the last good checkpoint is {checkpoint_path} (step {last_saved_step})"
                        if last_saved_step >= 0 else "no checkpoint was written yet")
                raise NonFiniteLossError(
                    f"non-finite loss or gradient at step {step} ({values}, grad_norm={float(grad_norm):.4g}); "
                    f"stopped before updating the weights; {kept}. Try a lower --lr or check the data.")
            optimizer.step()
            if ema is not None:
                update_ema(step)
            step += 1
            bar.update(1)

            interval_sums += torch.stack([v.detach().double() for v in terms])
            interval_steps += 1
            if step % cfg.log_every == 0 or step == run_end:
                means = (interval_sums / interval_steps).tolist()  # host sync, once per log interval
                seconds = time.time() - interval_start
                images_per_second = interval_steps * cfg.batch_size / max(seconds, 1e-9)
                eta = (cfg.steps - step) * cfg.batch_size / max(images_per_second, 1e-9)
                record = {"step": step, "lr": lr, "gradNorm": float(grad_norm),
                          "imagesPerSecond": images_per_second, **dict(zip(LossTerms._fields, means))}
                log(f"step {step}/{cfg.steps} loss {means[0]:.5f} (eps {means[1]:.5f} recon {means[2]:.2e} "
                    f"mmd {means[3]:.2e} kld {means[4]:.2e}) lr {lr:.2e} |g| {float(grad_norm):.3f} "
                    f"{images_per_second:.1f} img/s ETA {_duration(eta)}")
                bar.set_postfix(loss=f"{means[0]:.4f}", eps=f"{means[1]:.4f}", mmd=f"{means[3]:.1e}",
                                img_s=f"{images_per_second:.0f}")
                if master:
                    _append_jsonl(out_dir / "log.jsonl", record)
                interval_sums.zero_()
                interval_steps, interval_start = 0, time.time()
            if master and cfg.eval_every and (step % cfg.eval_every == 0 or step == cfg.steps):
                last_eval = evaluate()
                best_eval_loss = min(best_eval_loss, last_eval["total"])
                log(f"eval step {step}: " + " ".join(f"{k} {v:.5f}" for k, v in last_eval.items())
                    + f" (best {best_eval_loss:.5f})")
                _append_jsonl(out_dir / "log.jsonl", {"step": step, "eval": last_eval})
            stopping = stop_requested["signal"] is not None
            if step % cfg.checkpoint_every == 0 or step == run_end or stopping:
                save_checkpoint()
                last_saved_step = step
            if stopping:
                log(f"{stop_requested['signal']}: stopped at step {step} after writing {checkpoint_path}")
                break
    finally:
        bar.close()
        if not distributed:
            for sig, handler in previous_handlers.items():
                signal.signal(sig, handler)
        if distributed:
            # Free the process group here, while gather_buffers still holds the last collective's tensors (see
            # _all_gather_objects): first the DDP wrapper and the last loss, whose autograd graph holds the
            # wrapper's reducer, which holds the group; gc for any cycle among them.
            model = terms = None
            gc.collect()
            dist.destroy_process_group()
            gather_buffers.clear()

    wall_time = wall_time_before + (time.time() - started)
    log(f"done: step {step}/{cfg.steps}, {_duration(wall_time)} of training in total")
    return {"step": step, "eval": last_eval, "wallTimeSeconds": wall_time, "checkpoint": str(checkpoint_path)}


# ---------------------------------------------------------------------------------------------------------------
# Small helpers

def resume_changes(saved: Dict[str, Any], resumed: Dict[str, Any]) -> Dict[str, List[Any]]:
    """{field: [checkpoint's value, resumed value]} for the fields a resume changes that shape what is learned
    (a field the checkpoint predates counts as its default then)."""
    defaults = config_to_dict(TrainConfig())
    return {key: [saved.get(key, defaults[key]), value] for key, value in resumed.items()
            if key not in BOOKKEEPING and key not in FORCED_ON_RESUME and saved.get(key, defaults[key]) != value}


def config_change_clauses(changes: Sequence[Dict[str, Any]]) -> str:
    """'at step 2,000, hflip true -> false; at step ...' for the checkpoint's config_changes ('' if none)."""
    return "; ".join(f"at step {entry['step']:,}, " + ", ".join(f"{key} {json.dumps(before)} -> {json.dumps(after)}"
                                                               for key, (before, after) in entry["changes"].items())
                     for entry in changes)


def describe_config_changes(changes: Sequence[Dict[str, Any]]) -> str:
    """One sentence for provenance notes: 'Changed on resume: at step 2,000, hflip true -> false.' ('' if none)."""
    return f"Changed on resume: {config_change_clauses(changes)}." if changes else ""


def _capture_rng(noise: torch.Generator, use_cuda: bool) -> Dict[str, Any]:
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if use_cuda else None,
        "numpy": np.random.get_state(),
        "python": random.getstate(),
        "noise": noise.get_state(),
    }


def _restore_rng(state: Dict[str, Any], noise: torch.Generator, use_cuda: bool) -> None:
    torch.set_rng_state(state["torch"])
    if use_cuda and state["cuda"] is not None:
        torch.cuda.set_rng_state_all(state["cuda"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    noise.set_state(state["noise"])


def _all_gather_objects(value: Any, world: int, device: torch.device, keep: List[torch.Tensor]) -> List[Any]:
    """Every rank's ``value`` (picklable), in rank order: dist.all_gather_object, but the tensors handed to the
    collective stay referenced from ``keep`` until the caller clears it after destroying the process group.

    Why: with torch 1.13's gloo, a tensor that Python has let go while a gloo worker thread still holds it is
    destroyed on that thread, which then needs the GIL. all_gather_object's tensors are exactly such tensors, and
    when the process group is freed at the end of a run the main thread joins the workers while holding the GIL:
    a deadlock that hung about one two-rank CPU run in twenty (seen in gdb: ~ProcessGroupGloo joining a worker
    stuck in TensorImpl::destroy_pyobj_if_needed). Tensors still referenced here are only released by the worker,
    never destroyed there.
    """
    payload = np.frombuffer(pickle.dumps(value), dtype=np.uint8)
    size = torch.tensor([len(payload)], dtype=torch.int64, device=device)
    sizes = [torch.zeros(1, dtype=torch.int64, device=device) for _ in range(world)]
    dist.all_gather(sizes, size)
    longest = max(int(s.item()) for s in sizes)  # host sync, once per checkpoint
    padded = torch.zeros(longest, dtype=torch.uint8, device=device)
    padded[:len(payload)] = torch.from_numpy(payload.copy()).to(device)
    gathered = [torch.zeros(longest, dtype=torch.uint8, device=device) for _ in range(world)]
    dist.all_gather(gathered, padded)
    keep[:] = [size, padded, *sizes, *gathered]
    return [pickle.loads(buffer[:int(length.item())].cpu().numpy().tobytes())
            for buffer, length in zip(gathered, sizes)]


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _append_jsonl(path: Path, record: Dict[str, Any]) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


def _duration(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


def read_checkpoint(path: str | Path) -> Dict[str, Any]:
    """A training checkpoint as a dict of CPU tensors and plain data. weights_only=False because the file holds
    numpy and Python RNG states, which torch >= 2.6 refuses by default; only open checkpoints you wrote."""
    return torch.load(path, map_location="cpu", weights_only=False)


def read_package_start(package_dir: str | Path) -> Dict[str, Any]:
    """What --init_from_package takes from a web package: its weights as a state dict (the exported EMA weights,
    float32), architecture, schedule, training step and wall time (0 where its provenance does not say)."""
    from .webpackage import WebPackageError, load_web_package

    try:
        model, meta = load_web_package(package_dir)
    except (OSError, WebPackageError) as err:
        raise ConfigError(f"--init_from_package: cannot read {package_dir}: {err}") from None
    provenance = meta.get("provenance") or {}
    return {"weights": model.state_dict(), "architecture": meta["architecture"], "schedule": meta["schedule"],
            "step": int(provenance.get("steps") or 0), "wall_time_seconds": float(provenance.get("wallTimeSeconds") or 0)}


def load_checkpoint_model(path: str | Path, use_ema: bool = True, device: str = "cpu"):
    """(InfoDiff in eval mode, TrainConfig, checkpoint dict) from a training checkpoint; EMA weights by default
    (the raw weights when the run kept no EMA)."""
    checkpoint = read_checkpoint(path)
    cfg = config_from_dict(checkpoint["config"])
    schedule = make_schedule(cfg.schedule)
    model = build_model(cfg.architecture, schedule.timesteps)
    weights = checkpoint["ema"] if use_ema and checkpoint.get("ema") is not None else checkpoint["model"]
    model.load_state_dict(weights)
    return model.to(device).eval(), cfg, checkpoint


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help") for a in argv):
        print(__doc__)
        print("Options (--key=value; architecture.*/schedule.* fields nest with a dot):")
        for name, value in config_to_dict(TrainConfig()).items():
            print(f"  --{name}={json.dumps(value)}")
        return 0
    try:
        cfg = config_from_args(argv)
        train(cfg, given=keys_set_by(argv))
    except (ConfigError, DataError, NonFiniteLossError) as err:
        print(f"error: {err}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
