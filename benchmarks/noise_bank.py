"""A test noise bank that no model of the project trained on: household sounds for measuring.

training/noise.py makes the noise the models learn from (hum, fan, vacuum, rumble,
speech-shaped babble, a TV of speech-shaped noise and a sine chord). This bank is
kept apart on purpose: its own generators, its own seed space
(:data:`TEST_BANK_SEED`, never used by training), and for the speech-like kinds
real speech in other languages (espeak-ng's English, German, French, Spanish,
Italian and Finnish voices, not its Korean one). Nothing here is imported by
training/, and nothing from training/noise.py's generators is used here.

Kinds: ``music`` (notes with harmonics over a chord progression, bass and
hi-hat), ``tv`` (a foreign-language talker and a music bed through a small
loudspeaker), ``babble`` (six foreign talkers in another room), ``washer`` (drum
thumps, motor hum, water swish), ``vacuum`` (a motor whine with harmonics
sweeping with the load, and airflow), ``kitchen`` (dish clinks, running water,
a fridge), ``baby`` (a crying baby: harmonic cries with rising-falling pitch)
and ``play`` (children's shouts, a squeaky toy and blocks). Each is a function
``(n_samples, rng) -> unit-RMS float32``.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np

from edge.audio import SAMPLE_RATE, load_audio

TEST_BANK_SEED = 90_210  # seed space of this bank; training seeds are small integers
FOREIGN_VOICES = ("en-us", "de", "fr-fr", "es", "it", "fi")  # espeak-ng voices, never Korean
FOREIGN_LINES = (
    "The weather will be cloudy tomorrow with some rain in the afternoon.",
    "Heute Abend zeigen wir einen Film über die Berge und das Meer.",
    "Le journal de vingt heures commence maintenant avec les nouvelles du jour.",
    "La receta de hoy lleva tomates, cebolla y un poco de aceite.",
    "Il treno per Milano partirà dal binario tre tra dieci minuti.",
    "Huomenna on aurinkoinen päivä ja tuuli on heikko koko maassa.",
)
EPS = 1e-12


def _unit_rms(x: np.ndarray) -> np.ndarray:
    return (x / np.sqrt(np.mean(np.square(x)) + EPS)).astype(np.float32)


def _time(n: int) -> np.ndarray:
    return np.arange(n) / SAMPLE_RATE


def _bandpass(x: np.ndarray, low_hz: float, high_hz: float) -> np.ndarray:
    """A brick-wall band in the frequency domain (enough for noise colouring)."""
    spectrum = np.fft.rfft(x)
    freqs = np.fft.rfftfreq(x.size, 1 / SAMPLE_RATE)
    spectrum[(freqs < low_hz) | (freqs > high_hz)] = 0
    return np.fft.irfft(spectrum, x.size).astype(np.float32)


def _pink(n: int, rng: np.random.Generator) -> np.ndarray:
    """1/f noise: white noise with its spectrum scaled by 1/sqrt(f)."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
    spectrum /= np.sqrt(np.maximum(freqs, 20.0))
    return _unit_rms(np.fft.irfft(spectrum, n))


def _decaying(freq_hz: float, seconds: float, decay_s: float, harmonics: int = 4) -> np.ndarray:
    """A struck tone: harmonics falling off as 1/k, amplitude decaying exponentially."""
    t = _time(int(seconds * SAMPLE_RATE))
    tone = sum(np.sin(2 * np.pi * freq_hz * k * t) / k for k in range(1, harmonics + 1)
               if freq_hz * k < SAMPLE_RATE / 2)
    return (tone * np.exp(-t / decay_s)).astype(np.float32)


def _place(track: np.ndarray, sound: np.ndarray, at: int) -> None:
    end = min(track.size, at + sound.size)
    if at < end:
        track[at:end] += sound[: end - at]


# --------------------------------------------------------------------------- kinds


