from common.masking import mask_account, mask_phone, mask_resident_id


def test_a_resident_id_keeps_four_digits_at_each_end():
    assert mask_resident_id("530822199001011230") == "5308**********1230"


def test_a_phone_keeps_three_and_four_digits():
    assert mask_phone("13812345678") == "138****5678"


def test_an_account_keeps_its_last_four_digits():
    assert mask_account("6217 0012 3456 7890") == "************7890"


def test_short_or_empty_values_are_fully_masked():
    assert mask_resident_id("") == ""
    assert mask_resident_id("1234") == "****"
    assert mask_phone("123") == "***"
    assert mask_account("12") == "**"
