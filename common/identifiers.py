"""Chinese identifiers, validated by python-stdnum.

Each ``validate_*`` function is a Django validator: it raises
``ValidationError`` with a message in the user's language and a stable
``code`` that imports and the API can report.
"""

import datetime
import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from stdnum import luhn, numdb
from stdnum.cn import ric, uscc
from stdnum.exceptions import (
    InvalidChecksum,
    InvalidComponent,
    InvalidFormat,
    InvalidLength,
)

MOBILE_PATTERN = re.compile(r"^1[3-9][0-9]{9}$")
OLDEST_AGE = 120


def normalize_resident_id(value: str) -> str:
    """Strip spaces and dashes and upper-case the check character ``x``."""
    return ric.compact(re.sub(r"[\s-]", "", value or "")).upper()


def validate_resident_id(value: str) -> None:
    """GB 11643: 18 characters, the MOD 11-2 check character, a real birth
    date, and an area code that the national table knows.

    The area code is accepted whatever the birth year: stdnum's table ties a
    code to the years it was in use, but a number is kept for life and late
    registrations get the code in force when they register (Mojiang's
    530822 replaced 532723 in 2003).
    """
    number = normalize_resident_id(value)
    try:
        ric.validate(number)
    except InvalidLength:
        raise ValidationError(
            _("A resident ID number has 18 characters; this one has %(count)d."),
            code="id_length",
            params={"count": len(number)},
        ) from None
    except InvalidFormat:
        raise ValidationError(
            _("A resident ID number is 17 digits and a digit or X."), code="id_format"
        ) from None
    except InvalidChecksum:
        raise ValidationError(
            _("The check character of this resident ID number is wrong; it should be %(digit)s."),
            code="id_checksum",
            params={"digit": ric.calc_check_digit(number)},
        ) from None
    except InvalidComponent:
        birth_date = resident_id_birth_date(number)  # raises for an impossible date
        if not numdb.get("cn/loc").info(number[:6])[0][1]:
            raise ValidationError(
                _("The area code %(code)s of this resident ID number does not exist."),
                code="id_area",
                params={"code": number[:6]},
            ) from None
        del birth_date
    birth_date = resident_id_birth_date(number)
    today = datetime.date.today()
    if birth_date > today or today.year - birth_date.year > OLDEST_AGE:
        raise ValidationError(
            _("The birth date %(date)s in this resident ID number is not possible."),
            code="id_birth_date",
            params={"date": birth_date.isoformat()},
        )


def resident_id_birth_date(value: str) -> datetime.date:
    number = normalize_resident_id(value)
    try:
        return ric.get_birth_date(number)
    except (InvalidComponent, ValueError):
        raise ValidationError(
            _("The birth date %(digits)s in this resident ID number is not a real date."),
            code="id_birth_date",
            params={"digits": number[6:14]},
        ) from None


def resident_id_is_male(value: str) -> bool:
    """The 17th character is odd for men and even for women."""
    return int(normalize_resident_id(value)[16]) % 2 == 1


def normalize_credit_code(value: str) -> str:
    return uscc.compact(value or "").upper()


def validate_credit_code(value: str) -> None:
    """GB 32100 unified social credit code, check character mod 31 (a
    remainder of 0 gives the check character ``0``)."""
    number = normalize_credit_code(value)
    try:
        uscc.validate(number)
    except InvalidLength:
        raise ValidationError(
            _("A unified social credit code has 18 characters; this one has %(count)d."),
            code="credit_code_length",
            params={"count": len(number)},
        ) from None
    except InvalidFormat:
        raise ValidationError(
            _("This unified social credit code contains characters it may not have."),
            code="credit_code_format",
        ) from None
    except InvalidChecksum:
        raise ValidationError(
            _("The check character of this unified social credit code is wrong."),
            code="credit_code_checksum",
        ) from None


def validate_mobile(value: str) -> None:
    if not MOBILE_PATTERN.match(value or ""):
        raise ValidationError(
            _("A mobile number is 11 digits starting with 13 to 19."), code="mobile"
        )


def bank_card_warning(value: str) -> str | None:
    """A warning, never an error: passbook and 一卡通 accounts may not carry a
    Luhn check digit, so a failing number is flagged and still accepted."""
    digits = re.sub(r"\s", "", value or "")
    if not digits.isdigit() or luhn.is_valid(digits):
        return None
    return str(
        _(
            "This account number fails the bank-card check digit. "
            "That is normal for a passbook or 一卡通 account; check it against the passbook."
        )
    )