def music(n: int, rng: np.random.Generator) -> np.ndarray:
    """Pop-like music: a melody, chords on each bar, a bass line and hi-hats."""
    beat_s = 60.0 / rng.uniform(80, 140)
    track = np.zeros(n, np.float32)
    root_hz = 110.0 * 2 ** (rng.integers(0, 12) / 12)
    progression = [0, 5, 7, 3] if rng.random() < 0.5 else [0, 9, 5, 7]
    for beat in range(int(n / SAMPLE_RATE / beat_s) + 1):
        at = int(beat * beat_s * SAMPLE_RATE)
        chord_root = root_hz * 2 ** (progression[(beat // 4) % 4] / 12)
        if beat % 4 == 0:
            for step in (0, 4, 7):
                _place(track, 0.25 * _decaying(2 * chord_root * 2 ** (step / 12), 4 * beat_s, 1.5), at)
        _place(track, 0.5 * _decaying(chord_root / 2, beat_s, 0.3, 6), at)
        melody_hz = 4 * chord_root * 2 ** (rng.choice([0, 2, 4, 7, 9, 12]) / 12)
        _place(track, 0.3 * _decaying(melody_hz, beat_s, 0.25, 3), at)
        hat = rng.standard_normal(int(0.04 * SAMPLE_RATE)) * np.exp(-np.arange(640) / 120)
        _place(track, 0.1 * _bandpass(hat.astype(np.float32), 6000, 8000), at + int(beat_s * 8000))
    return _unit_rms(track)


@cache
def _foreign_clip(voice: str, line: str) -> np.ndarray:
    """One foreign sentence from espeak-ng at 16 kHz (silence at both ends trimmed)."""
    if shutil.which("espeak-ng") is None:
        raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng)")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "line.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-w", str(path), line], check=True)
        samples = load_audio(path)
    loud = np.flatnonzero(np.abs(samples) > 0.01)
    return samples[loud[0] : loud[-1] + 1]


def _foreign_talker(n: int, rng: np.random.Generator) -> np.ndarray:
    """One foreign talker saying random lines with pauses, starting anywhere."""
    voice = str(rng.choice(FOREIGN_VOICES))
    parts, total = [], 0
    while total < n + SAMPLE_RATE * 5:
        clip = _foreign_clip(voice, str(rng.choice(FOREIGN_LINES)))
        pause = np.zeros(int(rng.uniform(0.2, 0.9) * SAMPLE_RATE), np.float32)
        parts += [clip, pause]
        total += clip.size + pause.size
    stream = np.concatenate(parts)
    start = int(rng.integers(0, stream.size - n))
    return stream[start : start + n]


def _other_room(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Heard through a wall: low-passed with a long smeared tail (own decaying echo train)."""
    echoes = np.zeros(int(0.6 * SAMPLE_RATE), np.float32)
    taps = rng.integers(1, echoes.size, 60)
    echoes[taps] = rng.standard_normal(60) * np.exp(-taps / (0.15 * SAMPLE_RATE))
    echoes[0] = 0.3
    wet = np.convolve(x, echoes)[: x.size]
    return _bandpass(wet, 100, 3000)


def tv(n: int, rng: np.random.Generator) -> np.ndarray:
    """A TV show: a foreign talker over a music bed, through a small loudspeaker."""
    mixed = _unit_rms(_foreign_talker(n, rng)) + 0.3 * music(n, rng)
    return _unit_rms(_bandpass(mixed, 200, 5500))


def babble(n: int, rng: np.random.Generator) -> np.ndarray:
    """Six foreign talkers at once in another room (a party, a café)."""
    talkers = [_unit_rms(_foreign_talker(n, rng)) * rng.uniform(0.6, 1.0) for _ in range(6)]
    return _unit_rms(_other_room(np.sum(talkers, axis=0), rng))


def washer(n: int, rng: np.random.Generator) -> np.ndarray:
    """A washing machine: drum thumps each turn, motor hum with harmonics, water swish."""
    t = _time(n)
    turn_hz = rng.uniform(0.8, 1.4)
    swish = _bandpass(rng.standard_normal(n).astype(np.float32), 200, 2500)
    swish *= (0.5 + 0.5 * np.sin(2 * np.pi * turn_hz * t)) ** 2
    motor_hz = rng.uniform(45, 70)
    motor = sum(np.sin(2 * np.pi * motor_hz * k * t) / k for k in range(1, 8))
    thumps = np.zeros(n, np.float32)
    for at in np.arange(0, n / SAMPLE_RATE, 1 / turn_hz):
        _place(thumps, _decaying(rng.uniform(60, 90), 0.25, 0.05, 2), int(at * SAMPLE_RATE))
    return _unit_rms(_unit_rms(swish) + 0.5 * _unit_rms(motor) + 0.8 * _unit_rms(thumps))


def vacuum(n: int, rng: np.random.Generator) -> np.ndarray:
    """A vacuum cleaner: motor whine whose pitch sweeps with the load, and airflow."""
    load = np.cumsum(rng.standard_normal(n)) / SAMPLE_RATE  # slow random walk of the load
    load = np.interp(load, (load.min(), load.max()), (-1, 1))
    whine_hz = rng.uniform(700, 1500) * (1 + 0.05 * load)
    phase = 2 * np.pi * np.cumsum(whine_hz) / SAMPLE_RATE
    whine = sum(np.sin(k * phase) / k**1.5 for k in range(1, 5))
    air = _bandpass(_pink(n, rng), 150, 7500)
    return _unit_rms(air + 0.3 * _unit_rms(whine))


def kitchen(n: int, rng: np.random.Generator) -> np.ndarray:
    """A kitchen: dishes clinking, a tap running now and then, the fridge humming."""
    track = np.zeros(n, np.float32)
    for at in rng.uniform(0, n, int(n / SAMPLE_RATE * 1.5)).astype(int):
        clink = _decaying(rng.uniform(1800, 5000), 0.3, rng.uniform(0.03, 0.12), 3)
        _place(track, rng.uniform(0.5, 2.0) * clink, at)
    tap = _bandpass(rng.standard_normal(n).astype(np.float32), 500, 6000)
    gate = np.repeat(rng.random(n // SAMPLE_RATE + 1) < 0.4, SAMPLE_RATE)[:n]
    fridge = np.sin(2 * np.pi * rng.uniform(95, 125) * _time(n))
    return _unit_rms(_unit_rms(track) + 0.6 * _unit_rms(tap) * gate + 0.2 * fridge)


def _cry(seconds: float, f0_hz: float) -> np.ndarray:
    """One cry: harmonic, pitch rising then falling, a tense (bright) voice."""
    t = _time(int(seconds * SAMPLE_RATE))
    contour = f0_hz * (1 + 0.25 * np.sin(np.pi * t / seconds))
    phase = 2 * np.pi * np.cumsum(contour) / SAMPLE_RATE
    tone = sum(np.sin(k * phase) / k**0.8 for k in range(1, 10))
    return (tone * np.sin(np.pi * t / seconds) ** 0.5).astype(np.float32)


def baby(n: int, rng: np.random.Generator) -> np.ndarray:
    """A crying baby: cries of 0.5-1.5 s at 350-600 Hz with gasps between them."""
    track, at = np.zeros(n, np.float32), 0
    while at < n:
        cry = _cry(rng.uniform(0.5, 1.5), rng.uniform(350, 600))
        _place(track, cry, at)
        at += cry.size + int(rng.uniform(0.2, 1.5) * SAMPLE_RATE)
    return _unit_rms(track)


def play(n: int, rng: np.random.Generator) -> np.ndarray:
    """Children playing in the next room: short shouts, a squeaky toy, blocks falling."""
    track = np.zeros(n, np.float32)
    seconds = n / SAMPLE_RATE
    for at in rng.uniform(0, n, int(seconds * 0.8)).astype(int):
        _place(track, 0.8 * _cry(rng.uniform(0.15, 0.5), rng.uniform(280, 450)), at)
    for at in rng.uniform(0, n, int(seconds * 0.5)).astype(int):
        _place(track, _decaying(rng.uniform(1500, 2500), 0.2, 0.08, 2), at)
    for at in rng.uniform(0, n, int(seconds * 1.0)).astype(int):
        _place(track, 0.7 * _decaying(rng.uniform(300, 900), 0.1, 0.02, 5), at)
    return _unit_rms(_other_room(track, rng))


TEST_NOISES: dict[str, Callable[[int, np.random.Generator], np.ndarray]] = {
    "music": music, "tv": tv, "babble": babble, "washer": washer, "vacuum": vacuum,
    "kitchen": kitchen, "baby": baby, "play": play,
}


def bank_noise(kind: str, n: int, seed: int = 0) -> np.ndarray:
    """``n`` samples of one kind of the test bank, unit RMS, from the bank's own seed space."""
    return TEST_NOISES[kind](n, np.random.default_rng([TEST_BANK_SEED, seed]))
