"""Masking of personal identifiers for lists and public outputs."""


def mask_resident_id(value: str) -> str:
    """``530822199001011230`` → ``5308**********1230``."""
    if not value or len(value) < 8:
        return "*" * len(value or "")
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_phone(value: str) -> str:
    """``13812345678`` → ``138****5678``."""
    if not value or len(value) < 7:
        return "*" * len(value or "")
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_account(value: str) -> str:
    """Keep the last four digits of a bank account: ``************1234``."""
    compact = "".join((value or "").split())
    if len(compact) <= 4:
        return "*" * len(compact)
    return "*" * (len(compact) - 4) + compact[-4:]
