"""The segmenter finds utterances where the speech is, keeps words whole and splits long talk
at a pause."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge.audio import SAMPLE_RATE
from edge.segmenter import Segmenter, SegmenterOptions, segment_stream
from tests.conftest import speak

TOLERANCE_S = 0.15  # VAD decisions are per 30 ms frame, plus the fade of the synthetic voice


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("speech")
    return {
        "long_f": speak("오늘 저녁에 뭐 먹을까요 밥 먹자", "ko+f3", folder),
        "m": speak("아빠가 회사에서 늦게 와요", "ko", folder),
        "short": speak("네", "ko", folder),
    }


def silence(seconds):
    return np.zeros(int(seconds * SAMPLE_RATE), np.float32)


def with_noise(x, rms=0.003, seed=0):
    return x + np.random.default_rng(seed).normal(0, rms, x.size).astype(np.float32)


def blocks_of(x, size=1600):
    return [x[i : i + size] for i in range(0, x.size, size)]


def layout(*parts):
    """Concatenate clips and silences; return audio and where each clip lies (s)."""
    t, spans, pieces = 0.0, [], []
    for part in parts:
        if isinstance(part, float):
            pieces.append(silence(part))
        else:
            spans.append((t, t + part.size / SAMPLE_RATE))
            pieces.append(part)
        t += pieces[-1].size / SAMPLE_RATE
    return with_noise(np.concatenate(pieces)), spans


def test_utterances_are_found_where_the_speech_is(clips):
    audio, truth = layout(1.0, clips["long_f"], 0.8, clips["m"], 1.0)
    segments = list(segment_stream(blocks_of(audio)))
    assert len(segments) == 2
    for segment, (start, end) in zip(segments, truth, strict=True):
        assert abs(segment.start - start) < TOLERANCE_S
        assert abs(segment.end - end) < TOLERANCE_S


def test_padding_gives_the_recognisers_audio_around_the_voiced_frames(clips):
    audio, _ = layout(1.0, clips["m"], 1.0)
    options = SegmenterOptions(pad_start_ms=150, pad_end_ms=150)
    (segment,) = segment_stream(blocks_of(audio), options)
    # 150 ms on each side of the model's frames, to a frame; the voice's own edges lie
    # within those frames or up to two frames (64 ms) before the first
    audio_end = segment.audio_start + segment.samples.size / SAMPLE_RATE
    assert 0.15 - 0.031 <= segment.start - segment.audio_start <= 0.15 + 0.031 + 0.064
    assert 0.15 - 0.031 <= audio_end - segment.end <= 0.15 + 0.031 + 0.064
    first = int(segment.audio_start * SAMPLE_RATE)
    assert np.array_equal(segment.samples, audio[first : first + segment.samples.size])


def test_a_pause_shorter_than_the_hangover_stays_inside_one_utterance(clips):
    audio, _ = layout(0.5, clips["m"], 0.5, clips["m"], 1.0)
    assert len(list(segment_stream(blocks_of(audio), SegmenterOptions(hangover_ms=800, endpoint_ms=800)))) == 1
    assert len(list(segment_stream(blocks_of(audio), SegmenterOptions(hangover_ms=240)))) == 2


def test_too_short_sounds_are_dropped(clips):
    audio, _ = layout(0.5, clips["short"], 0.5)
    short_s = clips["short"].size / SAMPLE_RATE
    kept = list(segment_stream(blocks_of(audio), SegmenterOptions(min_utterance_ms=200)))
    dropped = list(
        segment_stream(
            blocks_of(audio), SegmenterOptions(min_utterance_ms=int(short_s * 1000) + 200)
        )
    )
    assert len(kept) == 1 and dropped == []


def test_long_speech_is_split_in_a_pause_not_mid_word(clips):
    gap_s = 0.1  # with the faint clip tails, still shorter than the hangover: one utterance
    audio, truth = layout(0.5, clips["long_f"], gap_s, clips["long_f"], gap_s, clips["long_f"], 0.6)
    options = SegmenterOptions(max_utterance_s=4.0)
    segments = list(segment_stream(blocks_of(audio), options))
    assert len(segments) >= 2
    assert all(s.duration <= 4.0 + 0.031 for s in segments)
    gaps = [(a_end, b_start) for (_, a_end), (b_start, _) in zip(truth, truth[1:], strict=False)]
    for cut in (s.end for s in segments[:-1]):
        assert any(lo - 0.1 <= cut <= hi + 0.1 for lo, hi in gaps), f"cut at {cut} is mid-word"
    # consecutive pieces meet: no speech time is lost at a split
    for a, b in zip(segments, segments[1:], strict=False):
        assert b.start == pytest.approx(a.end)


@pytest.mark.parametrize("vad", ["webrtc", "silero", "both"])
def test_results_do_not_depend_on_block_size(clips, vad):
    audio, _ = layout(1.0, clips["long_f"], 0.8, clips["m"], 1.0)
    options = SegmenterOptions(vad=vad)
    whole = [(s.start, s.end) for s in segment_stream([audio], options)]
    assert len(whole) == 2
    for size in (37, 512, 1600):
        assert [(s.start, s.end) for s in segment_stream(blocks_of(audio, size), options)] == whole


@pytest.mark.parametrize("frame_ms", [10, 20, 30])
def test_every_webrtcvad_frame_length_finds_the_utterances(clips, frame_ms):
    audio, truth = layout(1.0, clips["long_f"], 0.8, clips["m"], 1.0)
    options = SegmenterOptions(frame_ms=frame_ms, onset_ms=max(frame_ms, 60), pad_end_ms=frame_ms)
    segments = list(segment_stream(blocks_of(audio), options))
    assert [round(s.start, 1) for s in segments] == pytest.approx([t[0] for t in truth], abs=0.2)


def test_silence_and_noise_give_no_utterances():
    audio = with_noise(silence(3.0), rms=0.01)
    assert list(segment_stream(blocks_of(audio), SegmenterOptions(aggressiveness=3))) == []


def test_stream_end_finishes_the_utterance_in_flight(clips):
    audio, truth = layout(0.5, clips["long_f"])  # speech runs to the very end
    segmenter = Segmenter()
    assert list(segmenter.feed(audio)) == []
    assert segmenter.in_speech
    (segment,) = segmenter.flush()
    assert segment.start == pytest.approx(truth[0][0], abs=TOLERANCE_S)


def test_denoise_before_vad_still_finds_speech_in_noise(clips):
    audio, truth = layout(1.0, clips["m"], 1.0)
    noisy = audio + np.random.default_rng(1).normal(0, 0.02, audio.size).astype(np.float32)
    segments = list(segment_stream(blocks_of(noisy), SegmenterOptions(denoise=True)))
    assert len(segments) == 1
    assert segments[0].start == pytest.approx(truth[0][0], abs=0.2)
    first = int(segments[0].audio_start * SAMPLE_RATE)  # the recognisers get the audio as heard
    assert np.array_equal(segments[0].samples[:100], noisy[first : first + 100])


@pytest.mark.parametrize(
    ("bad", "named"),
    [
        (dict(frame_ms=25), "frame_ms"),
        (dict(aggressiveness=4), "aggressiveness"),
        (dict(gate_aggressiveness=-1), "gate_aggressiveness"),
        (dict(vad="neural"), "vad"),
        (dict(pad_end_ms=500, hangover_ms=300), "pad_end_ms"),
        (dict(max_utterance_s=0.4), "max_utterance_s"),  # a split needs 2 x 200 ms + smoothing
        (dict(hangover_ms=100, endpoint_ms=100), "hangover_ms"),  # shorter than the onset window
        (dict(endpoint_ms=300, hangover_ms=240), "endpoint_ms"),
        (dict(onset_threshold=0.3, offset_threshold=0.5), "offset_threshold"),
        (dict(onset_ms=200, onset_window_ms=150), "onset_ms"),
        (dict(edge_drop_db=-3.0), "edge_drop_db"),
    ],
)
def test_impossible_options_are_refused(bad, named):
    with pytest.raises(ValueError, match=named):
        SegmenterOptions(**bad)


def test_steady_noise_after_speech_does_not_prolong_the_utterance(clips):
    """webrtcvad alone hears fan-like noise next to speech as speech; the neural VAD ends
    the utterance with the voice, so the noise's seconds are not credited to a parent."""
    rng = np.random.default_rng(1)
    speech = clips["m"]
    fan = lambda s: (0.02 * rng.standard_normal(int(s * SAMPLE_RATE))).astype(np.float32)  # noqa: E731
    audio = np.concatenate([fan(3.5), speech + fan(speech.size / SAMPLE_RATE), fan(2.0)])
    speech_end = 3.5 + speech.size / SAMPLE_RATE
    segments = list(segment_stream(blocks_of(audio)))
    assert len(segments) == 1
    assert segments[0].start == pytest.approx(3.5, abs=0.15)
    assert segments[0].end <= speech_end + 0.05  # without the gate: +0.10 s here


