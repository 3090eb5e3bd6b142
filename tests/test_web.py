"""The parent's dashboard as a parent (and an attacker on the home network) meets it:
figures equal to `talkratio stats --json`, Korean pages with the configured words, a
store that is only read, a real erase, loopback by default, pairing and CSRF with --lan,
no outside request, and the Today page in a real headless browser at phone width."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import sqlite3
import stat
import subprocess
import sys
import threading
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("starlette", reason="the dashboard needs the web extra: pip install '.[web]'")

from starlette.testclient import TestClient  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from benchmarks.web import household_day, said  # noqa: E402
from edge.cli import app as cli_app  # noqa: E402
from edge.store import Store  # noqa: E402
from edge.utterance import Utterance  # noqa: E402
from edge.voiceprint import Voiceprint  # noqa: E402
from edge.web.app import WebSettings, create_app  # noqa: E402
from edge.web.security import COOKIE_NAME, load_or_create_token  # noqa: E402
from edge.web.server import ServeOptions, bind_host  # noqa: E402

DAY = date(2026, 11, 24)
SECRET_TEXT = "비밀스러운문장입니다"  # must be gone from the files after "delete everything"
LOCAL = "http://127.0.0.1"
PAGES = ("/", "/week", "/household", "/privacy", "/device", "/privacy/erase", "/?day=2020-01-01")
FIGURE = re.compile(r'<data id="(\w+)" value="([^"]*)"')
PHONE = (390, 844)  # CSS pixels of a common phone


def at(day: date, hh: int, mm: int, ss: float = 0.0) -> float:
    return datetime(day.year, day.month, day.day, hh, mm).astimezone().timestamp() + ss


def known_day(day: date = DAY) -> list[Utterance]:
    """A morning talk with the child, an evening between the parents, a TV line; the day
    before, a shorter talk (the week's trend has something to compare with)."""
    before = day - timedelta(days=1)
    return [
        said(at(day, 8, 0), 30.0, "female", SECRET_TEXT),
        said(at(day, 8, 0, 32), 4.0, "child"),  # answers the mother: a child turn
        said(at(day, 8, 0, 38), 20.0, "male"),  # answers the child: a child turn
        said(at(day, 8, 1, 0), 45.0, "female"),  # answers the father: a turn
        said(at(day, 12, 15), 90.0, "female"),
        said(at(day, 19, 30), 120.0, "male"),
        said(at(day, 19, 32, 3), 60.0, "female"),  # a turn
        said(at(day, 19, 33, 5), 8.0, "child"),  # a child turn
        said(at(day, 21, 0), 15.0, "other"),
        said(at(before, 20, 0), 40.0, "female"),
        said(at(before, 20, 0, 42), 50.0, "male"),
    ]


@pytest.fixture
def seeded(db_path) -> Path:
    with Store(db_path) as store:
        store.add_many(known_day())
    return db_path


def client(db: Path, **settings) -> TestClient:
    return TestClient(create_app(WebSettings(db_path=db, **settings)), base_url=LOCAL)


def figures(html: str) -> dict[str, str]:
    return dict(FIGURE.findall(html))


def stats_json(db: Path, since: date, until: date) -> dict:
    args = ["stats", "--db", str(db), "--since", str(since), "--until", str(until), "--json"]
    result = CliRunner().invoke(cli_app, args)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)["total"]


def assert_same_figures(shown: dict[str, str], total: dict, prefix: str = "") -> None:
    for key in ("mother_s", "father_s", "child_turns", "turns"):
        assert float(shown[prefix + key]) == pytest.approx(total[key]), key
    assert float(shown[prefix + "mother_share"]) == pytest.approx(total["mother_share"])


def file_bytes(db: Path) -> bytes:
    return b"".join(
        Path(f"{db}{s}").read_bytes() for s in ("", "-wal", "-shm") if Path(f"{db}{s}").is_file()
    )


# --------------------------------------------------------------------------- figures


