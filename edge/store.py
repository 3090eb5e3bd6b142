"""The local store: one SQLite row per utterance, on this device only.

The database lives in the user's data directory (platformdirs), is readable by
its owner only (0600, the folder 0700), runs in WAL mode and commits every
utterance on its own, so a crash or power cut loses at most the utterance being
written. The schema carries a version (``PRAGMA user_version``) and is migrated
forward on open, each step and its version number in one transaction. No audio is
ever stored; transcripts only when enabled. Deleted rows are overwritten
(``secure_delete``) and the WAL truncated after deleting, so erased words cannot be
read back from free pages. ``read_only`` opens (stats, reports) never create or
change a database.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from urllib.parse import quote

import numpy as np
from platformdirs import user_data_path

from edge.utterance import Utterance
from edge.voiceprint import Voiceprint

log = logging.getLogger(__name__)

APP_NAME = "talkratio"
DB_NAME = "talkratio.db"
FILE_MODE = 0o600  # owner read/write only: these are a family's conversations
DIR_MODE = 0o700
BUSY_TIMEOUT_S = 5.0  # another process (stats while the daemon writes) holds the lock
SECONDS_PER_DAY = 86_400
HASH_CHUNK_BYTES = 1 << 20  # hash recordings 1 MiB at a time (memory stays flat)

# Each entry moves the schema from version i to i + 1; never edit a released step.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE utterances (
        id INTEGER PRIMARY KEY,
        wall_start REAL NOT NULL,      -- Unix time (s) the utterance began
        start_s REAL NOT NULL,         -- seconds from the start of its recording/capture
        end_s REAL NOT NULL,
        voice TEXT NOT NULL,
        voice_prob REAL NOT NULL,
        text TEXT,                     -- NULL unless transcripts are enabled
        syllables INTEGER NOT NULL,
        eojeol INTEGER NOT NULL,
        transcribed INTEGER NOT NULL,
        stt_model TEXT NOT NULL,
        voice_model TEXT NOT NULL,
        source TEXT NOT NULL
    );
    CREATE INDEX utterances_by_time ON utterances (wall_start);
    """,
    """
    ALTER TABLE utterances ADD COLUMN stored_at REAL;
    """,
    # whose voice: rows stored before households existed were credited by voice
    """
    ALTER TABLE utterances ADD COLUMN speaker TEXT;
    ALTER TABLE utterances ADD COLUMN speaker_score REAL;
    UPDATE utterances SET speaker = CASE voice WHEN 'female' THEN 'mother'
                                               WHEN 'male' THEN 'father' END;
    """,
    # the household: one voiceprint per parent (an embedding, never audio)
    """
    CREATE TABLE voiceprints (
        role TEXT PRIMARY KEY CHECK (role IN ('mother', 'father')),
        embedding BLOB NOT NULL,       -- float32 little-endian unit vector
        model_sha256 TEXT NOT NULL,    -- the speaker model that made it
        model_name TEXT NOT NULL,
        created_at REAL NOT NULL,      -- Unix time
        speech_s REAL NOT NULL,        -- voiced seconds it was made from
        quality REAL NOT NULL          -- mean cosine of its partials to it
    );
    """,
    # the options that shaped each row (PipelineOptions.to_dict as JSON), and the recordings
    # already stored (by content), so analyzing a file twice never counts it twice
    """
    ALTER TABLE utterances ADD COLUMN options TEXT;
    CREATE TABLE stored_sources (
        sha256 TEXT PRIMARY KEY,       -- of the file's bytes
        path TEXT NOT NULL,            -- where it was when stored (informative only)
        utterances INTEGER NOT NULL,
        stored_at REAL NOT NULL
    );
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)
COLUMNS = (
    "start_s",
    "end_s",
    "wall_start",
    "voice",
    "voice_prob",
    "text",
    "syllables",
    "eojeol",
    "transcribed",
    "stt_model",
    "voice_model",
    "source",
    "speaker",
    "speaker_score",
)


class StoreError(RuntimeError):
    """The database cannot be opened or written, with a message for the user."""


def default_db_path() -> Path:
    """``~/.local/share/talkratio/talkratio.db`` on Linux (``$XDG_DATA_HOME`` honoured)."""
    return user_data_path(APP_NAME) / DB_NAME


def _create_private(path: Path) -> None:
    """Create the folder (0700) and an empty database file (0600) before SQLite opens it.

    SQLite gives its -wal and -shm files the permissions of the database file.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    os.close(fd)
    os.chmod(path, FILE_MODE)


