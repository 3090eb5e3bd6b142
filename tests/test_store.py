"""The local store: private files, records that survive, migrations, retention, full disks."""

from __future__ import annotations

import sqlite3
import stat
import time

import pytest

from edge.store import SCHEMA_VERSION, Store, StoreError, default_db_path
from edge.utterance import Utterance


def utterance(start=1.0, voice="female", text="밥 먹자", wall=None, **kw) -> Utterance:
    return Utterance(
        start=start,
        end=start + 1.5,
        wall_start=time.time() if wall is None else wall,
        voice=voice,
        voice_prob=0.9,
        text=text,
        syllables=3,
        eojeol=2,
        transcribed=True,
        stt_model="ds2@1",
        voice_model="voice@1",
        **kw,
    )


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_database_files_are_private(db_path):
    with Store(db_path) as store:
        store.add(utterance())
        for suffix in ("", "-wal", "-shm"):
            path = db_path.with_name(db_path.name + suffix)
            assert path.exists() and mode(path) == 0o600, suffix
    assert mode(db_path.parent) == 0o700


def test_default_location_is_the_user_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_db_path() == tmp_path / "talkratio" / "talkratio.db"


def test_utterances_round_trip_and_survive_reopening(db_path):
    stored = [utterance(start=i, voice=v) for i, v in enumerate(["female", "male", "child"])]
    with Store(db_path) as store:
        store.add_many(stored)
    with Store(db_path) as store:
        back = store.utterances()
    assert back == stored
    with sqlite3.connect(db_path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_transcripts_off_keeps_counts_but_never_text(db_path):
    with Store(db_path, transcripts=False) as store:
        store.add(utterance(text="비밀 이야기"))
        (back,) = store.utterances()
        files = [p for p in db_path.parent.iterdir()]
        assert all("비밀".encode() not in p.read_bytes() for p in files)
    assert back.text is None and back.syllables == 3 and back.eojeol == 2


def test_time_range_and_retention(db_path):
    now = time.time()
    with Store(db_path) as store:
        store.add_many(
            [utterance(wall=now - 40 * 86400), utterance(wall=now - 2 * 86400), utterance(wall=now)]
        )
        assert len(store.utterances(since=now - 3 * 86400)) == 2
        assert len(store.utterances(until=now - 86400)) == 2
        assert store.purge_older_than(30, now=now) == 1
        assert store.count() == 2


def test_old_schema_is_migrated_keeping_its_rows(db_path):
    db_path.parent.mkdir(parents=True)
    from edge.store import MIGRATIONS

    with sqlite3.connect(db_path) as raw:  # a database written by schema version 1
        raw.executescript(MIGRATIONS[0])
        raw.execute(
            "INSERT INTO utterances (wall_start, start_s, end_s, voice, voice_prob, text, "
            "syllables, eojeol, transcribed, stt_model, voice_model, source) VALUES "
            "(1, 0, 2, 'male', 0.8, '안녕', 2, 1, 1, 'a', 'b', 'old')"
        )
        raw.execute("PRAGMA user_version = 1")
    with Store(db_path) as store:
        assert store.schema_version == SCHEMA_VERSION
        (old,) = store.utterances()
        assert old.voice == "male" and old.text == "안녕"
        assert old.speaker == "father" and old.speaker_score is None  # credited by voice
        store.add(utterance())
        assert store.count() == 2


def test_a_newer_schema_is_refused_with_a_sentence(db_path):
    Store(db_path).close()
    with sqlite3.connect(db_path) as raw:
        raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    with pytest.raises(StoreError, match="newer talkratio"):
        Store(db_path)


def test_full_disk_is_a_clear_error_and_keeps_what_was_stored(db_path):
    store = Store(db_path)
    store.add_many([utterance(start=i) for i in range(3)])
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count = {pages}")  # the disk is now full
    with pytest.raises(StoreError, match="full"):
        store.add_many([utterance(text="말" * 2000, start=10 + i) for i in range(50)])
    store.close()
    with Store(db_path) as reopened:
        assert reopened.count() == 3 and reopened.integrity_ok()


def test_unwritable_location_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match="cannot create"):
        Store(blocker / "talkratio.db")


def test_a_file_that_is_not_a_database_is_a_clear_error(db_path):
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(b"these are not the pages you are looking for" * 100)
    with pytest.raises(StoreError, match="not a database"):
        Store(db_path)
