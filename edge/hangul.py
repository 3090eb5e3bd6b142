"""Hangul facts the runtime needs: syllable and eojeol counts, jamo composition.

Jamo tokens are Unicode conjoining jamo (U+1100 block), the form NFD gives, so
composing decoded jamo back into syllables is Unicode NFC normalisation.
"""

from __future__ import annotations

import unicodedata

SYLLABLE_FIRST = 0xAC00  # 가
SYLLABLE_LAST = 0xD7A3  # 힣: 11,172 precomposed syllables in all


def is_syllable(char: str) -> bool:
    return SYLLABLE_FIRST <= ord(char) <= SYLLABLE_LAST


def count_syllables(text: str) -> int:
    """Hangul syllables in ``text`` (the statistic's definition in DESIGN.md)."""
    return sum(1 for c in text if is_syllable(c))


def count_eojeol(text: str) -> int:
    """Space-separated words."""
    return len(text.split())


def to_jamo(text: str) -> str:
    """Syllables to conjoining jamo: ``"밥" -> "ᄇ ᅡ ᆸ"`` (without the spaces)."""
    return unicodedata.normalize("NFD", text)


def compose(text: str) -> str:
    """Conjoining jamo back to syllables; a jamo that forms no syllable is dropped."""
    composed = unicodedata.normalize("NFC", text)
    return "".join(c for c in composed if not 0x1100 <= ord(c) <= 0x11FF)
