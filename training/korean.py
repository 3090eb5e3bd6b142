"""Korean text for training: transcript normalisation, CTC tokenizers, CER and WER.

AI-Hub transcripts (KsponSpeech and 자유대화 음성) follow the ETRI transcription
rules; the marks handled here are:

- dual transcription ``(철자)/(발음)``: spelling and pronunciation side by side;
  an acoustic model must learn what was *said*, so the pronunciation is kept:
  ``(70%)/(칠십 퍼센트)`` -> ``칠십 퍼센트``.
- noise marks ``b/`` (breath), ``l/`` (laugh), ``o/`` (other speaker), ``n/``
  (noise), ``u/`` (unintelligible word): removed.
- ``word/`` (interjection), ``word+`` (repetition), ``word*`` (unsure): the
  word is kept, the mark removed.
- tags ``(TAG:content)``: ``(FP:음)`` filler keeps its content, ``(NO:...)``
  and ``(SN:...)`` noise are removed, ``(SP:...)`` unclear speech excludes the
  whole utterance (``normalise`` returns ``None``).
- punctuation and symbols become spaces; Hangul syllables, Latin letters and
  digits are kept (AI-Hub gives numbers' readings as dual transcriptions).

Two token vocabularies for CTC, both with blank 0 and space 1: Hangul syllables
(every KS X 1001 syllable plus the characters of a training corpus, most
frequent first) and conjoining jamo (decoded text is composed back).
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

from edge.hangul import SYLLABLE_FIRST, SYLLABLE_LAST, compose, to_jamo

log = logging.getLogger(__name__)

BLANK = "<blank>"  # CTC blank, always index 0
SPACE = " "  # word boundary, always index 1
UNKNOWN = "<unk>"  # any character outside the vocabulary, always the last index
KS_X_1001_CHAR_BYTES = 2  # one precomposed syllable in EUC-KR
TOKENIZER_FORMAT = 1  # version of the JSON written by Tokenizer.save

# Tags whose content is spoken and kept; every other (XX:...) tag is dropped.
KEEP_TAG_CONTENT = frozenset({"FP"})
EXCLUDE_TAGS = frozenset({"SP"})  # unclear speech: the transcript cannot be trusted

_TAG = re.compile(r"\(([A-Z]{2,3}):([^()]*)\)")
_DUAL = re.compile(r"\(([^()]*)\)\s*/\s*\(([^()]*)\)")
_NOISE = re.compile(r"(?<![0-9A-Za-z가-힣])[bnoulBNOUL]/")
_MARKS = re.compile(r"[/+*]")
# Hangul syllables, Latin letters and digits are speech; anything else is a separator.
_NOT_SPEECH = re.compile(r"[^0-9A-Za-z가-힣\s]")
_SPACES = re.compile(r"\s+")


def _tag_replacement(match: re.Match[str]) -> str:
    tag, content = match.group(1), match.group(2)
    return f" {content} " if tag in KEEP_TAG_CONTENT else " "


def normalise(text: str) -> str | None:
    """One AI-Hub transcript to plain spoken Korean; ``None`` excludes the utterance.

    ``"b/ (70%)/(칠십 퍼센트) 확률이라니? n/"`` -> ``"칠십 퍼센트 확률이라니"``.
    An empty string means nothing spoken is left (e.g. only noise marks).
    """
    text = unicodedata.normalize("NFC", text)
    if any(tag in EXCLUDE_TAGS for tag, _ in _TAG.findall(text)):
        return None
    text = _DUAL.sub(r"\2", text)  # particles stay attached: (2시)/(두 시)에 -> 두 시에
    text = _TAG.sub(_tag_replacement, text)
    text = _NOISE.sub(" ", text)
    text = _MARKS.sub("", text)
    text = _NOT_SPEECH.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


@lru_cache(maxsize=1)
def ks_x_1001_syllables() -> tuple[str, ...]:
    """The 2,350 precomposed syllables of KS X 1001: those EUC-KR encodes in 2 bytes.

    Python's codec writes the other syllables as 8-byte jamo sequences (the
    KS X 1001 annex 3 extension), so the byte length tells them apart.
    """
    syllables = []
    for code in range(SYLLABLE_FIRST, SYLLABLE_LAST + 1):
        char = chr(code)
        try:
            encoded = char.encode("euc_kr")
        except UnicodeEncodeError:
            continue
        if len(encoded) == KS_X_1001_CHAR_BYTES:
            syllables.append(char)
    return tuple(syllables)


# Conjoining jamo that NFD produces for modern syllables: 19 initials, 21 vowels, 27 finals.
JAMO_INITIALS = tuple(chr(c) for c in range(0x1100, 0x1113))
JAMO_VOWELS = tuple(chr(c) for c in range(0x1161, 0x1176))
JAMO_FINALS = tuple(chr(c) for c in range(0x11A8, 0x11C3))


class Tokenizer:
    """Characters <-> CTC label ids. Index 0 is the blank, 1 the space, last ``<unk>``.

    ``kind`` is ``"syllable"`` or ``"jamo"``. Characters outside the vocabulary
    encode to ``<unk>`` (or raise ``KeyError`` with ``strict=True``); ``<unk>``
    and the blank decode to nothing.
    """

    def __init__(self, tokens: Sequence[str], kind: str) -> None:
        if list(tokens[:2]) != [BLANK, SPACE] or tokens[-1] != UNKNOWN:
            raise ValueError("tokens must start with <blank>, space and end with <unk>")
        if len(set(tokens)) != len(tokens):
            raise ValueError("tokens must be unique")
        if kind not in ("syllable", "jamo"):
            raise ValueError(f"kind must be 'syllable' or 'jamo', not {kind!r}")
        self.tokens: list[str] = list(tokens)
        self.kind = kind
        self._index = {t: i for i, t in enumerate(self.tokens)}
        self.unknown_id = len(self.tokens) - 1

    @classmethod
    def syllables(cls, corpus: Iterable[str] = ()) -> Tokenizer:
        """Syllable vocabulary: corpus characters by frequency, then the rest of KS X 1001."""
        counts = _char_counts(unicodedata.normalize("NFC", text) for text in corpus)
        return cls(_vocabulary(counts, ks_x_1001_syllables()), "syllable")

    @classmethod
    def jamo(cls, corpus: Iterable[str] = ()) -> Tokenizer:
        """Jamo vocabulary: the 67 conjoining jamo plus corpus characters, by frequency."""
        counts = _char_counts(to_jamo(text) for text in corpus)
        base = JAMO_INITIALS + JAMO_VOWELS + JAMO_FINALS
        return cls(_vocabulary(counts, base), "jamo")

    def __len__(self) -> int:
        return len(self.tokens)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Tokenizer) and (self.kind, self.tokens) == (
            other.kind,
            other.tokens,
        )

    def _units(self, text: str) -> str:
        return to_jamo(text) if self.kind == "jamo" else unicodedata.normalize("NFC", text)

    def encode(self, text: str, strict: bool = False) -> list[int]:
        """Text -> label ids (no blanks). Unknown characters -> ``<unk>`` or ``KeyError``."""
        ids = []
        for char in self._units(text):
            index = self._index.get(char)
            if index is None:
                if strict:
                    raise KeyError(
                        f"character {char!r} (U+{ord(char):04X}) is not in the vocabulary"
                    )
                index = self.unknown_id
            ids.append(index)
        return ids

    def unknown_characters(self, text: str) -> set[str]:
        """The characters of ``text`` that would encode to ``<unk>``."""
        return {c for c in self._units(text) if c not in self._index}

    def decode(self, ids: Iterable[int]) -> str:
        """Label ids -> text; blank and ``<unk>`` dropped, jamo composed, spaces collapsed."""
        skip = (0, self.unknown_id)
        text = "".join(self.tokens[i] for i in ids if i not in skip)
        if self.kind == "jamo":
            text = compose(text)
        return _SPACES.sub(" ", text).strip()

    def to_json(self) -> str:
        return json.dumps(
            {"format": TOKENIZER_FORMAT, "kind": self.kind, "tokens": self.tokens},
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, text: str) -> Tokenizer:
        data = json.loads(text)
        if data.get("format") != TOKENIZER_FORMAT:
            raise ValueError(f"unsupported tokenizer format {data.get('format')!r}")
        return cls(data["tokens"], data["kind"])

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> Tokenizer:
        return cls.from_json(Path(path).read_text(encoding="utf-8"))


def _char_counts(corpus: Iterable[str]) -> Counter[str]:
    """Non-space character frequencies of the corpus."""
    counts: Counter[str] = Counter()
    for text in corpus:
        counts.update(text)
    return Counter({c: n for c, n in counts.items() if not c.isspace()})


def _vocabulary(counts: Counter[str], base: Sequence[str]) -> list[str]:
    """blank, space, corpus characters (most frequent first, ties by code point), base rest."""
    seen = sorted(counts, key=lambda c: (-counts[c], c))
    seen_set = set(seen)
    rest = [c for c in base if c not in seen_set]
    return [BLANK, SPACE, *seen, *rest, UNKNOWN]


def _without_spaces(texts: Iterable[str]) -> list[str]:
    return [_SPACES.sub("", t) for t in texts]


def _check_pairs(refs: Sequence[str], hyps: Sequence[str]) -> None:
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")
    if not refs:
        raise ValueError("no references to score")


def cer(refs: Sequence[str], hyps: Sequence[str]) -> float:
    """Corpus character error rate with spaces removed: total edits / total reference characters."""
    import jiwer

    _check_pairs(refs, hyps)
    return float(jiwer.cer(_without_spaces(refs), _without_spaces(hyps)))


def wer(refs: Sequence[str], hyps: Sequence[str]) -> float:
    """Corpus word (eojeol, space-separated) error rate."""
    import jiwer

    _check_pairs(refs, hyps)
    return float(
        jiwer.wer(
            [_SPACES.sub(" ", r).strip() for r in refs], [_SPACES.sub(" ", h).strip() for h in hyps]
        )
    )
