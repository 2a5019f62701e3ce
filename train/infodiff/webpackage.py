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
from typing import Any, Dict, List, Mapping, NoReturn, Tuple

import numpy as np
import torch

from .config import ConfigError, resolve_architecture, resolve_schedule
from .model import TIME_TABLE_KEY, AuxiliaryUNet, InfoDiff, expected_parameters, parameter_mismatches
from .schema_check import SchemaViolation, check_schema, js_number, load_model_schema, show

FORMAT = "infodiffusion-explorer/model"
FORMAT_VERSION = 1
SHARD_BYTES = 4 * 1024 * 1024
MANIFEST_NAME = "model.json"
SHARD_PATTERN = re.compile(r"^group(\d+)-shard(\d+)of(\d+)\.bin$")
ID_PATTERN = re.compile(r"^[a-z0-9-]+$")
UNIT_NORM_TOLERANCE = 1e-3

STUDENT_PREFIX = "student."  # the student's weights: every backbone.* name again under this prefix
WEIGHT_SUM_TOLERANCE = 1e-3


class WebPackageError(ValueError):
    """A package that does not match docs/model-format.md; the message names the file, field or weight."""


# ---------------------------------------------------------------------------------------------------------------
# Metadata validation: the structure from src/model/contract/model.schema.json (shared with the web runtime), then
# the rules a schema cannot say, in the order and words of src/model/modelJson.ts.

MODEL_SCHEMA = load_model_schema()
METADATA_SCHEMA = MODEL_SCHEMA["properties"]["metadata"]


def _fail(path: str, problem: str) -> NoReturn:
    raise WebPackageError(f"model.json: {path} {problem}")


def _check_structure(value: Any, schema: Dict[str, Any], path: str) -> None:
    try:
        check_schema(value, schema, path)
    except SchemaViolation as err:
        raise WebPackageError(f"model.json: {err}") from None


def _length(values: List[Any], path: str, expected: int, what: str) -> None:
    if len(values) != expected:
        _fail(path, f"must have {expected} entries ({what}), got {len(values)}")