def test_today_shows_the_figures_of_talkratio_stats(seeded):
    page = client(seeded).get(f"/?day={DAY}")
    assert page.status_code == 200
    shown, total = figures(page.text), stats_json(seeded, DAY, DAY + timedelta(days=1))
    assert_same_figures(shown, total)
    assert float(shown["child_s"]) == pytest.approx(total["child_s"])
    assert int(shown["utterances"]) == sum(total["utterances"].values()) == 9
    assert int(shown["child_turns"]) == 3 and int(shown["turns"]) == 2  # as planted
    assert ">3.8<" in page.text  # mother 225 s, shown as minutes with one decimal


def test_week_shows_the_figures_of_talkratio_stats_and_the_trend(seeded):
    page = client(seeded).get(f"/week?day={DAY}")
    first = DAY - timedelta(days=6)
    assert_same_figures(figures(page.text), stats_json(seeded, first, DAY + timedelta(1)), "week_")
    for offset in range(7):
        assert f'id="day-{first + timedelta(offset)}"' in page.text  # empty days too
    previous = client(seeded).get(f"/week?day={DAY - timedelta(days=1)}")
    assert float(figures(previous.text)["week_mother_s"]) == pytest.approx(40.0)
    assert "▲" in page.text or "▼" in page.text


def test_hourly_chart_is_inline_svg_with_a_bar_per_busy_hour_and_parent(seeded):
    page = client(seeded).get(f"/?day={DAY}").text
    bars = re.findall(r"<rect [^>]*><title>([^<]+)</title>", page)
    assert sorted(bars) == sorted(
        [
            "8시 엄마 1.2분",
            "8시 아빠 0.3분",
            "12시 엄마 1.5분",
            "19시 엄마 1.0분",
            "19시 아빠 2.0분",
        ]
    )
    rects = re.findall(r'<rect x="([\d.]+)" y="([\d.]+)" width="[\d.]+" height="([\d.]+)"', page)
    heights = {t: (float(x), float(y), float(h)) for (x, y, h), t in zip(rects, bars, strict=True)}
    mother, father = heights["19시 엄마 1.0분"], heights["19시 아빠 2.0분"]
    assert father[0] == mother[0] and father[1] + father[2] == pytest.approx(mother[1], abs=0.15)
    assert father[2] == pytest.approx(2 * mother[2], abs=0.15)  # stacked, to scale


def test_pages_are_korean_with_the_configured_labels(seeded):
    labelled = client(seeded, labels={"mother": "지민", "father": "현우", "child": "서준"})
    page = labelled.get(f"/?day={DAY}").text
    assert '<html lang="ko">' in page
    assert "지민" in page and "현우" in page and "서준과 주고받기" in page  # 서준 ends in ㄴ
    default = client(seeded).get(f"/?day={DAY}").text
    assert "엄마" in default and "아빠" in default and "아이와 주고받기" in default


def test_every_page_renders_without_javascript(seeded):
    web = client(seeded)
    for path in PAGES:
        page = web.get(path)
        assert page.status_code == 200, path
        assert "<script" not in page.text.lower(), path
    quiet = figures(web.get("/?day=2020-01-01").text)  # a day with nobody talking
    assert quiet["mother_s"] == "0.0" and quiet["mother_share"] == "" and quiet["utterances"] == "0"


def test_serve_has_help_with_a_runnable_example_and_the_runtime_never_loads_it():
    result = CliRunner().invoke(cli_app, ["serve", "--help"])
    assert result.exit_code == 0 and "Example: talkratio serve" in " ".join(result.stdout.split())
    probe = "import sys, edge.cli, edge.daemon; print(sorted({'starlette', 'uvicorn'} & set(sys.modules)))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert loaded.stdout.strip() == "[]", loaded.stderr


# --------------------------------------------------------------------------- the store


def test_a_missing_database_is_a_page_and_never_a_created_file(tmp_path):
    missing = tmp_path / "nowhere" / "talkratio.db"
    web = client(missing)
    for path in ("/", "/week", "/privacy", "/device", "/household"):
        page = web.get(path)
        assert page.status_code == 503 and "아직 저장된 기록이 없습니다" in page.text, path
        assert str(missing) in page.text
    assert not missing.parent.exists()


