"""Caller-facing error messages are capped in length, whatever they quote."""
from __future__ import annotations

from services.runtime.errors import MAX_MESSAGE_CHARS, InvalidInput, quoted


def test_quoted_cuts_long_values_and_says_how_long_they_were():
    assert quoted("short") == "'short'"
    long = quoted("é" * 500, limit=20)
    assert long.startswith("'éééé") and long.endswith("(500 characters)") and len(long) < 50


def test_every_error_message_is_capped():
    error = InvalidInput("bad value " + "z" * 10 * MAX_MESSAGE_CHARS)
    assert len(error.message) <= MAX_MESSAGE_CHARS + 10 and error.message.endswith("(cut)")
    assert str(error) == error.message