def at_snr(speech, noise, snr_db):
    """``noise`` scaled to ``snr_db`` below the speech's power (over the speech samples)."""
    gain = np.sqrt(np.mean(speech**2) / np.mean(noise**2) / 10 ** (snr_db / 10))
    return (noise * gain).astype(np.float32)


def test_speech_at_5_db_in_music_is_found(clips):
    from benchmarks.noise_bank import bank_noise

    speech, spans = layout(2.0, clips["long_f"], 2.0)
    (start, end), = spans
    voiced = speech[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)]
    music = at_snr(voiced, bank_noise("music", speech.size, seed=3), 5.0)
    segments = list(segment_stream(blocks_of(speech + music)))
    assert len(segments) == 1
    assert segments[0].start == pytest.approx(start, abs=TOLERANCE_S)
    assert segments[0].end == pytest.approx(end, abs=TOLERANCE_S)
    # webrtcvad alone hears the music as speech from its first beat
    alone = list(segment_stream(blocks_of(speech + music), SegmenterOptions(vad="webrtc")))
    assert alone[0].start < start - 1.0


@pytest.mark.parametrize("vad", ["webrtc", "silero", "both"])
def test_a_30_ms_click_is_not_an_utterance(vad):
    audio = with_noise(silence(2.0))
    click = np.random.default_rng(4).uniform(-0.8, 0.8, int(0.03 * SAMPLE_RATE))
    audio[SAMPLE_RATE : SAMPLE_RATE + click.size] += click.astype(np.float32)
    assert list(segment_stream(blocks_of(audio), SegmenterOptions(vad=vad))) == []