def _check_fitted(fitted: Dict[str, Any], dim: int) -> None:
    """metadata.latent.fitted: a Gaussian mixture (infodiff.latent_prior) whose factors are valid Cholesky ones."""
    where = "metadata.latent.fitted"
    weights = fitted["weights"]
    total = 0.0
    for w in weights:  # left to right, as the web reader sums
        total += w
    if abs(total - 1) > WEIGHT_SUM_TOLERANCE:
        _fail(f"{where}.weights", f"must be positive and sum to 1, sum to {js_number(total)}")
    for key, length, what in (("means", dim, "latentDim"),
                              ("scaleTril", dim * (dim + 1) // 2, "latentDim (latentDim + 1) / 2")):
        _length(fitted[key], f"{where}.{key}", len(weights), "one per component")
        for k, row in enumerate(fitted[key]):
            _length(row, f"{where}.{key}[{k}]", length, what)
    for k, row in enumerate(fitted["scaleTril"]):
        for i in range(dim):
            value = row[(i + 1) * (i + 2) // 2 - 1]  # L[i, i] in the packed row
            if not value > 0:
                _fail(f"{where}.scaleTril[{k}]",
                      f"must have a positive diagonal (a Cholesky factor); L[{i}][{i}] is {js_number(value)}")


def _check_principal(principal: Dict[str, Any], dim: int) -> None:
    """metadata.latent.principal (infodiff.principal): at most latentDim unit rows of length latentDim, one variance
    each, non-increasing, and no more in all than the total (rounded to 7 digits on export, hence the tolerances)."""
    where = "metadata.latent.principal"
    components, variance = principal["components"], principal["variance"]
    if len(components) > dim:
        _fail(f"{where}.components", f"must have at most {dim} rows (latentDim), got {len(components)}")
    for k, row in enumerate(components):
        _length(row, f"{where}.components[{k}]", dim, "latentDim")
        norm = math.hypot(*row)
        if abs(norm - 1) > UNIT_NORM_TOLERANCE:
            _fail(f"{where}.components[{k}]", f"must have unit norm, got norm {js_number(norm)}")
    _length(variance, f"{where}.variance", len(components), "one per component")
    for k in range(1, len(variance)):
        if variance[k] > variance[k - 1] * (1 + 1e-6):
            _fail(f"{where}.variance", f"must be non-increasing, but variance[{k}] = {js_number(variance[k])} > "
                                       f"variance[{k - 1}] = {js_number(variance[k - 1])}")
    total = 0.0
    for v in variance:  # left to right, as the web reader sums
        total += v
    if total > principal["totalVariance"] * (1 + 1e-3):
        _fail(f"{where}.totalVariance",
              f"must be at least the sum of variance ({js_number(total)}), got {js_number(principal['totalVariance'])}")


def _validate_fitted(fitted: Any, dim: int) -> None:
    """metadata.latent.fitted alone, schema and rules: what infodiff.latent_prior's fit must pass."""
    _check_structure(fitted, METADATA_SCHEMA["properties"]["latent"]["properties"]["fitted"], "metadata.latent.fitted")
    _check_fitted(fitted, dim)


def _metadata_rules(meta: Dict[str, Any]) -> None:
    """The rules of a schema-valid metadata block (architecture and schedule resolved) that a schema cannot say."""
    arch, timesteps = meta["architecture"], meta["schedule"]["timesteps"]
    dim = arch["latentDim"]
    pixels = arch["imageSize"] ** 2 * arch["imageChannels"]

    pre = meta["preprocessing"]
    if pre["imageSize"] != arch["imageSize"]:
        _fail("metadata.preprocessing.imageSize",
              f"must equal architecture.imageSize {arch['imageSize']}, got {show(pre['imageSize'])}")
    if pre["channels"] != arch["imageChannels"]:
        _fail("metadata.preprocessing.channels",
              f"must equal architecture.imageChannels {arch['imageChannels']}, got {show(pre['channels'])}")
    low, high = pre["valueRange"]
    if not low < high:
        _fail("metadata.preprocessing.valueRange", f"must be increasing, got [{js_number(low)}, {js_number(high)}]")

    latent = meta["latent"]
    for key in ("mean", "std", "min", "max"):
        _length(latent[key], f"metadata.latent.{key}", dim, "latentDim")
    if latent["prior"] == "10mix" and dim % 2 != 0:
        _fail("metadata.latent.prior", f"'10mix' draws pairs of dimensions, but latentDim {dim} is odd")
    for i, (lo, hi) in enumerate(zip(latent["min"], latent["max"])):
        if lo > hi:
            _fail(f"metadata.latent.min[{i}]", f"must be <= max[{i}] ({js_number(hi)}), got {js_number(lo)}")
    if "fitted" in latent:
        _check_fitted(latent["fitted"], dim)
    if "principal" in latent:
        _check_principal(latent["principal"], dim)

    _length(meta["dimensionNames"], "metadata.dimensionNames", dim, "latentDim")
    for k, direction in enumerate(meta["attributeDirections"]):
        where = f"metadata.attributeDirections[{k}].vector"
        _length(direction["vector"], where, dim, "latentDim")
        norm = math.hypot(*direction["vector"])
        if abs(norm - 1) > UNIT_NORM_TOLERANCE:
            _fail(where, f"must have unit norm, got norm {js_number(norm)}")
    for key in ("mean", "logEigenvalues"):
        _length(meta["gaussianReference"][key], f"metadata.gaussianReference.{key}", pixels, "H*W*C")

    if meta.get("baselineOf") == meta["id"]:
        _fail("metadata.baselineOf", f"must name another model than the package itself, got {show(meta['id'])}")

    if "student" in meta:
        # The plan must be one a student can decode along: strictly decreasing timesteps that start at T - 1, where
        # x_T sits (its length, 1..8 calls, is the schema's).
        plan = meta["student"]["plan"]
        if plan[0] != timesteps - 1:
            _fail("metadata.student.plan[0]", f"must be T - 1 = {timesteps - 1} (where x_T sits), got {js_number(plan[0])}")
        for i in range(1, len(plan)):
            if plan[i] >= plan[i - 1]:
                _fail("metadata.student.plan", f"must be strictly decreasing, but plan[{i}] = {js_number(plan[i])} >= "
                                               f"plan[{i - 1}] = {js_number(plan[i - 1])}")


def validate_metadata(metadata: Any, package_dir: Path | None = None) -> Dict[str, Any]:
    """Checks a metadata block against docs/model-format.md; returns it with architecture/schedule resolved.

    When ``package_dir`` is given, gallery files must exist inside it.
    """
    _check_structure(metadata, METADATA_SCHEMA, "metadata")
    meta = dict(metadata)
    try:
        meta["architecture"] = resolve_architecture(meta["architecture"])
        meta["schedule"] = resolve_schedule(meta["schedule"])
    except ConfigError as err:
        raise WebPackageError(f"model.json: metadata.{err}") from None
    _metadata_rules(meta)
    if package_dir is not None:
        for k, item in enumerate(meta["gallery"]):
            if not (package_dir / item["file"]).is_file():
                raise WebPackageError(f"metadata.gallery[{k}].file {item['file']!r} does not exist in {package_dir}")
    return meta


def validate_model_json(document: Any, package_dir: Path | None = None) -> Dict[str, Any]:
    """Checks a parsed model.json as the web reader's ``parseModelJson`` does, with the same messages; returns
    the validated metadata (architecture and schedule resolved). Shard bytes are checked by the reader."""
    if not isinstance(document, dict):
        _fail("(root)", f"must be an object, got {show(document)}")
    if not _same_json(document.get("format"), FORMAT):
        _fail("format", f"must be {json.dumps(FORMAT)}, got {show(document.get('format'))}")
    if not _same_json(document.get("formatVersion"), FORMAT_VERSION):
        _fail("formatVersion", f"{show(document.get('formatVersion'))} is not supported "
                               f"(this reader knows version {FORMAT_VERSION})")
    _check_structure(document, MODEL_SCHEMA, "(root)")
    meta = validate_metadata(document["metadata"], package_dir)
    groups = document["weightsManifest"]
    for g, group in enumerate(groups):
        for m, shard in enumerate(group["paths"]):
            expected = f"group{g + 1}-shard{m + 1}of{len(group['paths'])}.bin"
            if shard != expected:
                _fail(f"weightsManifest[{g}].paths[{m}]", f"must be {json.dumps(expected)}, got {show(shard)}")
    seen: set = set()
    duplicates: List[str] = []
    for group in groups:
        for spec in group["weights"]:
            if spec["name"] in seen and spec["name"] not in duplicates:
                duplicates.append(spec["name"])
            seen.add(spec["name"])
    if duplicates:
        _fail("weightsManifest", f"lists weight(s) more than once: {', '.join(duplicates)}")
    return meta


def _same_json(a: Any, b: Any) -> bool:
    return not isinstance(a, bool) and a == b


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
    meta = validate_model_json(document, root)

    weights: "OrderedDict[str, np.ndarray]" = OrderedDict()
    for g, group in enumerate(document["weightsManifest"]):
        for shard in group["paths"]:
            size = (root / shard).stat().st_size if (root / shard).is_file() else None
            if size is None:
                raise WebPackageError(f"shard {shard} listed in the manifest does not exist in {root}")
            if size > SHARD_BYTES:
                raise WebPackageError(f"shard {shard} has {size} bytes; shards are at most {SHARD_BYTES}")
        blob = b"".join((root / shard).read_bytes() for shard in group["paths"])
        offset = 0
        for spec in group["weights"]:
            name, shape = spec["name"], [int(d) for d in spec["shape"]]
            stored = np.dtype("<f2") if "quantization" in spec else np.dtype("<f4")
            count = int(np.prod(shape)) if shape else 1
            nbytes = count * stored.itemsize
            if offset + nbytes > len(blob):
                raise WebPackageError(
                    f"weight {name}: needs bytes {offset}..{offset + nbytes} but the shards of group {g + 1} hold {len(blob)}")
            values = np.frombuffer(blob, dtype=stored, count=count, offset=offset).astype(np.float32).reshape(shape)
            offset += nbytes
            if not np.all(np.isfinite(values)):
                raise WebPackageError(f"weight {name} has non-finite values")
            weights[name] = values
        if offset != len(blob):
            raise WebPackageError(
                f"weightsManifest[{g}]: the weights use {offset} bytes but the shards hold {len(blob)}")
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
