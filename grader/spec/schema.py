"""Validation against the packaged JSON Schema: every violation, each with its JSON path."""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import jsonio
from ..errors import SpecError
from .names import did_you_mean

if TYPE_CHECKING:
    import jsonschema


def _fail(source: str, path: Any, message: str) -> SpecError:
    where = path if isinstance(path, str) else jsonio.json_path(path)
    return SpecError(f"{source}: {where}: {message}")



@functools.lru_cache(maxsize=1)
def _schema_text() -> str:
    # beside this package, as installed or in a checkout (importlib.resources would cost a
    # `grade FILE` about 10 ms of imports for the same file)
    return (Path(__file__).resolve().parents[1] / "schema" / "exercise.schema.json").read_text("utf-8")


@functools.lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    return json.loads(_schema_text())


@functools.lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft202012Validator:
    import jsonschema  # imported only when a spec is not known to be valid: it costs ~0.1 s

    return jsonschema.Draft202012Validator(schema())


def _best_match(errors: Any) -> Any:
    import jsonschema

    return jsonschema.exceptions.best_match(errors)


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
        best = _best_match(error.context)
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
            best = _best_match(error.context)
            if best is not None and len(best.absolute_path) > len(path):
                path = list(best.absolute_path)
        out.append((path, _fail(source, path, _describe(error))))
    return out


# Specs (their parsed content, with this schema) already found valid: a spec is validated once,
# not on every `grade FILE` nor for every student's variant. In memory, and as empty marker files
# in the user's cache folder (a marker only skips the check; nothing is read back from it).
_VALID: set[str] = set()


def _cache_folder() -> Path | None:
    from ..cachedir import cache_base

    return cache_base() / "valid-specs"


def _fingerprint(data: Any) -> str | None:
    try:
        text = json.dumps(data, sort_keys=True, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        return None
    h = hashlib.sha256(_schema_text().encode())
    h.update(b"\0" + text.encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def _known_valid(key: str) -> bool:
    if key in _VALID:
        return True
    folder = _cache_folder()
    if folder is not None and (folder / key).is_file():
        _VALID.add(key)
        return True
    return False


def _remember(key: str) -> None:
    _VALID.add(key)
    folder = _cache_folder()
    if folder is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        (folder / key).touch()
    except OSError:  # a read-only home: the in-memory set still serves this process
        pass


def validate(data: Any, source: str = "<spec>") -> list[SpecError]:
    """Every schema violation of ``data``, each naming ``source`` and the JSON path."""
    key = _fingerprint(data)
    if key is not None and _known_valid(key):
        return []
    errors = [error for _, error in located(data, source)]
    if not errors and key is not None:
        _remember(key)
    return errors