def test_pages_only_read_the_store(seeded):
    with Store(seeded):
        pass  # closed like a daemon at rest: the WAL is checkpointed into the file
    before = hashlib.sha256(seeded.read_bytes()).hexdigest()
    web = client(seeded)
    for path in PAGES:
        assert web.get(path).status_code == 200
    assert hashlib.sha256(seeded.read_bytes()).hexdigest() == before
    wal = Path(f"{seeded}-wal")
    assert not wal.exists() or wal.stat().st_size == 0  # nothing written for the next reader


def test_privacy_page_says_what_is_stored(seeded):
    page = client(seeded, transcripts=False, retention_days=30).get("/privacy").text
    shown = figures(page)
    assert shown["stored_utterances"] == "11" and shown["stored_texts"] == "11"
    assert "꺼짐" in page and "30일 뒤 자동 삭제" in page and "녹음" in page


def test_device_page_shows_the_daemon_status(seeded):
    from edge.daemon_status import new_status, status_path, write_status

    status = new_status("listening")
    write_status(
        status_path(seeded),
        type(status)(**{**status.__dict__, "dropped_blocks": 7, "stt_model": "ds2-ko@3"}),
    )
    page = client(seeded).get("/device").text
    assert "듣는 중" in page and 'value="7"' in page and "ds2-ko@3" in page
    assert "2026-11-24 21:00:00" in page  # the last utterance, local time
    assert stat.S_IMODE(status_path(seeded).stat().st_mode) == 0o600


# --------------------------------------------------------------------------- security


def test_default_bind_is_loopback_only():
    assert bind_host(ServeOptions()) == "127.0.0.1"
    assert bind_host(ServeOptions(lan=True)) == "0.0.0.0"
    with pytest.raises(ValueError, match="--lan"):
        bind_host(ServeOptions(host="0.0.0.0"))
    result = CliRunner().invoke(cli_app, ["serve", "--host", "192.168.1.20"])
    assert result.exit_code != 0 and "add --lan" in result.stderr


def test_a_served_socket_listens_on_loopback_only(seeded):
    with running_server(seeded) as (server, port):
        assert server.servers[0].sockets[0].getsockname()[0] == "127.0.0.1"
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass


def test_loopback_refuses_other_host_names(seeded):
    page = client(seeded).get(f"/?day={DAY}", headers={"host": "attacker.example"})
    assert page.status_code == 421 and "mother_s" not in page.text


def test_lan_refuses_a_request_without_the_token(seeded, tmp_path):
    token = load_or_create_token(tmp_path / "token")
    web = client(seeded, access_token=token)
    for path in PAGES:
        refused = web.get(path)
        assert refused.status_code == 401 and "<data" not in refused.text, path
    assert web.post("/privacy/erase", data={"confirm": "삭제"}).status_code == 401
    web.cookies.set(COOKIE_NAME, "guess")
    assert web.get("/").status_code == 401
    assert web.get("/pair?token=guess").status_code == 401
    web.cookies.clear()
    paired = web.get(f"/pair?token={token}")
    cookie = paired.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert web.get(f"/?day={DAY}").status_code == 200
    assert Store.open_read_only(seeded).count() == 11


def test_the_access_token_is_private_and_kept(tmp_path):
    path = tmp_path / "data" / "web-token"
    token = load_or_create_token(path)
    assert len(token) >= 40 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_token(path) == token