@contextmanager
def _sqlite_errors(path: Path, doing: str) -> Iterator[None]:
    try:
        yield
    except sqlite3.DatabaseError as exc:
        hint = " (the disk is full)" if "full" in str(exc).lower() else ""
        raise StoreError(f"cannot {doing} the database {path}: {exc}{hint}") from None


class Store:
    """The utterance database. ``transcripts=False`` stores counts but never text.

    ``options``: the pipeline options recorded with every row written.
    ``read_only``: open an existing database for reading only (never create one).
    """

    def __init__(
        self,
        path: str | Path | None = None,
        transcripts: bool = True,
        options: dict | None = None,
        read_only: bool = False,
    ):
        self.path = Path(path) if path is not None else default_db_path()
        self.transcripts = transcripts
        self._options = json.dumps(options, sort_keys=True) if options is not None else None
        if read_only:
            self._db = self._open_read_only()
            return
        try:
            _create_private(self.path)
        except OSError as exc:
            raise StoreError(f"cannot create the database {self.path}: {exc.strerror}") from None
        self._db = self._connect(f"file:{quote(str(self.path))}", "open")
        with _sqlite_errors(self.path, "open"):
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")  # each commit survives a power cut
            # deleted rows (a forgotten voiceprint) are overwritten with zeros, not left in free pages
            self._db.execute("PRAGMA secure_delete=ON")
            self._migrate()

    def _connect(self, uri: str, doing: str) -> sqlite3.Connection:
        # isolation_level=None: no implicit transactions; every write below opens its own
        # (Python's default mode would autocommit the DDL of a migration statement by statement)
        with _sqlite_errors(self.path, doing):
            db = sqlite3.connect(
                uri, timeout=BUSY_TIMEOUT_S, check_same_thread=False, isolation_level=None, uri=True
            )
            db.execute("PRAGMA secure_delete=ON")  # deleted text is overwritten, not left free
            return db

    def _open_read_only(self) -> sqlite3.Connection:
        if not self.path.is_file():
            raise StoreError(f"no database at {self.path} (check --db, or run live/daemon first)")
        with _sqlite_errors(self.path, "open"):
            version = _schema_version(self.path)
        if version < SCHEMA_VERSION:  # an older schema: migrate it once, then read
            Store(self.path).close()
        return self._connect(f"file:{quote(str(self.path))}?mode=ro", "open")

    def record_options(self, options: dict) -> None:
        """The pipeline options stored with every row written from now on."""
        self._options = json.dumps(options, sort_keys=True)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any error (so also on a crash)."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _migrate(self) -> None:
        version = self.schema_version
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} was written by a newer talkratio (schema {version}, "
                f"this one knows {SCHEMA_VERSION}); upgrade talkratio"
            )
        for step in range(version, SCHEMA_VERSION):
            with self._transaction() as db:  # DDL and its version number: both or neither
                for statement in filter(str.strip, MIGRATIONS[step].split(";")):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {step + 1}")
            log.info("database %s migrated to schema %d", self.path, step + 1)

    @property
    def schema_version(self) -> int:
        return self._db.execute("PRAGMA user_version").fetchone()[0]

    def add(self, utterance: Utterance) -> int:
        """Store one utterance (committed before returning); returns its row id."""
        return self.add_many([utterance])[-1]

    def add_many(self, utterances: Iterable[Utterance]) -> list[int]:
        """Store several utterances in one transaction."""
        with _sqlite_errors(self.path, "write to"), self._transaction() as db:
            return self._insert(db, utterances)

    def add_source(self, sha256: str, path: str, utterances: Iterable[Utterance]) -> bool:
        """Store a recording's utterances unless a file with these bytes was stored before.

        Returns False (and stores nothing) for a recording already counted.
        """
        with _sqlite_errors(self.path, "write to"), self._transaction() as db:
            seen = "SELECT 1 FROM stored_sources WHERE sha256 = ?"
            if db.execute(seen, (sha256,)).fetchone():
                return False
            rows = self._insert(db, utterances)
            db.execute(
                "INSERT INTO stored_sources (sha256, path, utterances, stored_at) "
                "VALUES (?, ?, ?, ?)",
                (sha256, path, len(rows), time.time()),
            )
        return True

    def _insert(self, db: sqlite3.Connection, utterances: Iterable[Utterance]) -> list[int]:
        names = ", ".join(COLUMNS + ("stored_at", "options"))
        marks = ", ".join("?" * (len(COLUMNS) + 2))
        insert = f"INSERT INTO utterances ({names}) VALUES ({marks})"
        return [
            db.execute(insert, self._row(u) + (time.time(), self._options)).lastrowid
            for u in utterances
        ]

    def _row(self, u: Utterance) -> tuple:
        text = u.text if self.transcripts else None
        return (
            u.start,
            u.end,
            u.wall_start,
            u.voice,
            u.voice_prob,
            text,
            u.syllables,
            u.eojeol,
            int(u.transcribed),
            u.stt_model,
            u.voice_model,
            u.source,
            u.speaker,
            u.speaker_score,
        )

    def utterances(self, since: float | None = None, until: float | None = None) -> list[Utterance]:
        """Stored utterances that began in ``[since, until)`` (Unix s), oldest first."""
        query = (
            f"SELECT {', '.join(COLUMNS)} FROM utterances WHERE wall_start >= ? AND wall_start < ?"
        )
        bounds = (-1e18 if since is None else since, 1e18 if until is None else until)
        with _sqlite_errors(self.path, "read"):
            rows = self._db.execute(query + " ORDER BY wall_start, id", bounds).fetchall()
        return [_utterance(row) for row in rows]

    def count(self) -> int:
        with _sqlite_errors(self.path, "read"):
            return self._db.execute("SELECT COUNT(*) FROM utterances").fetchone()[0]

    def purge_older_than(self, days: float, now: float | None = None) -> int:
        """Retention: delete utterances that began more than ``days`` ago; returns how many."""
        cutoff = (time.time() if now is None else now) - days * SECONDS_PER_DAY
        deleted = self._erase("DELETE FROM utterances WHERE wall_start < ?", (cutoff,))
        if deleted:
            log.info("retention: deleted %d utterances older than %g days", deleted, days)
        return deleted

    def erase_transcripts(self) -> int:
        """Transcripts turned off: erase every stored text (counts stay); returns how many."""
        erased = self._erase("UPDATE utterances SET text = NULL WHERE text IS NOT NULL", ())
        if erased:
            log.info("transcripts are off: erased the text of %d utterances", erased)
        return erased

    def _erase(self, statement: str, args: tuple) -> int:
        with _sqlite_errors(self.path, "clean up"), self._transaction() as db:
            changed = db.execute(statement, args).rowcount
        if changed:  # the old pages are still in the WAL until it is checkpointed
            self._wipe_journal()
        return changed

    def save_voiceprint(self, voiceprint: Voiceprint) -> None:
        """Keep ``voiceprint``, replacing (and wiping) that parent's previous one."""
        row = (
            voiceprint.role,
            np.asarray(voiceprint.embedding, dtype="<f4").tobytes(),
            voiceprint.model_sha256,
            voiceprint.model_name,
            voiceprint.created_at,
            voiceprint.speech_s,
            voiceprint.quality,
        )
        with _sqlite_errors(self.path, "write to"), self._transaction() as db:
            db.execute(f"INSERT OR REPLACE INTO voiceprints VALUES ({', '.join('?' * 7)})", row)
        self._wipe_journal()

    def voiceprints(self) -> list[Voiceprint]:
        """The enrolled parents' voiceprints, mother first."""
        with _sqlite_errors(self.path, "read"):
            rows = self._db.execute("SELECT * FROM voiceprints ORDER BY role DESC").fetchall()
        return [_voiceprint(row) for row in rows]

    def forget(self, role: str) -> bool:
        """Delete ``role``'s voiceprint so that it cannot be recovered from the files;
        ``False`` when there was none."""
        with _sqlite_errors(self.path, "write to"), self._transaction() as db:
            deleted = db.execute("DELETE FROM voiceprints WHERE role = ?", (role,)).rowcount
        self._wipe_journal()
        return deleted > 0

    def _wipe_journal(self) -> bool:
        """Copy the WAL into the database and truncate it: the old pages (with a replaced or
        deleted voiceprint) would otherwise stay readable in the -wal file. False when
        another process's open read kept it from finishing."""
        with _sqlite_errors(self.path, "checkpoint"):
            busy, _, _ = self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy:
            log.warning(
                "another process is reading %s: the old pages leave the -wal file "
                "at its next checkpoint",
                self.path,
            )
        return not busy

    @classmethod
    def open_read_only(cls, path: str | Path) -> Store:
        """An existing database opened for reading only (the dashboard): nothing is created
        or written; a missing file is a :class:`StoreError`."""
        return cls(path, read_only=True)

    def overview(self) -> dict:
        """What the store holds, for the privacy and device pages: utterance count, how many
        keep their text, the first and last utterance start (Unix s) and their models."""
        query = (
            "SELECT COUNT(*), COUNT(text), MIN(wall_start), MAX(wall_start), "
            "(SELECT stt_model || ' ' || voice_model FROM utterances "
            "ORDER BY wall_start DESC, id DESC LIMIT 1) FROM utterances"
        )
        with _sqlite_errors(self.path, "read"):
            count, texts, first, last, models = self._db.execute(query).fetchone()
        stt, _, voice = (models or " ").partition(" ")
        return {
            "utterances": count,
            "with_text": texts,
            "first": first,
            "last": last,
            "stt_model": stt,
            "voice_model": voice,
        }

    def erase_everything(self) -> bool:
        """Delete every row of every table so that nothing can be read back from the files:
        freed pages are zeroed (secure_delete), the file is rebuilt (VACUUM) and the WAL
        emptied. The schema stays. False when another process's open read kept the WAL
        from being emptied (the old pages then leave at the next full checkpoint)."""
        with _sqlite_errors(self.path, "erase"):
            tables = [
                row[0]
                for row in self._db.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND name NOT LIKE 'sqlite_%'"
                )
            ]
            with self._transaction() as db:
                deleted = sum(db.execute(f'DELETE FROM "{t}"').rowcount for t in tables)
            self._db.execute("VACUUM")
        log.warning("erased everything in %s (%d rows)", self.path, deleted)
        return self._wipe_journal()

    def integrity_ok(self) -> bool:
        with _sqlite_errors(self.path, "check"):
            return self._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def file_sha256(path: str | Path) -> str:
    """The hex SHA-256 of a file's bytes: a recording's identity, wherever it is copied."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _schema_version(path: Path) -> int:
    with closing(sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True)) as db:
        return db.execute("PRAGMA user_version").fetchone()[0]


def _voiceprint(row: tuple) -> Voiceprint:
    role, blob, sha256, name, created_at, speech_s, quality = row
    return Voiceprint(
        role=role,
        embedding=np.frombuffer(blob, dtype="<f4").astype(np.float32),
        model_sha256=sha256,
        model_name=name,
        created_at=created_at,
        speech_s=speech_s,
        quality=quality,
    )


def _utterance(row: tuple) -> Utterance:
    values = dict(zip(COLUMNS, row, strict=True))
    return Utterance(
        start=values["start_s"],
        end=values["end_s"],
        wall_start=values["wall_start"],
        voice=values["voice"],
        voice_prob=values["voice_prob"],
        text=values["text"],
        syllables=values["syllables"],
        eojeol=values["eojeol"],
        transcribed=bool(values["transcribed"]),
        stt_model=values["stt_model"],
        voice_model=values["voice_model"],
        source=values["source"],
        speaker=values["speaker"],
        speaker_score=values["speaker_score"],
    )
