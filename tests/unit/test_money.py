from decimal import Decimal

from bot.domain.money import format_money, percent_change, to_cents


def test_format_money() -> None:
    assert format_money(Decimal("1234.565")) == "$1,234.57"
    assert format_money(Decimal("-0.004")) == "$0.00"
    assert format_money(Decimal("-12.5")) == "-$12.50"
    assert format_money(Decimal("99.5"), "CHF") == "99.50 CHF"
    assert format_money(Decimal("1234.5"), whole=True) == "$1,235"


def test_cents_and_change() -> None:
    assert to_cents(Decimal("0.005")) == Decimal("0.01")
    assert percent_change(Decimal(150), Decimal(100)) == Decimal(50)
    assert percent_change(Decimal(1), Decimal(0)) is None
