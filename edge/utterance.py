"""The :class:`Utterance` record: what the runtime keeps of one utterance (never its audio).

It lives on its own so that the store, the statistics and the display can use
it without importing the machinery that makes it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

PARENTS = ("mother", "father")


@dataclass(frozen=True)
class Utterance:
    """One utterance as stored: no audio, only what the statistics and the user need.

    ``start``/``end``: seconds from the start of the recording or capture;
    ``wall_start``: Unix time (s) when it began. ``voice`` is the kind of voice
    (female, male, child, other, unknown); ``speaker`` whose it is (``mother``,
    ``father`` or ``None``) with ``speaker_score`` the voiceprint match (``None``
    when no household is enrolled). ``text`` is ``None`` when it was not
    transcribed (``transcribed`` False: recognition fell behind or was off).
    """

    start: float
    end: float
    wall_start: float
    voice: str
    voice_prob: float
    text: str | None
    syllables: int
    eojeol: int
    transcribed: bool
    stt_model: str = ""
    voice_model: str = ""
    source: str = ""
    speaker: str | None = None
    speaker_score: float | None = None

    @property
    def duration(self) -> float:
        return self.end - self.start

    def on_wall_clock(self) -> Utterance:
        """The same utterance with ``start``/``end`` in Unix time (for stored records)."""
        return replace(self, start=self.wall_start, end=self.wall_start + self.duration)

    def to_json(self) -> dict:
        """The ``segments`` entry of DESIGN.md's ``analyze --json``."""
        score = self.speaker_score
        return {
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "voice": self.voice,
            "voice_prob": round(self.voice_prob, 3),
            "speaker": self.speaker,
            "speaker_score": None if score is None else round(score, 3),
            "text": self.text,
            "syllables": self.syllables,
            "eojeol": self.eojeol,
        }