def test_seconds_do_not_grow_or_shrink_with_the_noise_level(clips):
    """The utterance's seconds are its speech, whatever the noise around it (here 30 to 5 dB
    of steady noise; webrtcvad alone drifts by a second)."""
    speech, spans = layout(2.0, clips["long_f"], 2.0)
    (start, end), = spans
    voiced = speech[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)]
    hiss = np.random.default_rng(5).normal(0, 1, speech.size).astype(np.float32)
    durations = {}
    for snr_db in (30.0, 15.0, 5.0):
        noisy = speech + at_snr(voiced, hiss, snr_db)
        (segment,) = segment_stream(blocks_of(noisy))
        durations[snr_db] = segment.duration
    assert max(durations.values()) - min(durations.values()) < 0.1
    assert all(abs(d - (end - start)) < 0.15 for d in durations.values())


def test_a_rooms_echo_after_the_last_word_does_not_lengthen_the_utterance(clips):
    """In a reverberant room the model stays sure of speech while the echo dies away; the
    seconds end near the voice's own end (its last 10 ms within 30 dB of its loudest, the
    scenes' truth), in a dry room to a piece."""
    from training.noise import reverberate
    from training.scenes import TRUTH_TRIM_DB
    from training.synth import speech_bounds

    speech, spans = layout(2.0, clips["long_f"], 2.0)
    voice_end = spans[0][0] + speech_bounds(clips["long_f"], TRUTH_TRIM_DB)[1] / SAMPLE_RATE
    (dry,) = segment_stream(blocks_of(speech))
    assert dry.end == pytest.approx(voice_end, abs=0.03)
    room = np.random.default_rng(6)
    wet = reverberate(speech, room, rt60_range_s=(0.5, 0.5), direct_ratio_range=(1.0, 1.0))
    (echoing,) = segment_stream(blocks_of(wet), SegmenterOptions(edge_drop_db=0))
    (segment,) = segment_stream(blocks_of(wet))
    assert echoing.end > voice_end + 0.12  # the model's frames alone: the echo is speech
    assert segment.end < echoing.end - 0.05
    assert segment.end <= voice_end + 0.1
    assert segment.start == pytest.approx(spans[0][0], abs=TOLERANCE_S)


