"""A daemon config with a wrong type or range is refused at load, naming the key and the file."""

from __future__ import annotations

import re

import pytest

from edge.config import RANGES, ConfigError, load_config


@pytest.mark.parametrize(
    "text, sentence",
    [
        ('[storage]\ntranscripts = "false"\n', "[storage] transcripts must be true or false"),
        ('[storage]\nretention_days = "30"\n', "[storage] retention_days must be a number"),
        ("[storage]\nretention_days = -1\n", "[storage] retention_days must be from 0"),
        ("max_backlog = true\n", "max_backlog must be a whole number"),
        ("max_backlog = 1.5\n", "max_backlog must be a whole number"),
        ("[audio]\nspeed = 0\n", "[audio] speed must be from 0.01"),
        ("[audio]\nblock_ms = 100000\n", "[audio] block_ms must be from 10 to 1000"),
        ("[models]\nthreads = 0\n", "[models] threads must be from 1"),
        ("[models]\nvoice_threshold = 1.5\n", "[models] voice_threshold must be from 0 to 1"),
        ("[vad]\nendpoint_ms = nan\n", "[vad] endpoint_ms must be a whole number"),
        ("[vad]\nonset_threshold = nan\n", "[vad] onset_threshold must be at least 0, not nan"),
        ("[vad]\nmax_utterance_s = 0.4\n", "[vad]: max_utterance_s must be at least"),
        ("[vad]\nhangover_ms = 60\n", "[vad]: hangover_ms must be at least onset_window_ms"),
        ("[vad]\ndenoise = 1\n", "[vad] denoise must be true or false"),
        ("[labels]\nmother = \"\"\n", "[labels] mother must be 1 to"),
        ("[labels]\nmother = 3\n", "[labels] mother must be a string"),
        ("[audio]\ndevice = 1.5\n", "[audio] device must be a string or a whole number"),
        ("[voice_change]\nmin_gap_ms = -5\n", "[voice_change] min_gap_ms must be at least 0"),
        ("[storage]\ntranscript = false\n", "unknown key [storage] transcript"),
        ("storage = 3\n", "[storage] must be a table"),
    ],
)
def test_wrong_type_or_range_is_one_sentence_naming_key_and_file(tmp_path, text, sentence):
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(f"{path}: ")) as raised:
        load_config(path)
    assert sentence in str(raised.value)
    assert "\n" not in str(raised.value)


def test_valid_values_keep_their_meaning(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(
        "max_backlog = 0\n[storage]\ntranscripts = false\nretention_days = 30\n"
        '[audio]\ndevice = 2\nspeed = 4\n[labels]\nmother = "엄마[/]"\n'
    )
    config = load_config(path)
    assert config.storage.transcripts is False
    assert config.storage.retention_days == 30.0 and isinstance(config.storage.retention_days, float)
    assert config.audio.device == 2 and config.audio.speed == 4.0
    assert config.labels.mother == "엄마[/]" and config.max_backlog == 0


def test_every_range_names_a_real_key():
    from dataclasses import fields

    from edge.config import SECTIONS, DaemonConfig

    for key in RANGES:
        section, _, name = key.rpartition(".")
        cls = SECTIONS[section] if section else DaemonConfig
        assert name in {f.name for f in fields(cls)}, key
