"""The local store: private files, records that survive, atomic migrations, retention that
really erases, read-only readers, rows that say which options made them, full disks."""

from __future__ import annotations

import json
import sqlite3
import stat
import subprocess
import sys
import time

import pytest

import edge.store
from edge.store import MIGRATIONS, SCHEMA_VERSION, Store, StoreError, default_db_path
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


SECRET = "비밀번호는 사과나무"  # words that must not survive their deletion


def record(wall_start: float, text: str | None = "가 나") -> Utterance:
    return Utterance(0.0, 1.0, wall_start, "female", 0.9, text, 2, 2, True, "stt@1", "voice@1")


def test_a_migration_that_fails_midway_leaves_the_database_openable(tmp_path, monkeypatch):
    db = tmp_path / "t.db"
    Store(db).close()
    # a step whose second statement fails after its first (DDL) statement ran: a crash there
    broken = MIGRATIONS + ("CREATE TABLE extra (x); ALTER TABLE nowhere ADD COLUMN y",)
    monkeypatch.setattr(edge.store, "MIGRATIONS", broken)
    monkeypatch.setattr(edge.store, "SCHEMA_VERSION", len(broken))
    with pytest.raises(StoreError):
        Store(db)
    fixed = MIGRATIONS + ("CREATE TABLE extra (x); ALTER TABLE utterances ADD COLUMN y",)
    monkeypatch.setattr(edge.store, "MIGRATIONS", fixed)
    with Store(db) as store:  # before: "table extra already exists", forever
        assert store.schema_version == len(fixed)


def test_a_killed_migration_is_rolled_back(tmp_path):
    """SIGKILL between a step's statements: the next open sees the old schema and migrates."""
    db = tmp_path / "t.db"
    killer = (
        "import os, sqlite3, edge.store\n"
        "class Dying(sqlite3.Connection):\n"
        "    def execute(self, sql, *args):\n"
        "        result = super().execute(sql, *args)\n"
        "        if 'CREATE TABLE utterances' in sql:\n"
        "            os._exit(9)  # the first DDL ran, its index and version number did not\n"
        "        return result\n"
        "connect = sqlite3.connect\n"
        "sqlite3.connect = lambda *a, **k: connect(*a, factory=Dying, **k)\n"
        f"edge.store.Store({str(db)!r})\n"
    )
    assert subprocess.run([sys.executable, "-c", killer]).returncode == 9
    with Store(db) as store:  # before: "table utterances already exists", forever
        assert store.schema_version == edge.store.SCHEMA_VERSION
        assert store.integrity_ok()


def file_bytes(db) -> bytes:
    parts = [db, db.with_name(db.name + "-wal")]
    return b"".join(p.read_bytes() for p in parts if p.exists())


def test_retention_erases_the_words_from_the_files(tmp_path):
    db = tmp_path / "t.db"
    with Store(db) as store:
        store.add(record(1000.0, SECRET))
        store.add(record(9e9))
        assert SECRET.encode() in file_bytes(db)
        assert store.purge_older_than(days=1, now=1e6) == 1
        assert SECRET.encode() not in file_bytes(db)  # while still open (WAL checkpointed)
    assert SECRET.encode() not in file_bytes(db)


def test_turning_transcripts_off_erases_stored_text(tmp_path):
    db = tmp_path / "t.db"
    with Store(db) as store:
        store.add(record(1000.0, SECRET))
    with Store(db, transcripts=False) as store:
        assert store.erase_transcripts() == 1
        (kept,) = store.utterances()
        assert kept.text is None and kept.syllables == 2  # counts stay
    assert SECRET.encode() not in file_bytes(db)


def test_read_only_never_creates_or_changes_a_database(tmp_path):
    missing = tmp_path / "typo.db"
    with pytest.raises(StoreError, match="no database at"):
        Store(missing, read_only=True)
    assert not missing.exists()
    db = tmp_path / "t.db"
    with Store(db) as store:
        store.add(record(1.0))
    with Store(db, read_only=True) as store:
        assert store.count() == 1
        with pytest.raises(StoreError):
            store.add(record(2.0))
    with Store(db) as store:
        assert store.count() == 1


def test_rows_record_their_options_and_models(tmp_path):
    db = tmp_path / "t.db"
    options = {"vad_aggressiveness": 3, "transcribe": True}
    with Store(db, options=options) as store:
        store.add(record(1.0))
    with sqlite3.connect(db) as raw:
        stored, stt, voice = raw.execute(
            "SELECT options, stt_model, voice_model FROM utterances"
        ).fetchone()
    assert json.loads(stored) == options and (stt, voice) == ("stt@1", "voice@1")


def test_a_recording_is_stored_once_by_content(tmp_path):
    with Store(tmp_path / "t.db") as store:
        assert store.add_source("ab" * 32, "a.wav", [record(1.0), record(2.0)])
        assert not store.add_source("ab" * 32, "copy-of-a.wav", [record(1.0), record(2.0)])
        assert store.count() == 2
