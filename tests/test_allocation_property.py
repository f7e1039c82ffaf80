"""Property tests of the allocation SQL: random amounts, touch lists and models."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from fractions import Fraction

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from support import Database

MODELS = ("last_touch", "first_touch", "linear")
CHANNELS = ("paid", "email", "social", "referral", "organic_search", "direct", "affiliate", "other")


@pytest.fixture(scope="module")
def conn(main_db: Database) -> Iterator[psycopg.Connection]:
    with psycopg.connect(main_db.migration, autocommit=True) as c:
        yield c


def allocate(conn: psycopg.Connection, amount: int, model: str, touches: list[str]) -> dict[str, int]:
    rows = conn.execute(
        "SELECT channel, amount_minor FROM skeldir._allocation_model(%s, %s, %s)", [amount, model, touches]
    ).fetchall()
    return dict(rows)


def reference(amount: int, model: str, touches: list[str]) -> dict[str, int]:
    """Largest remainder computed independently with exact fractions (the oracle)."""
    picked = {"last_touch": touches[-1:], "first_touch": touches[:1], "linear": touches}[model]
    weights = Counter(picked)
    total = sum(weights.values())
    exact = {c: Fraction(abs(amount) * w, total) for c, w in weights.items()}
    parts = {c: int(e) for c, e in exact.items()}
    left = abs(amount) - sum(parts.values())
    for c in sorted(exact, key=lambda c: (-(exact[c] - int(exact[c])), c))[:left]:
        parts[c] += 1
    sign = -1 if amount < 0 else 1
    return {c: sign * v for c, v in parts.items()}


amounts = st.integers(min_value=-(10**15), max_value=10**15)
touch_lists = st.lists(st.sampled_from(CHANNELS), min_size=1, max_size=15)


@settings(max_examples=300, deadline=None)
@given(amount=amounts, model=st.sampled_from(MODELS), touches=touch_lists)
def test_allocations_always_sum_exactly_to_the_amount(conn, amount: int, model: str, touches: list[str]) -> None:
    parts = allocate(conn, amount, model, touches)
    assert sum(parts.values()) == amount
    assert set(parts) <= set(touches)


@settings(max_examples=200, deadline=None)
@given(amount=amounts, model=st.sampled_from(MODELS), touches=touch_lists)
def test_allocations_match_an_exact_fraction_largest_remainder_oracle(
    conn, amount: int, model: str, touches: list[str]
) -> None:
    assert allocate(conn, amount, model, touches) == reference(amount, model, touches)


@settings(max_examples=100, deadline=None)
@given(amount=amounts, weights=st.dictionaries(st.sampled_from(CHANNELS), st.integers(1, 10**6), min_size=1))
def test_refund_split_is_proportional_and_independent_of_input_order(
    conn, amount: int, weights: dict[str, int]
) -> None:
    channels = list(weights)
    forward = conn.execute(
        "SELECT channel, amount_minor FROM skeldir._allocation_split(%s, %s, %s)",
        [amount, channels, [weights[c] for c in channels]],
    ).fetchall()
    backward = conn.execute(
        "SELECT channel, amount_minor FROM skeldir._allocation_split(%s, %s, %s)",
        [amount, channels[::-1], [weights[c] for c in channels[::-1]]],
    ).fetchall()
    assert forward == backward
    assert sum(v for _, v in forward) == amount
    total = sum(weights.values())
    for channel, part in forward:
        assert abs(Fraction(part) - Fraction(amount * weights[channel], total)) < 1
