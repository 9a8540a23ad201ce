"""Digits as callers say them and as whisper writes them (ivr.dialplan.digits); the phrasings
are this file's own."""

from __future__ import annotations

import pytest

from ivr.dialplan.digits import read_digits, spoken_digits

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "said,digits",
    [
        ("one zero zero zero zero two", "100002"),
        ("It's 100 002.", "100002"),  # whisper's numerals are kept
        ("one oh oh oh oh two", "100002"),
        ("One double-o, double-o two", "100002"),  # whisper hyphenates spelt digits
        ("1-o-o-o-o-2", "100002"),
        ("double five two, two one nine", "552219"),
        ("Triple 7, 1 2 0.", "777120"),
        ("three hundred, zero four five", "300045"),  # "three hundred" is three digits
        ("one hundred and two", "102"),
        ("One hundred, one hundred and twenty", "100120"),
        ("twenty", "20"),
        ("twenty three", "23"),
        ("nineteen ninety", "1990"),
        ("two thousand", "2000"),
        ("For seven one, one O three.", "471103"),  # "for" between digits is four
        ("I'm calling for my account", ""),  # ... but not in a sentence
        ("Oh seven seven double oh nine double oh triple five.", "07700900555"),
        ("nought one six one", "0161"),
    ],
)
def test_spoken_digits(said, digits):
    assert spoken_digits(said) == digits


def test_a_clean_reading_of_the_right_length_is_sure():
    r = read_digits("four seven one, one oh three", 6, 6)
    assert r.digits == "471103" and r.sure


def test_a_correction_takes_what_follows_it_and_is_read_back():
    r = read_digits("four seven one one oh two, sorry, I mean four seven one one oh three", 6, 6)
    assert r.digits == "471103" and not r.sure
    r = read_digits("four seven one one oh two, no wait, oh three", 6, 6)  # only the last digits again
    assert r.digits == "471103" and not r.sure
    r = read_digits("oh seven seven oh oh nine oh oh one two three, actually one two four", 11, 11)
    assert r.digits == "07700900124"


def test_a_number_whisper_wrote_again_is_taken_once():
    r = read_digits("Four seven one, one oh three. Four seven one, one oh three", 6, 6)
    assert r.digits == "471103" and not r.sure
    r = read_digits("four, seven, double, one, zero, three, four, seven, double", 6, 6)  # begun again
    assert r.digits == "471103" and not r.sure


def test_the_wrong_count_is_not_mended_by_guessing():
    assert read_digits("four seven one one oh", 6, 6).digits == "47110"  # the gather asks again
    assert not read_digits("four seven one one oh", 6, 6).sure
    assert read_digits("one two three four five six seven", 6, 6).digits == "1234567"
