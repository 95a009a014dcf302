"""Malformed values for every form field and query parameter, and what every answer to them
must look like: never a 500; a refusal is a 4xx that says why."""

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# Bounded so the suite stays fast: each example is one request on the real stack.
FUZZ = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # the client and the rows are reused on purpose
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

# One of each class of bad input; every field gets each of them (the sweep), and hypothesis
# draws mixtures of them and of arbitrary text on top.
CLASSES = [
    "",  # empty
    "\x00",  # NUL: PostgreSQL text cannot hold it
    "abc\x00def",
    "\uff11",  # fullwidth 1
    "\u0663",  # Arabic-Indic 3
    "\u00b2",  # superscript 2: isdigit() but not int()
    "\u0662\u0660\u0662\u0666-\u0660\u0661-\u0661\u0665",  # a date in Arabic-Indic digits
    "-1",
    "0",
    "9" * 25,  # beyond bigint
    "-" + "9" * 25,
    "1.5",
    " 1",
    "x" * 321,  # beyond every varchar, and an email's 320
    "a@" + "b" * 300 + ".org",  # an overlong email
    "\U0001f600\u202e\u0301",  # emoji, right-to-left override, a lone combining mark
]
OVERLONG = st.builds(
    lambda char, count: char * count,
    st.sampled_from(["a", "\u00e9", "\u20ac", "\U0001f600", "\x00", "7"]),
    st.sampled_from([31, 151, 201, 255, 321, 5001, 20001]),
)
VALUE = st.one_of(
    st.sampled_from(CLASSES),
    st.text(max_size=30),
    st.integers().map(str),
    OVERLONG,
)
VALUES = st.lists(VALUE, min_size=1, max_size=3)  # one value, or the parameter repeated


def fields(baseline: dict[str, str]):
    """A submission: each field keeps its good value, is left out, or gets bad value(s)."""
    return st.fixed_dictionaries(
        {name: st.one_of(st.just([good]), st.just([]), VALUES) for name, good in baseline.items()}
    )


def sweep(baseline: dict[str, str]):
    """Every class of bad value in every field, the others good: the cases hypothesis may miss."""
    for name in baseline:
        for bad in [*CLASSES, ["1", "2"]]:
            values = bad if isinstance(bad, list) else [bad]
            yield name, {**{k: [v] for k, v in baseline.items()}, name: values}


def assert_clear(response) -> None:
    """Not a 500; and a refusal (4xx) carries a message."""
    assert response.status_code < 500, response.status_code
    if 400 <= response.status_code < 500:
        body = b"".join(response) if response.streaming else response.content
        assert body.strip(), f"a {response.status_code} with no message"
