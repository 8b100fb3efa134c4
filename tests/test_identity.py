"""ID numbers are validated, stored only as a keyed hash plus last four, shown masked."""

from __future__ import annotations

import pytest

from grid.identity import id_number_hash, masked_id_number, normalise_id_number

VALID = "11010519491231002X"  # the GB 11643 standard's own example


def test_valid_number_is_normalised():
    assert normalise_id_number(" 11010519491231002x ") == VALID


@pytest.mark.parametrize("bad", ["110105194912310021", "1234", "11010519491231002Y"])
def test_malformed_or_mis_checked_numbers_are_refused(bad):
    with pytest.raises(ValueError):
        normalise_id_number(bad)


def test_hash_matches_equal_numbers_and_depends_on_the_key():
    one = id_number_hash(VALID, b"k" * 32)
    assert one == id_number_hash(VALID, b"k" * 32)
    assert one != id_number_hash(VALID, b"j" * 32)
    assert VALID not in one and len(one) == 64


def test_masked_display_shows_only_the_last_four():
    assert masked_id_number(VALID[-4:]) == "*" * 14 + "002X"
    assert masked_id_number(None) is None
