"""Leaf values of a pipeline spec: how each is read, and how it is written back.

Pure functions. Each ``as_*`` / ``parse_*`` takes what JSON or YAML produced and returns
the typed value, or raises ``ValueProblem`` whose text says what is allowed; the spec
reader puts the field path in front. Numbers may be written as strings wherever
Pachyderm's protobuf JSON accepted them (``"constant": "1"``).

- durations: Go form (``"300ms"``, ``"1.5s"``, ``"5m"``, ``"1h30m"``) or a number of
  seconds; returned as float seconds.
- quantities: Kubernetes form (``"64M"``, ``"1.2G"``, ``"512Mi"``, ``"1Gi"``, ``"1e9"``);
  returned as whole bytes, rounded up as Kubernetes does.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction


class ValueProblem(ValueError):
    """A value that does not fit its field. ``sub`` is a path below the field (``[2]``)."""

    def __init__(self, message: str, sub: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.sub = sub


def shown(value: object) -> str:
    """A value as the user wrote it, for messages: JSON where possible."""
    if isinstance(value, Mapping):
        return "an object" if value else "an empty object"
    if isinstance(value, Sequence) and not isinstance(value, str):
        return "a list" if value else "an empty list"
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def as_str(value: object) -> str:
    """A string. Whole numbers become their digits (YAML reads ``repo: 2020`` as a number)."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    hint = " (quote it)" if isinstance(value, (bool, float)) else ""
    raise ValueProblem(f"must be a string{hint}, got {shown(value)}")


_INTEGER = re.compile(r"\s*[-+]?[0-9]+\s*")


def as_int(value: object, minimum: int = 0) -> int:
    """A whole number ``>= minimum``: ``3``, ``3.0`` or ``"3"``."""
    number = value
    if isinstance(number, str) and _INTEGER.fullmatch(number):
        number = int(number)
    if isinstance(number, float) and number.is_integer():
        number = int(number)
    if isinstance(number, bool) or not isinstance(number, int) or number < minimum:
        raise ValueProblem(f"must be a whole number >= {minimum}, got {shown(value)}")
    return number


def as_float(value: object, minimum: float = 0.0) -> float:
    """A finite number ``>= minimum``: ``0.5`` or ``"0.5"``."""
    number: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            number = None
    if number is None or not math.isfinite(number) or number < minimum:
        raise ValueProblem(f"must be a number >= {minimum:g}, got {shown(value)}")
    return number


_TRUE = frozenset({"true", "yes", "on", "y", "1"})
_FALSE = frozenset({"false", "no", "off", "n", "0"})


def as_bool(value: object) -> bool:
    """``true`` / ``false``; the strings ``"true"``, ``"yes"``, ``"on"`` and their negations too."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueProblem(f"must be true or false, got {shown(value)}")


def as_choice(value: object, allowed: Sequence[str]) -> str:
    """One of ``allowed``."""
    if not isinstance(value, str) or value not in allowed:
        options = ", ".join(json.dumps(a) for a in allowed)
        raise ValueProblem(f"must be one of {options}, got {shown(value)}")
    return value


def as_str_list(value: object, example: str = '["a", "b"]') -> tuple[str, ...]:
    """A list of strings (whole numbers become their digits)."""
    if not isinstance(value, (list, tuple)):
        raise ValueProblem(f"must be a list of strings such as {example}, got {shown(value)}")
    out: list[str] = []
    for i, item in enumerate(value):
        try:
            out.append(as_str(item))
        except ValueProblem as exc:
            raise ValueProblem(exc.message, f"[{i}]") from None
    return tuple(out)


def as_int_list(value: object) -> tuple[int, ...]:
    """A list of whole numbers (numeric strings accepted)."""
    if not isinstance(value, (list, tuple)):
        raise ValueProblem(f"must be a list of whole numbers such as [1, 2], got {shown(value)}")
    out: list[int] = []
    for i, item in enumerate(value):
        try:
            out.append(as_int(item))
        except ValueProblem as exc:
            raise ValueProblem(exc.message, f"[{i}]") from None
    return tuple(out)


def as_env(value: object) -> dict[str, str]:
    """Environment variables: names kept exactly as written; numbers and booleans become text."""
    if not isinstance(value, Mapping):
        raise ValueProblem(f'must be an object of names to strings such as {{"MODE": "fast"}}, '
                           f"got {shown(value)}")
    out: dict[str, str] = {}
    for key, item in value.items():
        name = str(key)
        if not name or "=" in name or "\x00" in name:
            raise ValueProblem('a variable name must be non-empty, without "=" or NUL', f".{name}")
        if item is None:
            out[name] = ""
        elif isinstance(item, (str, int, float, bool)):
            out[name] = item if isinstance(item, str) else json.dumps(item)
        else:
            raise ValueProblem(f"must be a string, got {shown(item)}", f".{name}")
    return out


# Durations ---------------------------------------------------------------------------

_DURATION_UNITS = {
    "ns": Fraction(1, 10**9),
    "us": Fraction(1, 10**6),
    "µs": Fraction(1, 10**6),
    "μs": Fraction(1, 10**6),
    "ms": Fraction(1, 1000),
    "s": Fraction(1),
    "m": Fraction(60),
    "h": Fraction(3600),
}
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h)")
_DURATION = re.compile(rf"(?:{_DURATION_PART.pattern})+")
_PLAIN_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")
DURATION_HELP = 'not a duration ("30s", "5m", "1h30m", "300ms") or a number of seconds'


def parse_duration(value: object) -> float:
    """Seconds from a Go duration (``"1h30m"``, ``"300ms"``) or a number of seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if math.isfinite(value) and value >= 0:
            return float(value)
    elif isinstance(value, str):
        text = value.strip()
        if _PLAIN_NUMBER.fullmatch(text):
            return float(Fraction(text))
        if _DURATION.fullmatch(text):
            total = sum(
                (Fraction(num) * _DURATION_UNITS[unit] for num, unit in _DURATION_PART.findall(text)),
                Fraction(0),
            )
            return float(total)
    raise ValueProblem(f"{DURATION_HELP}, got {shown(value)}")


