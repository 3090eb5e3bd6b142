"""Utterance times are tightened to voiced speech: noise the VAD let through is not talk."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from edge.audio import SAMPLE_RATE
from edge.segmenter import Segment
from edge.voice_change import VoiceChangeOptions, split_segment
from tests.conftest import speak

NOISE_BEFORE_S = 0.6  # fan-like noise the VAD counted as the start of the utterance
NOISE_AFTER_S = 0.4


def noisy_segment(tmp_path) -> tuple[Segment, float]:
    rng = np.random.default_rng(3)
    speech = speak("오늘 저녁에 뭐 먹을까요", "ko+f3", tmp_path)
    noise = lambda s: (0.03 * rng.standard_normal(int(s * SAMPLE_RATE))).astype(np.float32)  # noqa: E731
    samples = np.concatenate([noise(NOISE_BEFORE_S), speech, noise(NOISE_AFTER_S)])
    audio_start = 10.0
    segment = Segment(audio_start, audio_start + samples.size / SAMPLE_RATE, audio_start, samples)
    return segment, speech.size / SAMPLE_RATE


def test_times_shrink_to_the_voiced_speech(tmp_path):
    segment, speech_s = noisy_segment(tmp_path)
    (trimmed,) = split_segment(segment, VoiceChangeOptions())
    assert trimmed.start == pytest.approx(segment.start + NOISE_BEFORE_S, abs=0.12)
    assert trimmed.end == pytest.approx(segment.start + NOISE_BEFORE_S + speech_s, abs=0.12)
    # the recognisers still get every sample, padding included
    assert trimmed.samples.size == segment.samples.size


def test_trimming_can_be_turned_off(tmp_path):
    segment, _ = noisy_segment(tmp_path)
    options = VoiceChangeOptions(enabled=False, trim_to_voicing=False)
    (kept,) = split_segment(segment, options)
    assert (kept.start, kept.end) == (segment.start, segment.end)


def test_noise_only_segment_keeps_its_times():
    rng = np.random.default_rng(5)
    samples = (0.05 * rng.standard_normal(SAMPLE_RATE)).astype(np.float32)
    segment = Segment(2.0, 3.0, 2.0, samples)
    (kept,) = split_segment(segment)
    assert (kept.start, kept.end) == (2.0, 3.0)


# --------------------------------------------------------------------------- speaker change

GAP_S = 0.12  # a reply faster than the VAD's hangover: one segment holds both voices


@pytest.fixture(scope="module")
def encoder():
    from edge.speaker import SpeakerEncoder

    return SpeakerEncoder()


def two_voices(first: np.ndarray, second: np.ndarray) -> tuple[Segment, float]:
    """One segment: ``first``, a short pause, ``second``; with the true change time."""
    pad = np.zeros(int(0.15 * SAMPLE_RATE), np.float32)
    pause = np.zeros(int(GAP_S * SAMPLE_RATE), np.float32)
    samples = np.concatenate([pad, first, pause, second, pad])
    change = (pad.size + first.size + pause.size / 2) / SAMPLE_RATE
    return Segment(0.15, samples.size / SAMPLE_RATE - 0.15, 0.0, samples), change


def test_a_quick_female_to_male_reply_is_cut_near_the_change(encoder, tmp_path):
    segment, change = two_voices(
        speak("오늘 저녁에 뭐 먹을까요", "ko+f3", tmp_path),
        speak("김치찌개 어때요 맛있겠다", "ko+m3", tmp_path),
    )
    merged = split_segment(segment, VoiceChangeOptions(enabled=False), encoder)
    assert len(merged) == 1
    first, second = split_segment(segment, VoiceChangeOptions(), encoder)
    assert first.end == pytest.approx(change, abs=0.15)
    assert second.start == pytest.approx(change, abs=0.15)


def test_one_voice_whose_pitch_rises_is_not_cut(encoder):
    from training.speaker_eval import espeak_speech

    segment, _ = two_voices(
        espeak_speech("오늘 저녁에 뭐 먹을까요", "f3", 40),
        espeak_speech("좋아요 두부도 넣을게요", "f3", 70),
    )
    assert len(split_segment(segment, VoiceChangeOptions(), encoder)) == 1


def test_windows_are_computed_only_where_two_speakers_fit(tmp_path):
    class CountingEncoder:
        calls = 0

        def embed_windows(self, *args):
            self.calls += 1
            raise AssertionError("a short utterance needs no windows")

    short = speak("김치찌개", "ko+f3", tmp_path)
    counting = CountingEncoder()
    (kept,) = split_segment(
        Segment(0.0, short.size / SAMPLE_RATE, 0.0, short), VoiceChangeOptions(), counting
    )
    assert counting.calls == 0 and kept.end <= short.size / SAMPLE_RATE


# --------------------------------------------------------------------------- typed tier


def windows_of(vectors: list[np.ndarray], hop_s: float = 0.25):
    """1 s window embeddings, one per hop, from given (unit) vectors."""
    from edge.speaker import WindowEmbeddings

    return WindowEmbeddings(np.arange(len(vectors)) * hop_s, 1.0, np.stack(vectors))


def two_sides(distance: float, n: int = 8) -> list[np.ndarray]:
    """``n`` windows of one speaker, then ``n`` of a second at cosine ``distance`` from it."""
    a = np.zeros(4, np.float32)
    a[0] = 1.0
    b = np.array([1 - distance, np.sqrt(1 - (1 - distance) ** 2), 0, 0], np.float32)
    return [a] * n + [b] * n


def test_a_change_of_voice_type_cuts_at_a_smaller_distance():
    from edge.voice_change import ChangeRule, speaker_changes

    windows = windows_of(two_sides(0.2))  # the second speaker's windows start at 2.0 s
    gaps = [1.0, 2.5, 3.1]  # 2.5 s: the first window wholly after it is the second speaker's
    typed = ChangeRule(0.3, 0.15, lambda v: "child" if v[1] > 0.3 else "female")
    same = ChangeRule(0.3, 0.15, lambda v: "female")
    assert speaker_changes(windows, gaps, ChangeRule(0.3), 0.0, 5.0) == []
    assert speaker_changes(windows, gaps, same, 0.0, 5.0) == []
    assert speaker_changes(windows, gaps, typed, 0.0, 5.0) == [2.5]


def child_reply_scene(mother_variant: str, child_variant: str, said: str, tmp_path):
    """A mother's sentence, the child's reply 0.1 s later (quicker than the VAD's endpoint),
    in a faint noise floor: ``(wav path, mother's truth s, child's truth s)``."""
    from edge.audio import save_audio
    from training import synth
    from training.scenes import TRUTH_TRIM_DB
    from training.voiceconv import VoiceChange, convert

    def voice(variant: str, text: str, change: VoiceChange) -> np.ndarray:
        x = convert(
            synth.synthesize(text, synth.Speaker("T", "female", 34, variant, 50, 160, 0.0)), change
        )
        low, high = synth.speech_bounds(x, TRUTH_TRIM_DB)
        return x, (high - low) / SAMPLE_RATE

    mother, mother_s = voice(mother_variant, said, VoiceChange(f0_median_hz=215.0))
    # a young child: F0 330 Hz, a vocal tract 28 % shorter, faster
    child_change = VoiceChange(f0_median_hz=330.0, formant_scale=1.28, tempo=1.2)
    child, child_s = voice(child_variant, "싫어요 더 놀래요", child_change)
    lead, gap, tail = (np.zeros(int(s * SAMPLE_RATE), np.float32) for s in (0.8, 0.1, 1.0))
    x = np.concatenate([lead, mother, gap, child, tail])
    x = 0.5 * x / np.abs(x).max() + 0.003 * np.random.default_rng(1).standard_normal(x.size)
    path = tmp_path / "reply.wav"
    save_audio(path, x.astype(np.float32))
    return path, mother_s, child_s


@pytest.mark.parametrize(
    "mother_variant, child_variant, said",
    [("Annie", "f5", "오늘은 공원에 가서 같이 놀자"), ("f5", "m7", "이제 씻고 잘 시간이야")],
)
def test_a_childs_quick_reply_after_the_mother_gets_the_childs_seconds(
    mother_variant, child_variant, said, tmp_path
):
    """The whole pipeline (what ``talkratio analyze`` runs): the reply is cut off the mother's
    sentence and each part gets its own voice, so the child's seconds are not hers (without
    the typed tier the reply stayed in the mother's utterance)."""
    pytest.importorskip("pyworld")
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    from edge.pipeline import PipelineOptions, analyze_file
    from edge.recognition import load_recognizers

    path, mother_s, child_s = child_reply_scene(mother_variant, child_variant, said, tmp_path)
    options = PipelineOptions(transcribe=False)
    analysis = analyze_file(path, load_recognizers(transcribe=False), options)
    mother, child = analysis.utterances  # one VAD segment, cut in two
    assert (mother.voice, child.voice) == ("female", "child")
    assert mother.end <= child.start
    seconds = analysis.summary.seconds
    assert seconds["child"] >= 0.7 * child_s, seconds
    assert seconds["mother"] <= mother_s + 0.3, seconds


# --------------------------------------------------------------------------- early cuts


def reply_stream(tmp_path) -> tuple[np.ndarray, float, float]:
    """A woman's question, a man's quick and long answer (one VAD segment), then silence:
    ``(samples, change s, end of the man's voice s)``."""
    lead, gap, tail = (np.zeros(int(s * SAMPLE_RATE), np.float32) for s in (0.5, GAP_S, 1.0))
    question = speak("오늘 저녁에 뭐 먹을까요", "ko+f3", tmp_path)
    answer = np.concatenate([
        speak("김치찌개 어때요 맛있겠다", "ko+m3", tmp_path), np.zeros(int(0.1 * SAMPLE_RATE), np.float32),
        speak("두부도 넣고 파도 넣어서 끓이자", "ko+m3", tmp_path),
    ])  # fmt: skip
    samples = np.concatenate([lead, question, gap, answer, tail])
    change = (lead.size + question.size + gap.size / 2) / SAMPLE_RATE
    return samples, change, (samples.size - tail.size) / SAMPLE_RATE


def yielded_at(samples: np.ndarray, cutter) -> list[tuple[float, object]]:
    """``(audio fed so far s, segment)`` for each segment, fed as a microphone's 32 ms blocks."""
    from edge.segmenter import segment_stream

    fed = [0]

    def blocks():
        for i in range(0, samples.size, 512):
            fed[0] = min(samples.size, i + 512)
            yield samples[i : i + 512]

    return [(fed[0] / SAMPLE_RATE, s) for s in segment_stream(blocks(), cut_early=cutter)]


def test_a_part_cut_at_a_voice_change_is_emitted_before_the_segment_ends(encoder, tmp_path):
    from edge.voice import load_voice_tagger
    from edge.voice_change import early_cuts

    samples, change, answer_end = reply_stream(tmp_path)
    options = VoiceChangeOptions(early=True)
    assert early_cuts(VoiceChangeOptions(), encoder) is None  # off unless asked for (CPU)
    ((at_end, whole),) = yielded_at(samples, None)  # without: one segment, after the answer
    assert at_end > answer_end and whole.end > answer_end - 0.2
    (first_at, first), (_, rest) = yielded_at(
        samples, early_cuts(options, encoder, load_voice_tagger())
    )
    assert first.end == pytest.approx(change, abs=0.15)
    assert first_at < answer_end - 0.5  # recorded while the man is still talking
    assert rest.start == pytest.approx(first.end, abs=0.05) and rest.end > answer_end - 0.2


def test_early_cuts_are_the_same_for_a_files_blocks_and_a_microphones(encoder, tmp_path):
    from edge.segmenter import segment_stream
    from edge.voice import load_voice_tagger
    from edge.voice_change import early_cuts

    samples, _, _ = reply_stream(tmp_path)
    tagger = load_voice_tagger()

    def cuts(block: int) -> list[tuple[float, float]]:
        blocks = (samples[i : i + block] for i in range(0, samples.size, block))
        cutter = early_cuts(VoiceChangeOptions(early=True), encoder, tagger)
        return [(s.start, s.end) for s in segment_stream(blocks, cut_early=cutter)]

    microphone = cuts(512)
    assert len(microphone) == 2 and cuts(10 * SAMPLE_RATE) == microphone


# --------------------------------------------------------------------------- local context


def three_voices(cosine: float = 0.65) -> list[np.ndarray]:
    """8 windows of a first voice (starts 0-1.75 s), 16 of a second (2-5.75 s), 8 of a third
    (6-7.75 s); every two voices at the same ``cosine``."""
    voices = []
    for i in range(3):
        v = np.zeros(4, np.float32)
        v[3], v[i] = np.sqrt(cosine), np.sqrt(1 - cosine)
        voices.append(v)
    return [voices[0]] * 8 + [voices[1]] * 16 + [voices[2]] * 8


THREE_GAPS = [1.2, 2.7, 4.3, 6.7, 7.9]  # 2.7 and 6.7: the first windows wholly past them change


def test_a_voice_between_two_others_is_cut_out_on_local_windows():
    """A child, the TV, then the mother in one segment, each two 0.35 apart: against the mean
    of the two voices after it the child is under 0.3 away (one mean dilutes the other), so
    the whole-part search finds nothing; judged on 2 s either side each change stands."""
    from edge.voice_change import ChangeRule, speaker_changes

    windows = windows_of(three_voices())
    assert speaker_changes(windows, THREE_GAPS, ChangeRule(0.3), 0.0, 9.0) == []
    assert speaker_changes(windows, THREE_GAPS, ChangeRule(0.3), 0.0, 9.0, 2.0) == [2.7, 6.7]
    assert VoiceChangeOptions().context_s == 2.0  # the runtime judges pauses locally


def test_one_voice_judged_locally_is_not_cut():
    from edge.voice_change import ChangeRule, speaker_changes

    same = windows_of([three_voices()[0]] * 32)
    assert speaker_changes(same, THREE_GAPS, ChangeRule(0.3), 0.0, 9.0, 2.0) == []


def test_a_change_is_found_when_a_stronger_pause_falls_short_of_the_distance():
    """Weighted by window counts, a pause splitting one long voice in halves can outscore the
    true change to a short reply; the search takes the strongest pause that reaches the
    distance, not the strongest pause and then its distance."""
    from edge.voice_change import ChangeRule, speaker_changes, strongest_change

    a = np.array([1, 0, 0, 0], np.float32)
    drift = np.array([0.75, np.sqrt(1 - 0.75**2), 0, 0], np.float32)  # 0.25 from a
    reply = np.array([0.6, 0, np.sqrt(1 - 0.6**2), 0], np.float32)  # 0.4 from a
    windows = windows_of([a] * 12 + [drift] * 12 + [reply] * 4)
    gaps = [3.6, 6.7]  # the voice drifts at 3 s; the reply's windows start at 6 s
    drifted, distance = strongest_change(windows, gaps, 0.0, 8.0)
    assert drifted == 3.6 and distance < 0.3  # the strongest pause overall is no change
    assert speaker_changes(windows, gaps, ChangeRule(0.3), 0.0, 8.0) == [6.7]


def test_tv_between_a_mother_and_a_fathers_quick_reply_gets_its_own_record(encoder, tmp_path):
    """The mother, the TV through a loudspeaker 12 dB under her, then the father, each after
    0.1 s (one VAD segment): the TV is cut out at both changes and called ``other``, so none
    of its seconds go to a parent."""
    from edge.voice import load_voice_tagger
    from training.voice.home import loudspeaker

    mother = speak("오늘은 공원에 가서 같이 놀자 알았지", "ko+f3", tmp_path)
    tv = loudspeaker(speak("내일은 전국에 비가 내리겠습니다 우산을 챙기세요", "ko+f5", tmp_path),
                     np.random.default_rng(2))  # fmt: skip
    tv *= np.sqrt(np.mean(mother**2) / np.mean(tv**2)) * 10 ** (-12 / 20)
    father = speak("김치찌개 어때요 맛있겠다", "ko+m7", tmp_path)
    pad, gap = (np.zeros(int(s * SAMPLE_RATE), np.float32) for s in (0.15, 0.1))
    x = np.concatenate([pad, mother, gap, tv, gap, father, pad]).astype(np.float32)
    x += 0.002 * np.random.default_rng(0).standard_normal(x.size).astype(np.float32)
    tv_start = (pad.size + mother.size + gap.size / 2) / SAMPLE_RATE
    tv_end = tv_start + (gap.size + tv.size) / SAMPLE_RATE
    tagger = load_voice_tagger()
    parts = split_segment(Segment(0.15, x.size / SAMPLE_RATE - 0.15, 0.0, x),
                          VoiceChangeOptions(), encoder, tagger)  # fmt: skip
    voices = [tagger.tag(p.samples, embedding=encoder.embed(p.samples)).voice for p in parts]
    tv_parts = [p for p, v in zip(parts, voices, strict=True) if v == "other"]
    assert len(tv_parts) >= 1, voices
    assert tv_parts[0].start == pytest.approx(tv_start, abs=0.15)
    assert tv_parts[-1].end == pytest.approx(tv_end, abs=0.15)
    for part, voice in zip(parts, voices, strict=True):
        inside_tv = max(0.0, min(part.end, tv_end) - max(part.start, tv_start))
        assert voice == "other" or inside_tv < 0.15, (part, voice)
