"""Money arithmetic: every rounding in preorders goes through money_round()."""

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def money_round(amount: Decimal) -> Decimal:
    return Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)


def deposit_for(*, quantity: int, unit_price: Decimal, percent: Decimal) -> Decimal:
    return money_round(Decimal(quantity) * unit_price * percent / 100)


def line_value(*, quantity: int, unit_price: Decimal) -> Decimal:
    return money_round(Decimal(quantity) * unit_price)
