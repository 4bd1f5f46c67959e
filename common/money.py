"""Money: Decimal only, rounded half-up to the fen at the steps DOMAIN.md names."""

from decimal import ROUND_HALF_UP, Decimal

FEN = Decimal("0.01")
ZERO = Decimal("0.00")


def round_fen(amount: Decimal) -> Decimal:
    """Round half-up to the fen (0.005 → 0.01), as banks do per settlement."""
    if not isinstance(amount, Decimal):
        raise TypeError(f"money must be Decimal, not {type(amount).__name__}")
    return amount.quantize(FEN, rounding=ROUND_HALF_UP)


TENTH = Decimal("0.1")


def percent(part: Decimal | int, whole: Decimal | int) -> Decimal:
    """``part`` of ``whole`` in per cent, half-up to 0.1 (600 of 680: 88.2);
    0 of nothing is 0.0."""
    if not whole:
        return Decimal("0.0")
    return (Decimal(part) * 100 / Decimal(whole)).quantize(TENTH, rounding=ROUND_HALF_UP)


def yuan(amount: Decimal | int | str) -> str:
    """``1234567.8`` → ``1,234,567.80`` for display."""
    return f"{Decimal(amount).quantize(FEN, rounding=ROUND_HALF_UP):,}"


DIGITS = "零壹贰叁肆伍陆柒捌玖"
GROUP_UNITS = ("", "万", "亿", "万亿")


def _group_in_words(number: int) -> str:
    """0 < number < 10000: ``1010`` → ``壹仟零壹拾``."""
    words, zero = "", False
    for digit, unit in zip("%04d" % number, ("仟", "佰", "拾", ""), strict=True):
        if digit == "0":
            zero = bool(words)
            continue
        if zero:
            words += "零"
            zero = False
        words += DIGITS[int(digit)] + unit
    return words


def amount_in_words(amount: Decimal) -> str:
    """An amount in capital Chinese numerals, as financial documents write
    it beside the figures: ``3967.49`` → ``叁仟玖佰陆拾柒元肆角玖分``,
    ``100000`` → ``壹拾万元整``. Not for negative amounts."""
    if amount < 0:
        raise ValueError("no words for a negative amount")
    fen = int(round_fen(amount) * 100)
    whole, cents = divmod(fen, 100)
    jiao, fen = divmod(cents, 10)
    groups = []
    while whole:
        whole, group = divmod(whole, 10000)
        groups.append(group)
    words, gap = "", False
    for index in reversed(range(len(groups))):
        group = groups[index]
        if group == 0:
            gap = bool(words)
            continue
        if words and (gap or group < 1000):
            words += "零"
        words += _group_in_words(group) + GROUP_UNITS[index]
        gap = False
    if words:
        words += "元"
    if not jiao and not fen:
        return (words or "零元") + "整"
    if jiao:
        words += DIGITS[jiao] + "角"
    elif words:
        words += "零"
    if fen:
        words += DIGITS[fen] + "分"
    return words


# Exact integer arithmetic for inner loops --------------------------------------
#
# Summing Decimals day by day is what made the subsidy run slow; the rule
# sums integer fen instead and divides once per posting. These helpers keep
# that exact: they give the figure round_fen would give on the same Decimals.


def to_fen(amount: Decimal) -> int:
    """An amount of whole fen as an integer number of fen (``680.42`` → 68042).
    Raises ``ValueError`` for a fraction of a fen, which no stored amount has."""
    numerator, denominator = amount.as_integer_ratio()
    if 100 % denominator:
        raise ValueError(f"{amount} is not a whole number of fen")
    return numerator * (100 // denominator)


def from_fen(fen: int) -> Decimal:
    """An integer number of fen as an amount to the fen (68042 → ``680.42``)."""
    return Decimal(fen) * FEN


def divide_half_up(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded half away from zero to an integer,
    exactly (ROUND_HALF_UP of the true quotient; ``denominator`` > 0)."""
    if numerator >= 0:
        return (2 * numerator + denominator) // (2 * denominator)
    return -((-2 * numerator + denominator) // (2 * denominator))
