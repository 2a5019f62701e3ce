"""A small JSON Schema checker: the subset ``src/model/contract/model.schema.json`` uses.

Keywords: type, const, enum, pattern (with ``description`` as the wording of a failed pattern), minimum,
exclusiveMinimum, minItems, maxItems, items, required, additionalProperties false, properties; any other keyword is
an annotation and ignored. Its twin ``src/model/schemaCheck.ts`` walks the schema in the same order and words every
problem the same way, so both readers of model.json refuse a file with the same message (the cases of
``src/model/contract/invalid/`` check this in both test suites).

Order at each value: type, const, enum, pattern, range, array length, missing fields, unknown fields, then the
fields in the schema's order, or the items in turn. The first problem is raised; nothing is collected.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any, Dict

import numpy as np

CONTRACT_DIR = Path(__file__).resolve().parents[2] / "src" / "model" / "contract"
MODEL_SCHEMA_PATH = CONTRACT_DIR / "model.schema.json"


class SchemaViolation(ValueError):
    """A value that breaks the schema; the message starts with the value's path (``metadata.latent.std[2]``)."""


def load_model_schema() -> Dict[str, Any]:
    """model.json's schema, shared with the web runtime."""
    return json.loads(MODEL_SCHEMA_PATH.read_text(encoding="utf-8"))


def js_number(x: float) -> str:
    """A number as JavaScript's String(x) writes it (1 for 1.0, 1e-7, 0.00001), so messages match the web's."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return str(x)
    if isinstance(x, int):
        return str(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x.is_integer() and abs(x) < 1e21:
        return str(int(x))
    if 1e-7 <= abs(x) < 1e21:
        return np.format_float_positional(x, trim="-")
    mantissa, exponent = repr(x).split("e")
    return f"{mantissa}e{'-' if exponent.startswith('-') else '+'}{int(exponent.lstrip('+-'))}"


def _js_value(value: Any) -> Any:
    if isinstance(value, float) and math.isfinite(value) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    if isinstance(value, list):
        return [_js_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _js_value(v) for k, v in value.items()}
    return value


def show(value: Any) -> str:
    """A value as messages show it: compact JSON as JavaScript writes it, cut at 60 characters."""
    try:
        text = json.dumps(_js_value(value), separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        text = js_number(value) if isinstance(value, float) else repr(value)
    return f"{text[:57]}..." if len(text) > 60 else text


_TYPE_WORDS = {"object": "an object", "array": "an array", "string": "a string", "boolean": "true or false",
               "number": "a finite number", "integer": "an integer", "null": "null"}


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float))


def _is_type(value: Any, kind: str) -> bool:
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "number":
        return _is_number(value) and math.isfinite(value)
    if kind == "integer":
        return _is_number(value) and math.isfinite(value) and float(value).is_integer()
    if kind == "null":
        return value is None
    raise ValueError(f"the schema names an unknown type {kind!r}")


def _same(a: Any, b: Any) -> bool:
    """Equality of JSON values, for const and enum (true is not 1, 1.0 is 1)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, dict)) or isinstance(b, (list, dict)):
        return False
    return a == b


_ANCHORS = re.compile(r"^\^|\$$")  # a pattern's anchors, left out where a message quotes it


def _entries(n: int) -> str:
    return f"{n} {'entry' if n == 1 else 'entries'}"


def check_schema(value: Any, schema: Dict[str, Any], path: str) -> None:
    """Raises a SchemaViolation naming ``path`` and the first rule of ``schema`` that ``value`` breaks."""
    def fail(problem: str):
        raise SchemaViolation(f"{path} {problem}")

    minimum = schema.get("minimum")
    if "type" in schema:
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is_type(value, k) and not (k == "integer" and minimum is not None and value < minimum) for k in kinds):
            words = [f"an integer >= {js_number(minimum)}" if k == "integer" and minimum is not None else _TYPE_WORDS[k]
                     for k in kinds]
            fail(f"must be {' or '.join(words)}, got {show(value)}")
    if "const" in schema and not _same(value, schema["const"]):
        fail(f"must be {json.dumps(schema['const'])}, got {show(value)}")
    if "enum" in schema and not any(_same(value, e) for e in schema["enum"]):
        fail(f"must be one of {', '.join(json.dumps(e) for e in schema['enum'])}, got {show(value)}")
    if "pattern" in schema and isinstance(value, str) and not re.search(schema["pattern"], value):
        if "description" in schema:
            fail(f"must be {schema['description']}, got {show(value)}")
        fail(f"must match {_ANCHORS.sub('', schema['pattern'])}, got {show(value)}")
    if _is_number(value):
        if minimum is not None and value < minimum:
            fail(f"must be >= {js_number(minimum)}, got {show(value)}")
        if "exclusiveMinimum" in schema and not value > schema["exclusiveMinimum"]:
            fail(f"must be > {js_number(schema['exclusiveMinimum'])}, got {show(value)}")
    if isinstance(value, list):
        low, high, n = schema.get("minItems"), schema.get("maxItems"), len(value)
        if (low is not None and n < low) or (high is not None and n > high):
            if low is not None and high is not None:
                fail(f"must have {_entries(low)}, got {n}" if low == high else f"must have {low} to {high} entries, got {n}")
            fail(f"must have at least {_entries(low)}, got {n}" if low is not None else f"must have at most {_entries(high)}, got {n}")
        if "items" in schema:
            for i, item in enumerate(value):
                check_schema(item, schema["items"], f"{path}[{i}]")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        missing = [k for k in schema.get("required", []) if k not in value]
        if missing:
            fail(f"is missing field(s) {', '.join(missing)}")
        if schema.get("additionalProperties") is False:
            unknown = [k for k in value if k not in properties]
            if unknown:
                fail(f"has unknown field(s) {', '.join(unknown)}")
        for key, field in properties.items():
            if key in value:
                check_schema(value[key], field, key if path == "(root)" else f"{path}.{key}")
