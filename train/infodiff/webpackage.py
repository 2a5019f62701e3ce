"""Reads and writes the web model package (docs/model-format.md), with numpy only for the format itself.

A package is a folder: ``model.json`` (a TensorFlow.js ``weightsManifest`` plus ``metadata``), binary shards
``group1-shard{M}of{K}.bin`` of at most 4 MiB, and an optional ``gallery/``. Weight names are the PyTorch
state_dict keys, shapes the PyTorch shapes; values are little-endian float32, or float16 under
``"quantization": {"dtype": "float16"}`` (the frozen sinusoid table always stays float32).

Writing validates everything first and writes the manifest last, so a crash never leaves a folder that looks
complete. Reading refuses anything that does not match the format, listing every offending name in one message.
``load_web_package`` turns a package back into an InfoDiff module, so every CLI runs on what the app ships.
"""
from __future__ import annotations

import json
import math
import os
import re
from collections import OrderedDict
from pathlib import Path
from typing import Any, Dict, List, Mapping, Tuple

import numpy as np
import torch

from .config import ConfigError, resolve_architecture, resolve_schedule
from .diffusion import PARAMETERISATIONS
from .model import TIME_TABLE_KEY, AuxiliaryUNet, InfoDiff, expected_parameters, parameter_mismatches

FORMAT = "infodiffusion-explorer/model"
FORMAT_VERSION = 1
SHARD_BYTES = 4 * 1024 * 1024
MANIFEST_NAME = "model.json"
SHARD_PATTERN = re.compile(r"^group(\d+)-shard(\d+)of(\d+)\.bin$")
ID_PATTERN = re.compile(r"^[a-z0-9-]+$")
UNIT_NORM_TOLERANCE = 1e-3

METADATA_KEYS = ("id", "displayName", "description", "architecture", "schedule", "preprocessing", "latent",
                 "dimensionNames", "attributeDirections", "gaussianReference", "gallery", "provenance")
METADATA_OPTIONAL_KEYS = ("student",)
PREPROCESSING_KEYS = ("imageSize", "channels", "valueRange", "lightOnDark")
LATENT_KEYS = ("mean", "std", "min", "max", "prior")
LATENT_OPTIONAL_KEYS = ("fitted",)
FITTED_KEYS = ("kind", "fittedOn", "weights", "means", "scaleTril")
WEIGHT_SUM_TOLERANCE = 1e-3
DIRECTION_KEYS = ("name", "group", "vector", "bias")
REFERENCE_KEYS = ("kind", "mean", "variance", "logEigenvalues", "logSnrLoc", "logSnrScale")
GALLERY_KEYS = ("file", "label")
PROVENANCE_KEYS = ("source", "dataset", "objective", "steps", "batchSize", "wallTimeSeconds", "hardware", "ema",
                   "metrics", "createdAt", "notes")
PROVENANCE_OPTIONAL_KEYS = ("data",)
DATA_KEYS = ("seed", "size")
SOURCES = ("trained", "converted-official", "fixture")
STUDENT_KEYS = ("parameterisation", "plan", "teacherSteps", "training", "fidelity")
STUDENT_PREFIX = "student."  # the student's weights: every backbone.* name again under this prefix
STUDENT_MAX_CALLS = 8
LATENT_PRIORS = ("normal", "10mix")


class WebPackageError(ValueError):
    """A package that does not match docs/model-format.md; the message names the file, field or weight."""


# ---------------------------------------------------------------------------------------------------------------
# Metadata validation

def _keys(where: str, value: Any, keys: Tuple[str, ...], optional: Tuple[str, ...] = ()) -> Dict[str, Any]:
    if not isinstance(value, dict):
        raise WebPackageError(f"{where} must be an object")
    missing = [k for k in keys if k not in value]
    unknown = [k for k in value if k not in keys and k not in optional]
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing)}")
        if unknown:
            parts.append(f"unknown {', '.join(unknown)}")
        raise WebPackageError(f"{where}: {'; '.join(parts)}")
    return value


