"""CSV injection: every CSV the app writes goes through apps.core.csv_safe."""

import ast
import csv
import io
import random
from decimal import Decimal
from pathlib import Path

import pytest

from apps.core.csv_safe import FORMULA_PREFIXES, csv_safe_cell, csv_writer

APPS = Path(__file__).resolve().parents[2] / "apps"
# Heavy on what matters: formula starters, quoting, line breaks, non-ASCII, spaces.
ALPHABET = "=+-@\t\r\n'\",;:()!ab1 \uff1déह\x00"


def random_text(rng: random.Random) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 12)))


def random_number(rng: random.Random):
    kind = rng.randrange(3)
    if kind == 0:
        return rng.randint(-(10**12), 10**12)
    if kind == 1:
        return Decimal(rng.randint(-(10**6), 10**6)) / 100
    return rng.uniform(-1e6, 1e6)


def written(row) -> list[str]:
    out = io.StringIO(newline="")
    csv_writer(out).writerow(row)
    [cells] = csv.reader(io.StringIO(out.getvalue(), newline=""))
    return cells


@pytest.mark.parametrize("seed", range(20))
def test_no_text_cell_starts_like_a_formula_and_numbers_stay_numbers(seed):
    rng = random.Random(seed)
    for _ in range(100):
        row = [random_text(rng) if rng.random() < 0.7 else random_number(rng) for _ in range(6)]
        for value, cell in zip(row, written(row), strict=True):
            if isinstance(value, str):
                assert not cell.startswith(FORMULA_PREFIXES), (value, cell)
                dangerous = value.startswith(FORMULA_PREFIXES)
                assert cell == ("'" + value if dangerous else value), (value, cell)
            else:
                assert cell == str(value), (value, cell)  # -5 stays -5: a number


def test_the_owasp_examples():
    assert csv_safe_cell('=HYPERLINK("http://evil.example","x")').startswith("'=")
    assert [csv_safe_cell(v) for v in ("+1", "-1+2", "@SUM(A1)", "\tx", "\rx")] == [
        "'+1",
        "'-1+2",
        "'@SUM(A1)",
        "'\tx",
        "'\rx",
    ]
    assert [csv_safe_cell(v) for v in ("Paris", "", "a=b", -3, Decimal("-2.5"))] == [
        "Paris",
        "",
        "a=b",
        -3,
        Decimal("-2.5"),
    ]


def test_no_module_writes_csv_without_the_helper():
    """The class, not the instances: a new export must use apps.core.csv_safe.csv_writer."""
    offenders = []
    for path in APPS.rglob("*.py"):
        if path.name == "csv_safe.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in ("writer", "DictWriter")
                and isinstance(node.value, ast.Name)
                and node.value.id == "csv"
            ):
                offenders.append(f"{path.relative_to(APPS)}:{node.lineno}")
    assert offenders == []