def format_duration(seconds: float) -> str:
    """The Go form of ``seconds``; ``parse_duration`` reads it back exactly."""
    if seconds.is_integer():
        whole = int(seconds)
        hours, rest = divmod(whole, 3600)
        minutes, secs = divmod(rest, 60)
        parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else "", f"{secs}s" if secs else ""]
        return "".join(parts) or "0s"
    return f"{Decimal(repr(seconds)):f}s"


# Kubernetes quantities ----------------------------------------------------------------

_SUFFIXES = {
    "": Fraction(1),
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 1000),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
    "Ki": Fraction(2**10),
    "Mi": Fraction(2**20),
    "Gi": Fraction(2**30),
    "Ti": Fraction(2**40),
    "Pi": Fraction(2**50),
    "Ei": Fraction(2**60),
}
_QUANTITY = re.compile(
    r"(?P<num>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:(?P<exp>[eE][-+]?[0-9]+)|(?P<suffix>[KMGTPE]i|[numkMGTPE]))?"
)
QUANTITY_HELP = 'not a quantity ("64M", "1.2G", "512Mi", "1Gi", or a number of bytes)'


def _quantity(value: object, help_text: str) -> Fraction:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if math.isfinite(value) and value >= 0:
            return Fraction(value)
    elif isinstance(value, str):
        m = _QUANTITY.fullmatch(value.strip())
        if m:
            number = Fraction(m.group("num"))
            if m.group("exp"):
                number *= Fraction(10) ** int(m.group("exp")[1:])
            return number * _SUFFIXES[m.group("suffix") or ""]
    raise ValueProblem(f"{help_text}, got {shown(value)}")


def parse_quantity(value: object) -> int:
    """Whole bytes from a Kubernetes quantity (``"1.2G"`` -> 1200000000), rounded up."""
    return math.ceil(_quantity(value, QUANTITY_HELP))


def format_quantity(size: int) -> str:
    """The shortest Kubernetes quantity that is exactly ``size`` bytes (``"64Mi"``, ``"1200M"``)."""
    best = str(size)
    if size > 0:
        for suffix, factor in _SUFFIXES.items():
            if factor > 1 and size % factor == 0:
                text = f"{size // int(factor)}{suffix}"
                if len(text) < len(best):
                    best = text
    return best


def parse_cpu(value: object) -> float:
    """CPUs as a float: ``0.5``, ``"0.5"``, ``"500m"`` or ``2``."""
    return float(_quantity(value, 'not a number of CPUs (0.5, 2, "500m")'))


# Times --------------------------------------------------------------------------------


def parse_time(value: object) -> datetime:
    """An RFC 3339 time such as ``"2024-01-01T00:00:00Z"``; no offset means UTC."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueProblem(
                f'not an RFC 3339 time such as "2024-01-01T00:00:00Z", got {shown(value)}'
            ) from None
    else:
        raise ValueProblem(f'must be an RFC 3339 time such as "2024-01-01T00:00:00Z", got {shown(value)}')
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def format_time(moment: datetime) -> str:
    """RFC 3339, ``Z`` for UTC."""
    text = moment.isoformat()
    return text[: -len("+00:00")] + "Z" if text.endswith("+00:00") else text