def _number(where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise WebPackageError(f"{where} must be a finite number, got {value!r}")
    return float(value)


def _integer(where: str, value: Any, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise WebPackageError(f"{where} must be an integer >= {minimum}, got {value!r}")
    return value


def _string(where: str, value: Any) -> str:
    if not isinstance(value, str):
        raise WebPackageError(f"{where} must be a string, got {value!r}")
    return value


def _vector(where: str, value: Any, length: int) -> np.ndarray:
    if not isinstance(value, list) or len(value) != length:
        got = len(value) if isinstance(value, list) else type(value).__name__
        raise WebPackageError(f"{where} must be a list of {length} numbers, got {got}")
    for i, v in enumerate(value):
        _number(f"{where}[{i}]", v)
    return np.asarray(value, dtype=np.float64)


def _validate_fitted(fitted: Any, dim: int) -> None:
    """metadata.latent.fitted: a Gaussian mixture (infodiff.latent_prior) whose factors are valid Cholesky ones."""
    where = "metadata.latent.fitted"
    _keys(where, fitted, FITTED_KEYS)
    if fitted["kind"] != "gaussianMixture":
        raise WebPackageError(f"{where}.kind must be \"gaussianMixture\", got {fitted['kind']!r}")
    _integer(f"{where}.fittedOn", fitted["fittedOn"], minimum=1)
    weights = fitted["weights"]
    if not isinstance(weights, list) or not weights:
        raise WebPackageError(f"{where}.weights must be a non-empty list of numbers")
    weights = _vector(f"{where}.weights", weights, len(weights))
    if (weights <= 0).any() or abs(weights.sum() - 1) > WEIGHT_SUM_TOLERANCE:
        raise WebPackageError(f"{where}.weights must be positive and sum to 1, sum to {weights.sum():.6f}")
    for key, length in (("means", dim), ("scaleTril", dim * (dim + 1) // 2)):
        rows = fitted[key]
        if not isinstance(rows, list) or len(rows) != len(weights):
            raise WebPackageError(f"{where}.{key} must hold one row per component ({len(weights)})")
        for k, row in enumerate(rows):
            _vector(f"{where}.{key}[{k}]", row, length)
    diagonal = [(i + 1) * (i + 2) // 2 - 1 for i in range(dim)]  # L[i, i] in the packed rows
    for k, row in enumerate(fitted["scaleTril"]):
        if min(row[i] for i in diagonal) <= 0:
            raise WebPackageError(f"{where}.scaleTril[{k}] must have a positive diagonal (a Cholesky factor)")


def validate_metadata(metadata: Any, package_dir: Path | None = None) -> Dict[str, Any]:
    """Checks a metadata block against docs/model-format.md; returns it with architecture/schedule resolved.

    When ``package_dir`` is given, gallery files must exist inside it.
    """
    meta = dict(_keys("metadata", metadata, METADATA_KEYS, METADATA_OPTIONAL_KEYS))
    if not ID_PATTERN.match(_string("metadata.id", meta["id"])):
        raise WebPackageError(f"metadata.id must match [a-z0-9-]+, got {meta['id']!r}")
    _string("metadata.displayName", meta["displayName"])
    _string("metadata.description", meta["description"])
    try:
        meta["architecture"] = resolve_architecture(meta["architecture"])
        meta["schedule"] = resolve_schedule(meta["schedule"])
    except ConfigError as err:
        raise WebPackageError(f"metadata: {err}") from None
    arch = meta["architecture"]
    dim = arch["latentDim"]
    pixels = arch["imageSize"] ** 2 * arch["imageChannels"]

    pre = _keys("metadata.preprocessing", meta["preprocessing"], PREPROCESSING_KEYS)
    if pre["imageSize"] != arch["imageSize"]:
        raise WebPackageError(
            f"metadata.preprocessing.imageSize {pre['imageSize']} differs from architecture.imageSize {arch['imageSize']}")
    if pre["channels"] != arch["imageChannels"]:
        raise WebPackageError(
            f"metadata.preprocessing.channels {pre['channels']} differs from architecture.imageChannels "
            f"{arch['imageChannels']}")
    value_range = pre["valueRange"]
    if (not isinstance(value_range, list) or len(value_range) != 2
            or _number("metadata.preprocessing.valueRange[0]", value_range[0])
            >= _number("metadata.preprocessing.valueRange[1]", value_range[1])):
        raise WebPackageError(f"metadata.preprocessing.valueRange must be [low, high] with low < high, got {value_range!r}")
    if not isinstance(pre["lightOnDark"], bool):
        raise WebPackageError("metadata.preprocessing.lightOnDark must be true or false")

    latent = _keys("metadata.latent", meta["latent"], LATENT_KEYS, LATENT_OPTIONAL_KEYS)
    for key in ("mean", "std", "min", "max"):
        _vector(f"metadata.latent.{key}", latent[key], dim)
    if latent["prior"] not in LATENT_PRIORS:
        raise WebPackageError(f"metadata.latent.prior must be \"normal\" or \"10mix\", got {latent['prior']!r}")
    if "fitted" in latent:
        _validate_fitted(latent["fitted"], dim)

    names = meta["dimensionNames"]
    if not isinstance(names, list) or len(names) != dim or any(n is not None and not isinstance(n, str) for n in names):
        raise WebPackageError(f"metadata.dimensionNames must be a list of {dim} strings or nulls")

    if not isinstance(meta["attributeDirections"], list):
        raise WebPackageError("metadata.attributeDirections must be a list")
    for k, direction in enumerate(meta["attributeDirections"]):
        where = f"metadata.attributeDirections[{k}]"
        _keys(where, direction, DIRECTION_KEYS)
        _string(f"{where}.name", direction["name"])
        _string(f"{where}.group", direction["group"])
        norm = float(np.linalg.norm(_vector(f"{where}.vector", direction["vector"], dim)))
        if abs(norm - 1) > UNIT_NORM_TOLERANCE:
            raise WebPackageError(f"{where}.vector must have unit norm, has {norm:.6f}")
        _number(f"{where}.bias", direction["bias"])

    ref = _keys("metadata.gaussianReference", meta["gaussianReference"], REFERENCE_KEYS)
    if ref["kind"] not in ("spectrum", "diagonal"):
        raise WebPackageError(f"metadata.gaussianReference.kind must be \"spectrum\" or \"diagonal\", got {ref['kind']!r}")
    _vector("metadata.gaussianReference.mean", ref["mean"], pixels)
    _vector("metadata.gaussianReference.logEigenvalues", ref["logEigenvalues"], pixels)
    if _number("metadata.gaussianReference.variance", ref["variance"]) <= 0:
        raise WebPackageError("metadata.gaussianReference.variance must be > 0")
    _number("metadata.gaussianReference.logSnrLoc", ref["logSnrLoc"])
    if _number("metadata.gaussianReference.logSnrScale", ref["logSnrScale"]) <= 0:
        raise WebPackageError("metadata.gaussianReference.logSnrScale must be > 0")

    if not isinstance(meta["gallery"], list):
        raise WebPackageError("metadata.gallery must be a list")
    for k, item in enumerate(meta["gallery"]):
        where = f"metadata.gallery[{k}]"
        _keys(where, item, GALLERY_KEYS)
        file = _string(f"{where}.file", item["file"])
        _string(f"{where}.label", item["label"])
        if file.startswith("/") or ".." in Path(file).parts or not file.endswith(".png"):
            raise WebPackageError(f"{where}.file must be a relative .png path inside the package, got {file!r}")
        if package_dir is not None and not (package_dir / file).is_file():
            raise WebPackageError(f"{where}.file {file!r} does not exist in {package_dir}")

    prov = _keys("metadata.provenance", meta["provenance"], PROVENANCE_KEYS, PROVENANCE_OPTIONAL_KEYS)
    if prov["source"] not in SOURCES:
        raise WebPackageError(f"metadata.provenance.source must be one of {', '.join(SOURCES)}, got {prov['source']!r}")
    for key in ("dataset", "hardware", "createdAt", "notes"):
        _string(f"metadata.provenance.{key}", prov[key])
    for key in ("objective", "metrics"):
        if not isinstance(prov[key], dict):
            raise WebPackageError(f"metadata.provenance.{key} must be an object")
    _integer("metadata.provenance.steps", prov["steps"])
    _integer("metadata.provenance.batchSize", prov["batchSize"])
    if _number("metadata.provenance.wallTimeSeconds", prov["wallTimeSeconds"]) < 0:
        raise WebPackageError("metadata.provenance.wallTimeSeconds must be >= 0")
    if not isinstance(prov["ema"], bool):
        raise WebPackageError("metadata.provenance.ema must be true or false")
    if "data" in prov:
        data = _keys("metadata.provenance.data", prov["data"], DATA_KEYS)
        _integer("metadata.provenance.data.seed", data["seed"])
        _integer("metadata.provenance.data.size", data["size"], minimum=1)
    if "student" in meta:
        _validate_student(meta["student"], meta["schedule"]["timesteps"])
    return meta


def _validate_student(student: Any, timesteps: int) -> None:
    where = "metadata.student"
    _keys(where, student, STUDENT_KEYS)
    if student["parameterisation"] not in PARAMETERISATIONS:
        raise WebPackageError(f"{where}.parameterisation must be one of {', '.join(PARAMETERISATIONS)}, "
                              f"got {student['parameterisation']!r}")
    plan = student["plan"]
    if (not isinstance(plan, list) or not 1 <= len(plan) <= STUDENT_MAX_CALLS
            or any(isinstance(t, bool) or not isinstance(t, int) for t in plan)):
        raise WebPackageError(f"{where}.plan must be a list of 1 to {STUDENT_MAX_CALLS} integer timesteps, got {plan!r}")
    if plan[0] != timesteps - 1 or plan[-1] < 0 or any(b >= a for a, b in zip(plan, plan[1:])):
        raise WebPackageError(f"{where}.plan must decrease strictly from T - 1 = {timesteps - 1} and stay >= 0, "
                              f"got {plan}")
    _integer(f"{where}.teacherSteps", student["teacherSteps"], minimum=1)
    for key in ("training", "fidelity"):
        if not isinstance(student[key], dict):
            raise WebPackageError(f"{where}.{key} must be an object")


# ---------------------------------------------------------------------------------------------------------------
# Weights

def check_weight_names(weights: Mapping[str, Tuple[int, ...]], architecture: Dict, timesteps: int,
                       student: bool = False) -> None:
    """Refuses any difference between the given name -> shape map and the architecture's expected parameters
    (plus, with ``student``, every backbone.* parameter again under ``student.``), listing every missing,
    unexpected and mis-shaped name in one message."""
    own = {n: s for n, s in weights.items() if not n.startswith(STUDENT_PREFIX)}
    problems = parameter_mismatches(own, architecture, timesteps)
    students = {n[len(STUDENT_PREFIX):]: s for n, s in weights.items() if n.startswith(STUDENT_PREFIX)}
    if student:
        expected = {n: s for n, s in expected_parameters(architecture, timesteps).items() if n.startswith("backbone.")}
        missing = [STUDENT_PREFIX + n for n in expected if n not in students]
        unexpected = [STUDENT_PREFIX + n for n in students if n not in expected]
        shapes = [f"{STUDENT_PREFIX}{n}: shape {list(students[n])}, expected {list(s)}" for n, s in expected.items()
                  if n in students and tuple(students[n]) != tuple(s)]
        problems += ([f"missing student weights: {', '.join(missing)}"] if missing else []) + (
            [f"unexpected student weights: {', '.join(unexpected)}"] if unexpected else []) + shapes
    elif students:
        problems.append(f"{len(students)} student.* weights but no metadata.student describing them")
    if problems:
        raise WebPackageError("; ".join(problems))


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


def format_json(value: Any, depth: int = 0) -> str:
    """JSON with one line per object field, but arrays of numbers and small flat objects (weight specs,
    gallery items) kept on one line: model.json stays readable and diffable instead of one number per line."""
    pad, inner = " " * depth, " " * (depth + 1)
    if isinstance(value, dict):
        flat = all(_is_scalar(v) or (isinstance(v, (list, dict)) and all(_is_scalar(x) for x in (
            v.values() if isinstance(v, dict) else v))) for v in value.values())
        if flat and depth > 0 and len(value) <= 6 and not any(isinstance(v, list) and len(v) > 8 for v in value.values()):
            return json.dumps(value)
        if not value:
            return "{}"
        fields = [f"{inner}{json.dumps(k)}: {format_json(v, depth + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(fields) + "\n" + pad + "}"
    if isinstance(value, list):
        if all(_is_scalar(v) for v in value):
            return json.dumps(value)
        items = [inner + format_json(v, depth + 1) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    return json.dumps(value)


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def write_web_package(out_dir: str | Path, weights: Mapping[str, np.ndarray], metadata: Dict[str, Any],
                      float16: bool = False) -> Path:
    """Writes weights (state_dict order, PyTorch shapes) and metadata as a package in ``out_dir``.

    Gallery files named in the metadata must already be in ``out_dir``. Old shards and the old manifest are
    removed first; shards are written next and ``model.json`` last. Returns the manifest path.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    meta = validate_metadata(metadata, out)
    arrays: "OrderedDict[str, np.ndarray]" = OrderedDict()
    for name, value in weights.items():
        array = np.asarray(value)
        if array.dtype.kind != "f":
            raise WebPackageError(f"weight {name} has dtype {array.dtype}; only floating-point weights are stored")
        if not np.all(np.isfinite(array)):
            raise WebPackageError(f"weight {name} has non-finite values")
        arrays[name] = array
    check_weight_names({n: a.shape for n, a in arrays.items()}, meta["architecture"], meta["schedule"]["timesteps"],
                       student="student" in meta)

    # Group 1 holds the model, group 2 the student (when there is one), so a reader can skip the student's shards.
    members = [[n for n in arrays if not n.startswith(STUDENT_PREFIX)], [n for n in arrays if n.startswith(STUDENT_PREFIX)]]
    groups: List[Tuple[List[str], List[Dict[str, Any]], bytes]] = []
    for g, names in enumerate(m for m in members if m):
        specs: List[Dict[str, Any]] = []
        chunks: List[bytes] = []
        for name in names:
            array = arrays[name]
            spec: Dict[str, Any] = {"name": name, "shape": [int(d) for d in array.shape], "dtype": "float32"}
            # The sinusoid table feeds every time embedding; half precision would shift t by visible amounts.
            if float16 and not name.endswith(TIME_TABLE_KEY):
                half = array.astype("<f2")
                if not np.all(np.isfinite(half)):
                    raise WebPackageError(f"weight {name} overflows float16")
                spec["quantization"] = {"dtype": "float16"}
                chunks.append(half.tobytes(order="C"))
            else:
                chunks.append(array.astype("<f4").tobytes(order="C"))
            specs.append(spec)
        blob = b"".join(chunks)
        count = max(1, math.ceil(len(blob) / SHARD_BYTES))
        groups.append(([f"group{g + 1}-shard{m + 1}of{count}.bin" for m in range(count)], specs, blob))

    manifest_path = out / MANIFEST_NAME
    if manifest_path.exists():
        manifest_path.unlink()
    for stale in out.iterdir():
        if SHARD_PATTERN.match(stale.name):
            stale.unlink()
    for paths, _, blob in groups:
        for m, shard in enumerate(paths):
            _atomic_write(out / shard, blob[m * SHARD_BYTES:(m + 1) * SHARD_BYTES])
    document = {
        "format": FORMAT,
        "formatVersion": FORMAT_VERSION,
        "weightsManifest": [{"paths": paths, "weights": specs} for paths, specs, _ in groups],
        "metadata": meta,
    }
    _atomic_write(manifest_path, (format_json(document) + "\n").encode("utf-8"))
    return manifest_path


def read_web_package(package_dir: str | Path) -> Tuple["OrderedDict[str, np.ndarray]", Dict[str, Any]]:
    """Reads and strictly validates a package: (name -> float32 array in PyTorch shape, metadata)."""
    root = Path(package_dir)
    manifest_path = root / MANIFEST_NAME
    if not manifest_path.is_file():
        raise WebPackageError(f"{manifest_path} not found")
    try:
        document = json.loads(manifest_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise WebPackageError(f"{manifest_path} is not valid JSON: {err}") from None
    _keys(str(manifest_path), document, ("format", "formatVersion", "weightsManifest", "metadata"))
    if document["format"] != FORMAT:
        raise WebPackageError(f"{manifest_path}: format must be {FORMAT!r}, got {document['format']!r}")
    if document["formatVersion"] != FORMAT_VERSION:
        raise WebPackageError(
            f"{manifest_path}: formatVersion {document['formatVersion']!r} is not supported (this reader knows {FORMAT_VERSION})")
    meta = validate_metadata(document["metadata"], root)
    groups = document["weightsManifest"]
    if not isinstance(groups, list) or not groups:
        raise WebPackageError(f"{manifest_path}: weightsManifest must be a non-empty list of groups")

    weights: "OrderedDict[str, np.ndarray]" = OrderedDict()
    duplicates: List[str] = []
    for g, group in enumerate(groups):
        where = f"weightsManifest[{g}]"
        _keys(where, group, ("paths", "weights"))
        paths = group["paths"]
        if not isinstance(paths, list) or not paths:
            raise WebPackageError(f"{where}.paths must be a non-empty list")
        for m, shard in enumerate(paths):
            expected_name = f"group{g + 1}-shard{m + 1}of{len(paths)}.bin"
            if shard != expected_name:
                raise WebPackageError(f"{where}.paths[{m}] must be {expected_name!r}, got {shard!r}")
            size = (root / shard).stat().st_size if (root / shard).is_file() else None
            if size is None:
                raise WebPackageError(f"shard {shard} listed in the manifest does not exist in {root}")
            if size > SHARD_BYTES:
                raise WebPackageError(f"shard {shard} has {size} bytes; shards are at most {SHARD_BYTES}")
        blob = b"".join((root / shard).read_bytes() for shard in paths)
        if not isinstance(group["weights"], list):
            raise WebPackageError(f"{where}.weights must be a list")
        offset = 0
        for w, spec in enumerate(group["weights"]):
            spec_where = f"{where}.weights[{w}]"
            if not isinstance(spec, dict) or not {"name", "shape", "dtype"} <= set(spec) or not set(spec) <= {
                    "name", "shape", "dtype", "quantization"}:
                raise WebPackageError(f"{spec_where} must have name, shape, dtype and optionally quantization")
            name = _string(f"{spec_where}.name", spec["name"])
            shape = spec["shape"]
            if not isinstance(shape, list) or any(isinstance(d, bool) or not isinstance(d, int) or d < 0 for d in shape):
                raise WebPackageError(f"weight {name}: shape must be a list of non-negative integers, got {shape!r}")
            if spec["dtype"] != "float32":
                raise WebPackageError(f"weight {name}: dtype must be float32, got {spec['dtype']!r}")
            quantization = spec.get("quantization")
            if quantization is None:
                stored = np.dtype("<f4")
            elif quantization == {"dtype": "float16"}:
                stored = np.dtype("<f2")
            else:
                raise WebPackageError(f"weight {name}: quantization must be absent or {{\"dtype\": \"float16\"}}, got {quantization!r}")
            count = int(np.prod(shape)) if shape else 1
            nbytes = count * stored.itemsize
            if offset + nbytes > len(blob):
                raise WebPackageError(
                    f"weight {name}: needs bytes {offset}..{offset + nbytes} but the shards of group {g + 1} hold {len(blob)}")
            values = np.frombuffer(blob, dtype=stored, count=count, offset=offset).astype(np.float32).reshape(shape)
            offset += nbytes
            if name in weights:
                duplicates.append(name)
            if not np.all(np.isfinite(values)):
                raise WebPackageError(f"weight {name} has non-finite values")
            weights[name] = values
        if offset != len(blob):
            raise WebPackageError(
                f"{where}: the weights use {offset} bytes but the shards hold {len(blob)}")
    if duplicates:
        raise WebPackageError(f"duplicate weight names: {', '.join(duplicates)}")
    check_weight_names({n: a.shape for n, a in weights.items()}, meta["architecture"], meta["schedule"]["timesteps"],
                       student="student" in meta)
    return weights, meta


def load_web_package(package_dir: str | Path, device: str = "cpu"):
    """(InfoDiff in eval mode, float32, on ``device``, holding the package's weights; validated metadata)."""
    model, meta, _ = load_web_package_with_student(package_dir, device)
    return model, meta


def load_web_package_with_student(package_dir: str | Path, device: str = "cpu"):
    """(InfoDiff, metadata, the student's denoiser or None), all in eval mode on ``device``."""
    weights, meta = read_web_package(package_dir)
    model = InfoDiff(meta["architecture"], meta["schedule"]["timesteps"])
    tensors = {name: torch.from_numpy(np.array(a)) for name, a in weights.items()}
    model.load_state_dict({n: t for n, t in tensors.items() if not n.startswith(STUDENT_PREFIX)}, strict=True)
    student = None
    if "student" in meta:
        student = AuxiliaryUNet(model.architecture, model.timesteps)
        prefix = STUDENT_PREFIX + "backbone."
        student.load_state_dict({n[len(prefix):]: t for n, t in tensors.items() if n.startswith(prefix)}, strict=True)
        student = student.to(device).eval()
    return model.to(device).eval(), meta, student


def student_weight_arrays(student: torch.nn.Module) -> "OrderedDict[str, np.ndarray]":
    """A student denoiser's weights under their package names (student.backbone.*)."""
    return OrderedDict((f"{STUDENT_PREFIX}backbone.{name}", array)
                       for name, array in state_dict_arrays(student.state_dict()).items())


def state_dict_arrays(state_dict: Mapping[str, Any]) -> "OrderedDict[str, np.ndarray]":
    """A torch state_dict as float32 numpy arrays (detached, on the CPU), order kept."""
    return OrderedDict((name, tensor.detach().cpu().float().numpy()) for name, tensor in state_dict.items())