def test_serve_lan_prints_a_pairing_link_with_a_qr_code(seeded, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    args = ["serve", "--lan", "--pairing-link", "--db", str(seeded), "--port", "8123"]
    result = CliRunner().invoke(cli_app, args)
    assert result.exit_code == 0, result.stderr
    token = (tmp_path / "xdg" / "talkratio" / "web-token").read_text().strip()
    assert re.search(rf"http://\S+:8123/pair\?token={re.escape(token)}\n", result.stdout)
    assert "█" in result.stdout or "▀" in result.stdout  # segno's terminal QR code


def test_actions_need_the_csrf_token(seeded):
    web = client(seeded)
    for form in ({"confirm": "삭제"}, {"confirm": "삭제", "csrf": "forged"}):
        assert web.post("/privacy/erase", data=form).status_code == 403
    assert web.post("/household/forget", data={"role": "mother"}).status_code == 403
    assert web.get("/privacy/erase?confirm=삭제").status_code == 200  # a GET changes nothing
    assert Store.open_read_only(seeded).count() == 11


def test_no_outside_url_and_strict_headers(seeded):
    web = client(seeded)
    outside = re.compile(r"(?:src|href|action)\s*=\s*\"(?!/)|url\(|https?:|//[a-z]", re.I)
    for path in PAGES:
        page = web.get(path)
        assert not outside.search(page.text), (path, outside.search(page.text))
        csp = page.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'none'" in csp
        assert page.headers["x-frame-options"] == "DENY"
    css = web.get("/static/style.css")
    assert css.status_code == 200 and not re.search(r"url\(|@import|https?:", css.text)


def test_audio_is_never_served(seeded):
    static = Path(__file__).resolve().parents[1] / "edge" / "web" / "static"
    assert {p.suffix for p in static.iterdir()} <= {".css", ".svg"}
    assert client(seeded).get("/audio").status_code == 404


# --------------------------------------------------------------------------- a real browser


class running_server:
    """uvicorn on the default host and a free port, in a thread, while the block lasts."""

    def __init__(self, db: Path):
        import uvicorn

        host = bind_host(ServeOptions())  # what `talkratio serve` binds without --lan
        config = uvicorn.Config(
            create_app(WebSettings(db_path=db)), host=host, port=0, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        for _ in range(200):
            if self.server.started:
                break
            self.thread.join(0.05)
        assert self.server.started, "uvicorn did not start"
        return self.server, self.server.servers[0].sockets[0].getsockname()[1]

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(10)


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("Debian chromium is not installed (apt-get install chromium); .ci/run adds it")
    return found


def browse(url: str, profile: Path, *extra: str) -> subprocess.CompletedProcess:
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        f"--window-size={PHONE[0]},{PHONE[1]}",
    ]
    return subprocess.run(
        [chromium(), *flags, *extra, url], capture_output=True, text=True, timeout=60
    )


def test_a_real_browser_shows_today_at_phone_width(db_path, tmp_path):
    with Store(db_path) as store:
        store.add_many(household_day(DAY))
    screenshot = Path(os.environ.get("TALKRATIO_SCREENSHOT", tmp_path / "today.png")).resolve()
    with running_server(db_path) as (_, port):
        url = f"http://127.0.0.1:{port}/?day={DAY}"
        dom = browse(url, tmp_path / "profile", "--dump-dom")
        shot = browse(
            url, tmp_path / "profile", "--force-device-scale-factor=2", f"--screenshot={screenshot}"
        )
    assert dom.returncode == 0, dom.stderr[-2000:]
    shown = figures(dom.stdout)
    total = stats_json(db_path, DAY, DAY + timedelta(days=1))
    assert_same_figures(shown, total)
    assert int(shown["utterances"]) == sum(total["utterances"].values()) > 500
    assert "2026년 11월 24일" in dom.stdout and "<svg" in dom.stdout
    assert shot.returncode == 0 and screenshot.stat().st_size > 10_000, shot.stderr[-2000:]
    with open(screenshot, "rb") as png:
        header = png.read(24)
    width = int.from_bytes(header[16:20], "big")
    assert header[:8] == b"\x89PNG\r\n\x1a\n" and width == PHONE[0] * 2


# --------------------------------------------------------------------------- household


def voiceprint(role: str, created_at: float, quality: float) -> Voiceprint:
    embedding = np.ones(256, np.float32) / 16.0  # a unit vector: only its bytes matter here
    return Voiceprint(role, embedding, "0" * 64, "ge2e@1", created_at, 31.0, quality)


@pytest.fixture
def enrolled_store(seeded):
    with Store(seeded) as store:
        store.save_voiceprint(voiceprint("mother", at(DAY, 9, 30), 0.91))
        store.save_voiceprint(voiceprint("father", at(DAY, 9, 40), 0.88))
    return seeded


def test_household_shows_who_is_enrolled_and_forgets_after_confirmation(enrolled_store):
    web = client(enrolled_store)
    page = web.get("/household").text
    assert 'id="enrolled-mother"' in page and 'id="enrolled-father"' in page
    assert "2026-11-24 09:30:00" in page and "ge2e@1" in page and "0.91" in page
    confirm = web.get("/household/forget?role=father").text
    assert "아빠의 목소리 정보를 지울까요?" in confirm
    assert len(Store.open_read_only(enrolled_store).voiceprints()) == 2
    csrf = re.search(r'name="csrf" value="([^"]+)"', confirm).group(1)
    done = web.post("/household/forget", data={"csrf": csrf, "role": "father"})
    assert done.status_code == 200 and 'id="forgotten"' in done.text
    kept = Store.open_read_only(enrolled_store).voiceprints()
    assert [v.role for v in kept] == ["mother"] and 'id="enrolled-father"' not in done.text
    assert figures(web.get("/privacy").text)["stored_voiceprints"] == "1"


def test_delete_everything_erases_text_and_voiceprints_from_the_files(enrolled_store):
    seeded = enrolled_store
    embedding = voiceprint("mother", 0.0, 0.0).embedding.tobytes()
    assert SECRET_TEXT.encode() in file_bytes(seeded) and embedding in file_bytes(seeded)
    web = client(seeded)
    form = web.get("/privacy/erase").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
    wrong = web.post("/privacy/erase", data={"csrf": csrf, "confirm": "네"})
    assert wrong.status_code == 400 and Store.open_read_only(seeded).count() == 11
    done = web.post("/privacy/erase", data={"csrf": csrf, "confirm": "삭제"})
    assert done.status_code == 200 and 'id="erased"' in done.text  # after the redirect
    assert figures(done.text)["stored_utterances"] == "0"
    assert SECRET_TEXT.encode() not in file_bytes(seeded)
    assert embedding not in file_bytes(seeded)
    with Store(seeded) as store:  # the schema is still there: the daemon goes on storing
        assert store.count() == 0 and store.voiceprints() == [] and store.integrity_ok()


def test_an_erase_during_another_read_says_so_and_a_second_one_wipes(seeded):
    web = client(seeded)
    csrf = re.search(r'name="csrf" value="([^"]+)"', web.get("/privacy/erase").text).group(1)
    reader = sqlite3.connect(seeded)
    reader.execute("BEGIN")
    reader.execute("SELECT COUNT(*) FROM utterances").fetchone()  # holds a WAL snapshot
    first = web.post("/privacy/erase", data={"csrf": csrf, "confirm": "삭제"})
    assert "한 번 더" in first.text and figures(first.text)["stored_utterances"] == "0"
    reader.close()
    second = web.post("/privacy/erase", data={"csrf": csrf, "confirm": "삭제"})
    assert "파일 안에서도 지워졌습니다" in second.text
    assert SECRET_TEXT.encode() not in file_bytes(seeded)


def test_the_dashboard_benchmark_runs_on_a_small_store(tmp_path):
    from benchmarks.web import PAGES, main

    result = main(["--days", "2", "--repeats", "1", "--out", str(tmp_path)])
    assert result["utterances"] == len(household_day(DAY, seed=0)) + len(household_day(DAY, 1))
    assert len(result["pages"]) == len(PAGES) and result["server_rss_mb"] > 10
    assert json.loads((tmp_path / "web.json").read_text())["days"] == 2
    assert "| `/privacy` |" in (tmp_path / "web.md").read_text()