def _spy_on_the_model(segmenter: Segmenter) -> list[tuple[int, int]]:
    """Record (frame being judged, windows in the call) for each call of the neural VAD."""
    calls, judge = [], segmenter._neural.probabilities

    def spy(windows):
        calls.append((segmenter._next_index, len(windows)))
        return judge(windows)

    segmenter._neural.probabilities = spy
    return calls


def test_the_neural_vad_sleeps_through_silence_yet_finds_the_onset(clips):
    speech = clips["long_f"]
    truth = [(6.0, 6.0 + speech.size / SAMPLE_RATE)]
    # digital silence around the speech (a muted or silent input): webrtcvad, even at its most
    # permissive, hears nothing speech-like there (faint white noise can open it)
    audio = np.concatenate([silence(6.0), speech, silence(6.0)])
    segmenter = Segmenter()
    calls = _spy_on_the_model(segmenter)
    segments = [s for block in blocks_of(audio) for s in segmenter.feed(block)]
    segments += list(segmenter.flush())
    frames = audio.size // 512
    judged = sum(n for _, n in calls)
    assert judged < 0.5 * frames  # the model slept through most of the silence
    first_frame = calls[0][0]
    assert first_frame * 0.032 > truth[0][0] - 0.3  # woken by the speech, not before it
    assert len(segments) == 1
    assert abs(segments[0].start - truth[0][0]) < TOLERANCE_S  # warm-up still finds the onset
    assert abs(segments[0].end - truth[0][1]) < TOLERANCE_S


def test_the_model_judges_a_second_ahead_in_one_call(clips):
    audio, _ = layout(1.0, clips["long_f"], 1.0)
    segmenter = Segmenter(SegmenterOptions(vad="silero"))
    calls = _spy_on_the_model(segmenter)
    list(segmenter.feed(audio))
    assert len(calls) < audio.size / 512 / 16  # not one call per 32 ms frame
    assert max(n for _, n in calls) <= 32 + 31  # a second ahead, plus a second of warm-up


HOUSEHOLD = Path(__file__).resolve().parents[1] / "edge" / "assets" / "samples" / "household.wav"


@pytest.mark.skipif(not HOUSEHOLD.is_file(), reason="the bundled household sample is not there")
def test_the_household_sample_segments_alike_judged_ahead_or_frame_by_frame():
    """Ten-second blocks (the model judges a second per call) and 32 ms blocks (one frame per
    call, as live capture) give the same utterances, to the sample."""
    from edge.audio import load_audio

    audio = load_audio(HOUSEHOLD)
    ahead = [(s.start, s.end, s.samples.size) for s in segment_stream(blocks_of(audio, 160_000))]
    one_by_one = [(s.start, s.end, s.samples.size) for s in segment_stream(blocks_of(audio, 512))]
    assert len(ahead) > 10 and ahead == one_by_one


def test_live_blocks_share_model_calls_without_delaying_an_utterance(clips, monkeypatch):
    """32 ms blocks, as from a microphone: the awake model judges several frames per call
    while nothing can end, yet each utterance is handed out in the very block it is when
    every frame is judged on arrival."""
    import edge.segmenter as segmenter_module

    audio, _ = layout(1.0, clips["long_f"], 0.8, clips["m"], 0.3, clips["short"], 1.5)
    audio = with_noise(audio, rms=0.02, seed=1)  # webrtcvad hears speech in the noise too

    def live(hold):
        monkeypatch.setattr(segmenter_module, "HOLD_FRAMES", hold)
        segmenter = Segmenter()
        calls = _spy_on_the_model(segmenter)
        out = [(i, s.start, s.end) for i, block in enumerate(blocks_of(audio, 512))
               for s in segmenter.feed(block)]
        return out, calls

    held, held_calls = live(segmenter_module.HOLD_FRAMES)
    each, each_calls = live(1)
    assert len(each) >= 2 and held == each
    assert len(held_calls) < 0.6 * len(each_calls)
