"""The typed household threshold: chosen for a false-reject target on genuine trials, and
its rates counted over every same-type impostor."""

from __future__ import annotations

import numpy as np

from training.speaker_typed import GENUINE_CONDITIONS, choose_typed_threshold, typed_rates


def test_the_typed_threshold_rejects_at_most_the_target_share_of_genuine_trials():
    genuine = np.linspace(0.5, 0.9, 101)  # one trial every 0.004
    threshold = choose_typed_threshold(genuine, 0.10)
    assert np.mean(genuine < threshold) <= 0.10
    assert np.mean(genuine < threshold + 0.005) > 0.10  # and no lower than it must be


def test_typed_rates_count_rejects_and_same_type_accepts():
    genuine = {c: [0.5, 0.7] for c in ("everyday_clean", *GENUINE_CONDITIONS)}
    impostor = {"espeak": [0.4, 0.65], "espeak_loudspeaker": [0.3], "kokoro": [0.2]}
    rates = typed_rates({"genuine": genuine, "impostor": impostor}, 0.6)
    assert rates["frr_noisy_or_cds"] == 0.5
    assert rates["far_same_type"]["espeak"] == 0.5
    assert rates["far_same_type_all"] == 0.25
    assert rates["genuine_trials"] == 2 * len(GENUINE_CONDITIONS)


def test_rewriting_the_speaker_model_keeps_the_voice_model_pointing_at_it(tmp_path):
    import shutil

    from export.onnx_utils import read_metadata
    from training.speaker_eval import REPO_ROOT, follow_speaker_model

    voice = tmp_path / "edge" / "assets" / "voice.int8.onnx"
    voice.parent.mkdir(parents=True)
    shutil.copy(REPO_ROOT / "edge" / "assets" / "voice.int8.onnx", voice)
    trained_on = read_metadata(voice)["talkratio.speaker_sha256"]
    follow_speaker_model("0" * 64, "1" * 64, root=tmp_path)  # another speaker model's change
    assert read_metadata(voice)["talkratio.speaker_sha256"] == trained_on
    follow_speaker_model(trained_on, "2" * 64, root=tmp_path)
    assert read_metadata(voice)["talkratio.speaker_sha256"] == "2" * 64
