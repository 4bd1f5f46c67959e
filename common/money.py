"""Money: Decimal only, rounded half-up to the fen at the steps DOMAIN.md names."""

from decimal import ROUND_HALF_UP, Decimal

FEN = Decimal("0.01")
ZERO = Decimal("0.00")


def round_fen(amount: Decimal) -> Decimal:
    """Round half-up to the fen (0.005 → 0.01), as banks do per settlement."""
    if not isinstance(amount, Decimal):
        raise TypeError(f"money must be Decimal, not {type(amount).__name__}")
    return amount.quantize(FEN, rounding=ROUND_HALF_UP)


def yuan(amount: Decimal | int | str) -> str:
    """``1234567.8`` → ``1,234,567.80`` for display."""
    return f"{Decimal(amount).quantize(FEN, rounding=ROUND_HALF_UP):,}"
