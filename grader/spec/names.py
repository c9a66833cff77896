"""Name spelling: the other spellings a name answers to, ``dA/dB`` parsing, "did you mean"."""

from __future__ import annotations

import difflib
import re
from typing import Any

from .model import Ref


def _close(word: str, choices: list[str]) -> str | None:
    """The closest choice: the same word in another case first, then by spelling."""
    folded = [c for c in choices if c.casefold() == word.casefold()]
    if folded:
        return folded[0]
    spelled = [c for c in choices if normalise_name(c).casefold() == normalise_name(word).casefold()]
    if spelled:
        return spelled[0]
    match = difflib.get_close_matches(word, choices, n=1, cutoff=0.5)
    return match[0] if match else None


def did_you_mean(word: str, choices: Any) -> str:
    match = _close(word, [str(c) for c in choices])
    return f" (did you mean {match!r}?)" if match else ""


_LAYER_QUANTITY = re.compile(r"(?:(W|B|Z|A|delta|δ)\(?|([wbzax])\()(\d+)\)?")
_KIND_OF_LETTER = {"w": "W", "b": "b", "z": "z", "delta": "z", "δ": "z", "a": "a", "x": "a"}
_PLURAL = {"param": "parameters", "a": "neurons", "z": "pre-activations", "W": "weight matrices",
           "b": "bias vectors", "Z": "pre-activation vectors", "A": "layer output vectors"}
MAX_LISTED = 12


def suggest(word: str, names: dict[str, Ref], choices: Any,
            layer_quantities: dict[tuple[str, int], str] | None = None) -> str:
    """A hint for an unknown name: the same name in another case or spelling; the name a layer
    gives the same quantity (``dE/dW(1)`` where layer 1's matrix is ``W1``); or, for a name
    such as ``v99``, the names of that kind that do exist (``v11, v12, v21, v22``)."""
    choices = [str(c) for c in choices]
    m = _LAYER_QUANTITY.fullmatch(normalise_name(word))
    if m and layer_quantities:
        kind = _KIND_OF_LETTER[(m[1] or m[2]).lower()]
        named = layer_quantities.get((kind, int(m[3])))
        if named is not None and named != word:
            return f" (did you mean {named!r}?)"
    close = _close(word, choices)
    hint = f" (did you mean {close!r}?)" if close else ""
    prefix = re.match(r"([^\W\d_]+)\d", word)
    if prefix and (close is None or close.casefold() != word.casefold()):
        family = [n for n, r in names.items() if re.fullmatch(re.escape(prefix[1]) + r"\d+", n) and n != word]
        kinds = {names[n].kind for n in family}
        if family and len(kinds) == 1:
            listed = ", ".join(family[:MAX_LISTED]) + (", …" if len(family) > MAX_LISTED else "")
            hint += f"; the {_PLURAL[kinds.pop()]} named {prefix[1]}… are {listed}"
    return hint



# ---------------------------------------------------------------------------- name spelling
_SUB = str.maketrans("₀₁₂₃₄₅₆₇₈₉⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾₍₎", "01234567890123456789()()")


def normalise_name(name: str) -> str:
    """Other spellings of a name: ``w₆``, ``w_6``, ``w_{6}``, ``W^{(2)}``, ``E_total``."""
    s = name.strip().strip("$").translate(_SUB)
    s = s.replace("\\", "")
    s = re.sub(r"\^\{?\(([^)]*)\)\}?", r"(\1)", s)  # W^{(2)} -> W(2)
    s = re.sub(r"_\{([^}]*)\}", r"\1", s)  # w_{6} -> w6
    s = re.sub(r"_(?=[0-9(])", "", s)  # w_6 -> w6
    if s in ("E_total", "Etotal", "E_{total}", "Etot"):
        s = "E"
    return s


def lookup(names: dict[str, Ref], name: str) -> Ref | None:
    """Exact name first; only on a miss the other spellings."""
    if name in names:
        return names[name]
    wanted = normalise_name(name)
    if wanted in names:  # w₆ is w6 even where another name (w_6) also spells w6
        return names[wanted]
    hits = [ref for key, ref in names.items() if normalise_name(key) == wanted]
    return hits[0] if len(hits) == 1 else None


def parse_ask(ask: str) -> tuple[str | None, str]:
    """``"∂E/∂w10"`` -> ``("E", "w10")``; ``"w9"`` -> ``(None, "w9")``."""
    text = ask.strip()
    if "/" not in text:
        return None, text
    top, _, bottom = text.partition("/")
    top, bottom = top.strip(), bottom.strip()
    parts = []
    for part in (top, bottom):
        for prefix in ("\\partial", "∂", "d"):
            if part.startswith(prefix) and len(part) > len(prefix):
                part = part[len(prefix):].strip()
                break
        else:
            raise ValueError(f"{ask!r} is not of the form dA/dB")
        parts.append(part)
    return parts[0], parts[1]
