"""Find the numbers a text quotes and check each against numbers printed elsewhere, at the precision quoted.

Used by ``test_prose_numbers.py``: a notebook's markdown against that notebook's outputs, and the READMEs against
``benchmarks/results/*.json``. A quoted number matches a printed one when the printed one, rounded to the quoted
precision, gives the quoted digits (0.76 matches 0.7604; 41 % matches 0.412 or 41.2 %), and the printed one carries
at least that precision (0.760 does not match a printed 0.76).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MINUS = "\u2212"
_SIGN = rf"(?P<sign>[+{MINUS}±-])?"
_MANTISSA = r"(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<frac>\d+))?"
QUOTED = re.compile(
    rf"(?<![\w.^/#{{_-]){_SIGN}{_MANTISSA}"
    rf"(?:(?P<sci>\s*(?:×|\\times|\\cdot)\s*10\s*\^\s*\{{?(?P<exp>[{MINUS}-]?\d+)\}}?)"
    rf"|(?P<e>e(?P<eexp>[{MINUS}+-]?\d+))"
    rf"|(?P<pct>\s?(?:\\?%|per ?cent)))?"
    rf"(?![\w.]*\.\d)(?!\w)"
)
PRINTED = re.compile(r"(?<![\w.])(?P<sign>[+-])?(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<frac>\d+))?"
                     r"(?:e(?P<exp>[+-]?\d+))?(?P<pct>\s?%)?(?![\w])")


@dataclass(frozen=True)
class Quoted:
    """A number as the text quotes it: its value, the decimals it shows and how it reads."""

    text: str
    value: float
    decimals: int
    percent: bool = False
    signed: bool = False
    unit: str = ""  # for figures read with ``integers_with_units``: the unit that follows them

    def step(self) -> float:
        return 10.0 ** -self.decimals


@dataclass(frozen=True)
class Printed:
    value: float
    decimals: int  # decimals shown (for e-notation and huge integers: plenty)
    percent: bool = False


def _number(match: re.Match) -> float:
    whole = float(match.group("int").replace(",", ""))
    frac = match.group("frac") or ""
    return whole + (float("0." + frac) if frac else 0.0)


def quoted_numbers(text: str, *, integers_with_units: tuple[str, ...] = ()) -> list[Quoted]:
    """Decimal numbers, percentages and powers of ten that ``text`` quotes (integers only with the given units)."""
    found = []
    for match in QUOTED.finditer(text):
        sign = (match.group("sign") or "").replace(MINUS, "-")
        magnitude = _number(match)
        decimals = len(match.group("frac") or "")
        signed = sign in "+-" and sign != ""
        value = -magnitude if sign == "-" else magnitude
        if match.group("sci"):
            exp = int(match.group("exp").replace(MINUS, "-"))
            found.append(Quoted(match.group(0).strip(), value * 10.0 ** exp, decimals - exp, signed=signed))
        elif match.group("e"):
            exp = int(match.group("eexp").replace(MINUS, "-"))
            found.append(Quoted(match.group(0), value * 10.0 ** exp, decimals - exp, signed=signed))
        elif match.group("pct"):
            found.append(Quoted(match.group(0).strip(), value, decimals, percent=True, signed=signed))
        else:
            unit = _unit(text, match.end(), integers_with_units)
            if not (decimals or unit):
                continue
            if not decimals:  # 27,500 is quoted to the hundred
                digits = match.group("int").replace(",", "")
                decimals = len(digits.rstrip("0") or "0") - len(digits)
            found.append(Quoted(match.group(0).strip(), value, decimals, signed=signed, unit=unit))
    return found


def _unit(text: str, end: int, units: tuple[str, ...]) -> str:
    after = text[end:end + 12]
    return next((unit for unit in units if re.match(rf"\s?{re.escape(unit)}(?![A-Za-z])", after)), "")


def printed_numbers(text: str) -> list[Printed]:
    """Every number in printed output, with the decimals it shows (a percentage also as its fraction)."""
    found = []
    for match in PRINTED.finditer(text.replace(MINUS, "-")):
        value = _number(match) * (-1 if match.group("sign") == "-" else 1)
        decimals = len(match.group("frac") or "")
        if match.group("exp"):
            value *= 10.0 ** int(match.group("exp"))
            decimals = 99
        if match.group("pct"):
            found.append(Printed(value, decimals, percent=True))
            found.append(Printed(value / 100, decimals + 2))
        else:
            found.append(Printed(value, decimals))
    return found


def matches(quoted: Quoted, printed: Printed) -> bool:
    """Whether ``printed`` rounds to ``quoted`` at the quoted precision, and shows at least that precision."""
    target, value, decimals = quoted.value, printed.value, printed.decimals
    if quoted.percent and not printed.percent:
        value, decimals = value * 100, decimals - 2
    if decimals < quoted.decimals:
        return False
    if not quoted.signed:
        target, value = abs(target), abs(value)
    return abs(value - target) <= quoted.step() / 2 * (1 + 1e-9) + 1e-12


def unmatched(quoted: list[Quoted], printed: list[Printed]) -> list[Quoted]:
    """The quoted numbers that no printed number matches."""
    return [q for q in quoted if not any(matches(q, p) for p in printed)]
