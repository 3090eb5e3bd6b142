"""Privacy and footprint promises: no torch at runtime, onnxruntime telemetry off before it
loads, nothing but the database (0600) written during a live run, no audio on disk."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Run in a fresh interpreter: torch cannot be imported, onnxruntime's import is watched and
# every file Python opens for writing is recorded (audit hook), then the CLI runs.
DRIVER = r"""
import json, os, sys

class NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is blocked in this test")
        if name == "onnxruntime" and "onnxruntime" not in sys.modules:
            seen["telemetry_at_ort_import"] = os.environ.get("ORT_DISABLE_TELEMETRY")
        return None

seen = {"written": []}
sys.meta_path.insert(0, NoTorch())

def audit(event, args):
    if event == "open" and args[0] is not None and not isinstance(args[0], int):
        mode, flags = args[1] or "", args[2] or 0
        if any(c in str(mode) for c in "wax+") or flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            seen["written"].append(os.fsdecode(args[0]))
sys.addaudithook(audit)

import pkgutil, importlib, edge
for module in pkgutil.iter_modules(edge.__path__):
    importlib.import_module("edge." + module.name)
from edge.cli import app
try:
    app(sys.argv[1:], standalone_mode=False)
finally:
    seen["torch_loaded"] = [m for m in sys.modules if m == "torch" or m.startswith("torch.")]
    report = dict(seen, written=list(seen["written"]))  # before this file is opened
    with open(os.environ["SEEN_FILE"], "w") as f:
        json.dump(report, f)
"""


def run_sealed(args, root: Path) -> dict:
    """Run ``talkratio ARGS`` with HOME, XDG dirs, TMPDIR and cwd all inside ``root``."""
    for name in ("home", "tmp", "cwd"):
        (root / name).mkdir(parents=True, exist_ok=True)
    seen_file = root.parent / f"{root.name}.seen.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "ORT_", "MPL"))}
    env.update(
        HOME=str(root / "home"),
        TMPDIR=str(root / "tmp"),
        SEEN_FILE=str(seen_file),
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONPATH=str(REPO),
    )
    result = subprocess.run(
        [sys.executable, "-c", DRIVER, *map(str, args)],
        cwd=root / "cwd",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(seen_file.read_text())
    seen["stdout"] = result.stdout
    return seen


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def test_live_run_writes_only_the_private_database(tmp_path, scene, fake_models):
    root = tmp_path / "sealed"
    db = root / "data" / "talkratio.db"
    root.mkdir()
    before = files_under(root)
    seen = run_sealed(
        [
            "live",
            "--input-file",
            scene.path,
            "--speed",
            30,
            "--db",
            db,
            "--stt-model",
            fake_models.stt,
            "--voice-model",
            fake_models.voice,
        ],
        root,
    )
    assert "가 나" in seen["stdout"]
    created = files_under(root) - before
    assert {p.name for p in created} <= {"talkratio.db", "talkratio.db-wal", "talkratio.db-shm"}
    assert db in created
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in created)
    assert {Path(p).resolve() for p in seen["written"]} <= {db.resolve()}
    assert seen["telemetry_at_ort_import"] == "1"
    assert seen["torch_loaded"] == []


def test_edge_imports_and_runs_without_torch(tmp_path, scene, fake_models):
    root = tmp_path / "notorch"
    seen = run_sealed(
        [
            "analyze",
            scene.path,
            "--json",
            "--no-store",
            "--denoise-stt",
            "--stt-model",
            fake_models.stt,
        ],
        root,
    )
    out = json.loads(seen["stdout"])
    assert out["segments"] and out["options"]["denoise_stt"]  # noisereduce tries torch too
    assert seen["torch_loaded"] == []
    assert seen["written"] == []  # --no-store: nothing at all


# A fresh interpreter records every attempt to reach a network (audit events) while the CLI runs.
NETWORK_DRIVER = r"""
import json, os, socket, sys

attempts = []

def audit(event, args):
    if event == "socket.getaddrinfo":
        attempts.append([event, repr(args[:2])])
    elif event in ("socket.connect", "socket.sendto", "socket.bind"):
        sock = args[0]
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            attempts.append([event, repr(args[1])])
sys.addaudithook(audit)

from edge.cli import app
try:
    app(sys.argv[1:], standalone_mode=False)
finally:
    with open(os.environ["ATTEMPTS_FILE"], "w") as f:
        json.dump(attempts, f)
"""


def test_no_command_reaches_for_a_network(tmp_path, scene, fake_models):
    models = ["--stt-model", fake_models.stt, "--voice-model", fake_models.voice]
    runs = {
        "analyze": ["analyze", scene.path, "--json", "--store", "--db", tmp_path / "a.db"],
        "live": ["live", "--input-file", scene.path, "--speed", "8", "--db", tmp_path / "l.db"],
        "stats": ["stats", "--json", "--db", tmp_path / "a.db"],
    }
    for name, args in runs.items():
        attempts_file = tmp_path / f"{name}.json"
        env = dict(os.environ, ATTEMPTS_FILE=str(attempts_file), PYTHONPATH=str(REPO))
        argv = [*args, *(models if name != "stats" else [])]
        result = subprocess.run(
            [sys.executable, "-c", NETWORK_DRIVER, *map(str, argv)],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(attempts_file.read_text()) == [], name


def test_the_driver_would_see_a_network_attempt(tmp_path):
    """The audit hook is not blind: a lookup made by the same driver is recorded."""
    attempts_file = tmp_path / "probe.json"
    probe = NETWORK_DRIVER.replace(
        "from edge.cli import app", "socket.getaddrinfo('localhost', 80)\nfrom edge.cli import app"
    )
    env = dict(os.environ, ATTEMPTS_FILE=str(attempts_file), PYTHONPATH=str(REPO))
    subprocess.run([sys.executable, "-c", probe, "--help"], env=env, capture_output=True)
    assert json.loads(attempts_file.read_text())[0][0] == "socket.getaddrinfo"


def test_onnxruntime_telemetry_is_switched_off_in_one_place():
    setters = [
        path.relative_to(REPO).as_posix()
        for folder in ("edge", "export", "training", "benchmarks")
        for path in (REPO / folder).rglob("*.py")
        if "ORT_DISABLE_TELEMETRY" in path.read_text(encoding="utf-8")
    ]
    assert setters == ["edge/__init__.py"]
    for package in ("export", "training", "benchmarks"):  # each loads edge first
        code = f"import os, {package}; print(os.environ.get('ORT_DISABLE_TELEMETRY'))"
        env = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}
        out = subprocess.run(
            [sys.executable, "-c", code], env=dict(env, PYTHONPATH=str(REPO)), cwd=REPO,
            capture_output=True, text=True,
        )
        assert out.stdout.strip() == "1", (package, out.stderr)

