import datetime
import itertools

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st
from stdnum.cn import ric, uscc

from common.identifiers import (
    bank_card_warning,
    normalize_resident_id,
    resident_id_birth_date,
    resident_id_is_male,
    validate_credit_code,
    validate_mobile,
    validate_resident_id,
)


def resident_id(first17: str) -> str:
    return first17 + ric.calc_check_digit(first17 + "0")


def error_code(validator, value) -> str:
    with pytest.raises(ValidationError) as error:
        validator(value)
    return error.value.code


def test_a_valid_mojiang_resident_id_passes():
    validate_resident_id(resident_id("53082219850612001"))


def test_a_resident_id_with_a_lower_case_x_is_accepted_and_normalised():
    number = next(
        resident_id(f"5308221985061200{n}")
        for n in range(10)
        if resident_id(f"5308221985061200{n}").endswith("X")
    )
    validate_resident_id(number.lower())
    assert normalize_resident_id(" " + number.lower()) == number


def test_a_wrong_check_character_is_named_with_the_right_one():
    good = resident_id("53082219850612001")
    bad = good[:-1] + ("1" if good[-1] != "1" else "2")
    with pytest.raises(ValidationError) as error:
        validate_resident_id(bad)
    assert error.value.code == "id_checksum"
    assert good[-1] in error.value.messages[0]


@pytest.mark.parametrize("value", ["5308221985061200", "5308221985061200123", ""])
def test_a_resident_id_of_the_wrong_length_is_refused(value):
    assert error_code(validate_resident_id, value) == "id_length"


def test_an_impossible_birth_date_is_refused():
    assert error_code(validate_resident_id, resident_id("53082219850230001")) == "id_birth_date"


def test_a_birth_date_in_the_future_is_refused():
    future = datetime.date.today().year + 1
    number = resident_id(f"530822{future}0101001")
    assert error_code(validate_resident_id, number) == "id_birth_date"


def test_an_unknown_area_code_is_refused():
    assert error_code(validate_resident_id, resident_id("99999919850612001")) == "id_area"


def test_mojiang_codes_before_and_after_2003_both_pass_for_any_birth_year():
    validate_resident_id(resident_id("53272319850612001"))  # 思茅地区墨江县, before 2003
    validate_resident_id(resident_id("53082219650612001"))  # 普洱市墨江县, late registration


def test_birth_date_and_gender_are_read_from_the_number():
    number = resident_id("53082219850612001")
    assert resident_id_birth_date(number) == datetime.date(1985, 6, 12)
    assert resident_id_is_male(number)
    assert not resident_id_is_male(resident_id("53082219850612002"))


@given(
    st.dates(min_value=datetime.date(1930, 1, 1), max_value=datetime.date(2007, 12, 31)),
    st.integers(min_value=0, max_value=999),
)
def test_every_number_built_with_its_check_character_passes(birth, sequence):
    number = resident_id(f"530822{birth:%Y%m%d}{sequence:03d}")
    validate_resident_id(number)
    assert resident_id_birth_date(number) == birth


def credit_code_with_check_character(wanted: str) -> str:
    for tail in itertools.product("0123456789", repeat=4):
        base = "91530822MA6K" + "".join(tail) + "0"
        if uscc.calc_check_digit(base + "0") == wanted:
            return base + wanted
    raise AssertionError("no code found")


def test_a_credit_code_whose_remainder_is_zero_has_check_character_0():
    code = credit_code_with_check_character("0")
    validate_credit_code(code)
    assert error_code(validate_credit_code, code[:-1] + "1") == "credit_code_checksum"


def test_a_valid_credit_code_passes_and_a_wrong_one_is_refused():
    code = credit_code_with_check_character("Y")
    validate_credit_code(code)
    assert error_code(validate_credit_code, code[:-1] + "0") == "credit_code_checksum"
    assert error_code(validate_credit_code, code[:-2]) == "credit_code_length"
    assert error_code(validate_credit_code, "91530822MA6KIOZS00") == "credit_code_format"


@pytest.mark.parametrize("value", ["13812345678", "19912345678", "15000000000"])
def test_mobile_numbers_starting_13_to_19_pass(value):
    validate_mobile(value)


@pytest.mark.parametrize("value", ["12812345678", "1381234567", "138123456789", "1381234567a", ""])
def test_other_mobile_numbers_are_refused(value):
    assert error_code(validate_mobile, value) == "mobile"


def test_a_card_failing_luhn_is_a_warning_not_an_error():
    assert bank_card_warning("6217001234567890") is not None
    assert bank_card_warning("6217001234567893") is None  # Luhn-valid
    assert bank_card_warning("") is None
    assert bank_card_warning("墨江信用社存折") is None  # not a card number at all


def test_spaces_and_dashes_are_ignored():
    number = resident_id("53082219850612001")
    spaced = f"{number[:6]} {number[6:14]}-{number[14:]}"
    validate_resident_id(spaced)
    assert normalize_resident_id(spaced) == number
