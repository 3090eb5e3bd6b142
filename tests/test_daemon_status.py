"""The daemon leaves a private status file that the dashboard's Device page reads: the
microphone's state (and its error while it is retried), what was stored, the models."""

from __future__ import annotations

import stat

import edge.daemon
from edge.daemon import Daemon
from edge.daemon_status import DaemonStatus, read_status, status_path, write_status
from edge.sources import MicrophoneError, file_source
from tests.test_daemon import daemon_config


def test_the_daemon_reports_a_retried_microphone_and_what_it_stored(
    scene, fake_models, db_path, recognizers, monkeypatch
):
    monkeypatch.setattr(edge.daemon, "BACKOFF_START_S", 0.01)
    written: list[DaemonStatus] = []

    def keep(path, status):
        written.append(status)
        write_status(path, status)

    monkeypatch.setattr(edge.daemon, "write_status", keep)
    daemon = Daemon(daemon_config(scene, fake_models, db_path), recognizers)
    attempts = []

    def unplugged_once():
        attempts.append(1)
        if len(attempts) == 1:
            raise MicrophoneError("no audio input device found")
        return file_source(scene.path, 0.1)

    daemon._source = unplugged_once
    assert daemon.run() == 0
    retrying = [s for s in written if s.microphone == "retrying"]
    assert retrying and retrying[0].microphone_error == "no audio input device found"
    final = read_status(status_path(db_path))
    assert final.microphone == "stopped" and final.microphone_error is None
    assert final.stored == len(scene.truth) and final.audio_s > scene.duration_s - 0.2
    assert final.voice_model == recognizers.voice_model and final.stt_model
    assert final.started_at <= final.updated_at
    assert stat.S_IMODE(status_path(db_path).stat().st_mode) == 0o600


def test_a_missing_or_broken_status_file_reads_as_none(tmp_path):
    assert read_status(tmp_path / "none.json") is None
    (tmp_path / "broken.json").write_text("{not json")
    assert read_status(tmp_path / "broken.json") is None
