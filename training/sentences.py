"""The Korean sentence bank: household and parent–child talk for synthetic speech.

Sentences come from hand-written lines plus templates whose slots are filled
with words written for them (foods, toys, places, times and counts spoken as
words). Korean particles are chosen by the last syllable of the word before
them: ``"{food}[을/를]"`` gives ``사과를`` and ``밥을``.

The bank is built deterministically and stored as package data
(``training/data/sentences.txt``, one sentence per line)::

    python -m training.sentences          # rebuild the file
    bank = load_bank()                    # read it

A fixed share of sentences is *held out* by a hash of their text
(:func:`is_held_out`): the AI-Hub importer routes utterances of held-out
sentences to dev/test only, so the STT model is judged on sentences it never
heard in training.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from edge.hangul import SYLLABLE_FIRST, count_eojeol, is_syllable

log = logging.getLogger(__name__)

BANK_FILE = "sentences.txt"  # in training/data/
SOURCES_FILE = "sentence_sources.txt"  # slots, templates and hand-written lines
HELD_OUT_PERCENT = 10  # share of sentences never used for training
PER_TEMPLATE_MAX = 60  # at most this many sentences from one template
BUILD_SEED = 20261124  # fixes which slot combinations a template keeps
MIN_EOJEOL, MAX_EOJEOL = 2, 15
RECOMBINED_WORDS = (2, 6)  # words per recombined sentence (recombine)
JONG_COUNT = 28  # final-consonant slots per Hangul syllable block
JONG_RIEUL = 8  # index of ㄹ as a final consonant

_PARTICLE = re.compile(r"(\S)\[([^/\]]*)/([^\]]*)\]")
_SLOT = re.compile(r"\{(\w+)\}")


def has_final_consonant(char: str) -> bool:
    """Whether a Hangul syllable ends in a consonant (밥: yes, 나: no)."""
    return is_syllable(char) and (ord(char) - SYLLABLE_FIRST) % JONG_COUNT != 0


def _choose_particle(match: re.Match) -> str:
    char, after_consonant, after_vowel = match.groups()
    final = (ord(char) - SYLLABLE_FIRST) % JONG_COUNT if is_syllable(char) else 0
    if after_consonant == "으로" and final == JONG_RIEUL:
        return char + after_vowel  # 물로, 교실로: ㄹ takes 로
    return char + (after_consonant if has_final_consonant(char) else after_vowel)


def attach_particles(text: str) -> str:
    """Resolve ``[consonant-form/vowel-form]`` markers: ``"밥[을/를]" -> "밥을"``."""
    return _PARTICLE.sub(_choose_particle, text)


def fill_template(template: str, slots: dict[str, str]) -> str:
    """Put slot words into a template and resolve its particles."""
    return attach_particles(_SLOT.sub(lambda m: slots[m.group(1)], template))


@dataclass(frozen=True)
class Sources:
    """The parsed sources file: slot fillers, templates, hand-written sentences."""

    slots: dict[str, tuple[str, ...]]
    templates: tuple[str, ...]
    hand_written: tuple[str, ...]


def parse_sources(text: str) -> Sources:
    """Parse ``@slot = a | b``, ``T: template`` and plain sentence lines (``#`` comments)."""
    slots, templates, hand = {}, [], []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("@"):
            name, _, fillers = line[1:].partition("=")
            slots[name.strip()] = tuple(w.strip() for w in fillers.split("|") if w.strip())
        elif line.startswith("T:"):
            templates.append(line[2:].strip())
        else:
            hand.append(line)
    return Sources(slots, tuple(templates), tuple(hand))


def data_path(name: str) -> Path:
    return Path(str(resources.files("training") / "data" / name))


def load_sources() -> Sources:
    return parse_sources(data_path(SOURCES_FILE).read_text(encoding="utf-8"))


def expand_template(
    template: str,
    slots: dict[str, tuple[str, ...]],
    rng: random.Random,
    limit: int = PER_TEMPLATE_MAX,
) -> list[str]:
    """Up to ``limit`` sentences from the product of a template's slot lists."""
    names = list(dict.fromkeys(_SLOT.findall(template)))
    missing = [n for n in names if n not in slots]
    if missing:
        raise ValueError(f"template {template!r} uses undefined slots {missing}")
    pools = [slots[name] for name in names]
    combos = list(itertools.product(*pools))
    if len(combos) > limit:
        combos = rng.sample(combos, limit)
    return [fill_template(template, dict(zip(names, combo, strict=True))) for combo in combos]


def build_bank(sources: Sources | None = None) -> list[str]:
    """All sentences, deduplicated, in a fixed order (hand-written first)."""
    sources = sources or load_sources()
    rng = random.Random(BUILD_SEED)
    candidates = list(sources.hand_written)
    for template in sources.templates:
        candidates.extend(expand_template(template, sources.slots, rng))
    bank = []
    for sentence in dict.fromkeys(" ".join(s.split()) for s in candidates):
        if MIN_EOJEOL <= count_eojeol(sentence) <= MAX_EOJEOL:
            bank.append(sentence)
    return bank


def bank_path() -> Path:
    return data_path(BANK_FILE)


def write_bank(path: str | Path | None = None) -> Path:
    """Build the bank and write it, one sentence per line."""
    path = Path(path) if path else bank_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    bank = build_bank()
    path.write_text("\n".join(bank) + "\n", encoding="utf-8")
    log.info("wrote %d sentences to %s", len(bank), path)
    return path


@lru_cache(maxsize=1)
def load_bank() -> tuple[str, ...]:
    """The stored bank, in file order; ``script_id`` indexes it."""
    lines = bank_path().read_text(encoding="utf-8").splitlines()
    return tuple(line for line in lines if line.strip())


@lru_cache(maxsize=4)
def load_text_file(path: str) -> tuple[str, ...]:
    """Sentences of a text file, one a line, blank lines and ``#`` comments skipped."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return tuple(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def recombine(sentences: Sequence[str], count: int, seed: int) -> list[str]:
    """``count`` sentences of 2-6 words drawn at random from the words of ``sentences``.

    Real words in no learned order: speech of them teaches a recogniser the sounds
    of words rather than the phrasing of a template bank.
    """
    words = sorted({w.strip(".,?!") for s in sentences for w in s.split()} - {""})
    rng = random.Random(seed)
    made = []
    for _ in range(count):
        chosen = rng.sample(words, rng.randint(RECOMBINED_WORDS[0], RECOMBINED_WORDS[1]))
        made.append(" ".join(chosen) + rng.choice(".?"))
    return made


def script_id(index: int) -> str:
    """The AI-Hub style script id of bank sentence ``index``: ``S000123``."""
    return f"S{index:06d}"


def is_held_out(sentence: str) -> bool:
    """Whether a sentence belongs to the held-out (dev/test only) subset.

    Decided by a hash of the sentence with spaces and punctuation removed, so
    it does not depend on the bank's order or on how a transcript is spaced.
    """
    key = "".join(c for c in sentence if is_syllable(c))
    digest = hashlib.sha1(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") % 100 < HELD_OUT_PERCENT


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    write_bank()
