"""Validation against the packaged JSON Schema: every violation, each with its JSON path."""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

import jsonschema

from .. import jsonio
from ..errors import SpecError
from .names import did_you_mean


def _fail(source: str, path: Any, message: str) -> SpecError:
    where = path if isinstance(path, str) else jsonio.json_path(path)
    return SpecError(f"{source}: {where}: {message}")



@functools.lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    text = resources.files("grader.schema").joinpath("exercise.schema.json").read_text("utf-8")
    return json.loads(text)


@functools.lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema())


def _schema_properties(error: jsonschema.ValidationError) -> list[str]:
    props = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
    return list(props)


def _describe(error: jsonschema.ValidationError) -> str:
    """A one-line message for a schema error, with the most specific cause of a ``oneOf``."""
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = _schema_properties(error)
        extra = [k for k in error.instance if k not in allowed]
        if extra:
            return f"unknown key {extra[0]!r}{did_you_mean(extra[0], allowed)}"
    if error.context:
        best = jsonschema.exceptions.best_match(error.context)
        if best is not None and best.validator not in ("oneOf", "anyOf"):
            if best.validator == "required":
                return best.message
            if best.validator == "type" and error.validator == "oneOf":
                return f"{_short(error.instance)} is not a valid value here"
            return _describe(best)
    if error.validator == "oneOf":
        return f"{_short(error.instance)} is not a valid value here"
    if error.validator == "enum" and isinstance(error.validator_value, list):
        valid = [str(v) for v in error.validator_value]
        hint = did_you_mean(error.instance, valid) if isinstance(error.instance, str) else ""
        return f"{_short(error.instance)} is not valid here{hint} (valid: {', '.join(valid)})"
    return error.message


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def located(data: Any, source: str = "<spec>") -> list[tuple[list[Any], SpecError]]:
    """Every schema violation of ``data`` with its JSON path as a list (``["questions", 3]``)."""
    errors = sorted(_validator().iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    out = []
    for error in errors:
        path = list(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            extra = [k for k in error.instance if k not in _schema_properties(error)]
            path += extra[:1]  # point at the unknown key itself
        if error.context and error.validator == "oneOf":
            best = jsonschema.exceptions.best_match(error.context)
            if best is not None and len(best.absolute_path) > len(path):
                path = list(best.absolute_path)
        out.append((path, _fail(source, path, _describe(error))))
    return out


def validate(data: Any, source: str = "<spec>") -> list[SpecError]:
    """Every schema violation of ``data``, each naming ``source`` and the JSON path."""
    return [error for _, error in located(data, source)]
