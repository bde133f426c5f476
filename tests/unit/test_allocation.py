from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.allocation import Allocation, SharedPart, largest_remainder, spread, weights_for

money = st.decimals(min_value=Decimal("0"), max_value=Decimal("1000000"), places=6)
weight = st.decimals(min_value=Decimal("0"), max_value=Decimal("1000"), places=3)


@settings(max_examples=400, deadline=None)
@given(money, st.dictionaries(st.text(min_size=1, max_size=5), weight, min_size=1, max_size=8))
def test_conserves_to_the_cent_and_never_negative(amount: Decimal, weights: dict[str, Decimal]) -> None:
    parts = largest_remainder(amount, weights)
    assert sum(parts.values()) == amount.quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")
    assert all(p >= 0 and p == p.quantize(Decimal("0.01")) for p in parts.values())
    assert set(parts) == set(weights)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=4), money, min_size=1, max_size=5),
       st.sampled_from(["proportional", "even", "weights", "usage"]),
       st.dictionaries(st.sampled_from(["a", "b", "c"]), weight, min_size=1))
def test_every_method_conserves_each_rule(by_service: dict[str, Decimal], method: str,
                                          numbers: dict[str, Decimal]) -> None:
    targets = ["a", "b", "c"]
    w = weights_for(method, targets, direct=numbers, fixed=numbers, usage=numbers)
    parts = spread("r", by_service, w)
    expected = sum(v.quantize(Decimal("0.01"), rounding="ROUND_HALF_UP") for v in by_service.values())
    assert sum(p.cost for p in parts) == expected
    assert all(p.cost >= 0 for p in parts)


def test_hand_computed_methods() -> None:
    # proportional to direct cost 300 / 100: 10.00 -> 7.50 / 2.50
    assert largest_remainder(Decimal("10"), {"ml": Decimal(300), "data": Decimal(100)}) == {
        "ml": Decimal("7.50"), "data": Decimal("2.50")}
    # even thirds of 100.00: one team gets the extra cent (largest remainder, then name)
    assert largest_remainder(Decimal("100"), {"a": Decimal(1), "b": Decimal(1), "c": Decimal(1)}) == {
        "a": Decimal("33.34"), "b": Decimal("33.33"), "c": Decimal("33.33")}
    # weights 60/40 of 0.05: 0.03 / 0.02
    assert largest_remainder(Decimal("0.05"), {"ml": Decimal(60), "data": Decimal(40)}) == {
        "ml": Decimal("0.03"), "data": Decimal("0.02")}
    # no weight anywhere: even
    assert largest_remainder(Decimal("1"), {"a": Decimal(0), "b": Decimal(0)}) == {"a": Decimal("0.50"),
                                                                                     "b": Decimal("0.50")}
    # a credit splits the same way
    assert largest_remainder(Decimal("-10"), {"a": Decimal(1), "b": Decimal(3)}) == {"a": Decimal("-2.50"),
                                                                                       "b": Decimal("-7.50")}


def test_allocation_explains_a_teams_shared_part() -> None:
    alloc = Allocation(direct={"ml": Decimal(100)}, shared=(
        SharedPart("network", "VPC", "ml", Decimal("3.00")), SharedPart("network", "Transfer", "ml", Decimal("1.00")),
        SharedPart("support", "Support", "ml", Decimal("5.00")), SharedPart("support", "Support", "data", Decimal(5))))
    assert alloc.total_for("ml") == Decimal("109.00")
    assert alloc.explain("ml") == [("support", Decimal("5.00")), ("network", Decimal("4.00"))]
