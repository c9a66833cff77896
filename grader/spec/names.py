"""Name spelling: the other spellings a name answers to, ``dA/dB`` parsing, "did you mean"."""

from __future__ import annotations

import difflib
import re
from typing import Any

from .model import Ref


def did_you_mean(word: str, choices: Any) -> str:
    match = difflib.get_close_matches(word, [str(c) for c in choices], n=1, cutoff=0.5)
    return f" (did you mean {match[0]!r}?)" if match else ""



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
