"""Shown figures add up: `round_to_total` (largest remainder) for any amounts, credits included."""

from decimal import ROUND_HALF_UP, Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.money import round_to_total

CENT = Decimal("0.01")
amounts = st.lists(st.decimals(min_value=Decimal("-100000"), max_value=Decimal("1000000"), places=6),
                   min_size=0, max_size=40)


@settings(max_examples=500, deadline=None)
@given(amounts)
def test_the_rounded_parts_add_up_to_the_rounded_total(values: list[Decimal]) -> None:
    parts = round_to_total(dict(enumerate(values)))
    total = sum(values, Decimal(0)).quantize(CENT, rounding=ROUND_HALF_UP)
    assert sum(parts.values(), Decimal(0)) == (total if values else 0)
    for i, v in enumerate(values):
        assert parts[i] == parts[i].quantize(CENT)
        assert abs(parts[i] - v) < CENT  # no part moves by a cent or more


def test_the_missing_cents_go_to_the_largest_remainders() -> None:
    # 1/3 each of 1.00: 0.33 + 0.33 + 0.33 = 0.99; the first of the tied remainders gets the missing cent
    third = Decimal(1) / 3
    assert round_to_total({"a": third, "b": third, "c": third}) == {
        "a": Decimal("0.34"), "b": Decimal("0.33"), "c": Decimal("0.33")}
    # rounded one by one these are 0.01 + 0.01 + 0.01 = 0.03, but they add up to 0.02
    assert round_to_total({"a": Decimal("0.006"), "b": Decimal("0.007"), "c": Decimal("0.007")}) == {
        "a": Decimal("0.00"), "b": Decimal("0.01"), "c": Decimal("0.01")}
    # a credit among charges
    assert round_to_total({"a": Decimal("10.004"), "b": Decimal("-2.003")}) == {
        "a": Decimal("10.00"), "b": Decimal("-2.00")}
