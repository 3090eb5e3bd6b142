"""One PNG with four panels: RTF per stage, the CPU ratio to whisper-base per utterance
length (quoted from peers_by_length), recognition time against utterance length, and
RSS of the live run over time."""

from __future__ import annotations

import logging
from pathlib import Path

from benchmarks.report import (
    PEER_RECORDING_RATIO_TARGET,
    PEER_UTTERANCE_RATIO_TARGET,
    RTF_TARGET,
    STAGE_TITLES,
)
from benchmarks.stages import STAGES

log = logging.getLogger(__name__)

FIGSIZE_IN = (13.0, 9.0)
DPI = 110


def _stages_panel(ax, results: dict) -> None:
    runs = [r for r in results.get("stages", {}).get("runs", []) if r["audio"] == "scenes"]
    labels = [f"{r['models']}\n{r['threads']} thr" for r in runs]
    bottom = [0.0] * len(runs)
    for stage in STAGES:
        values = [r["rtf"].get(stage, 0.0) for r in runs]
        ax.bar(labels, values, bottom=bottom, label=STAGE_TITLES[stage])
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    whole = [r["rtf"].get("whole") for r in runs]
    ax.scatter(labels, [w or 0 for w in whole], color="black", marker="_", s=400, label="whole (wall)", zorder=3)
    cpu = [r["rtf"].get("whole_cpu") or 0 for r in runs]
    ax.scatter(labels, cpu, color="tab:green", marker="_", s=400, label="whole (CPU)", zorder=3)
    ax.axhline(RTF_TARGET, color="red", linestyle="--", linewidth=1, label=f"target {RTF_TARGET}")
    ax.set_ylabel("real-time factor")
    ax.set_title("Household scenes: cost per stage")
    ax.set_ylim(0, max([RTF_TARGET, *bottom, *[w or 0 for w in whole]]) * 1.45)
    ax.legend(fontsize=7, ncol=4, loc="upper left")


def _peers_panel(ax, results: dict) -> None:
    peers = results.get("peers", {})
    rows = peers.get("cpu_ratio_by_length", [])
    engines = sorted({k for r in rows for k in r if k != "target_s"})
    for engine in engines:
        ax.plot([r["target_s"] for r in rows], [r.get(engine) for r in rows], marker="o", label=engine)
    for r in peers.get("cpu_ratio_whole_recordings", []):
        for engine in engines:
            ax.axhline(r.get(engine, 0), linestyle=":", linewidth=1, color="grey")
    ax.axhline(PEER_UTTERANCE_RATIO_TARGET, color="red", linestyle="--", linewidth=1,
               label=f"{PEER_UTTERANCE_RATIO_TARGET:.0f}x (utterances <= 8 s)")
    ax.axhline(PEER_RECORDING_RATIO_TARGET, color="darkred", linestyle="--", linewidth=1,
               label=f"{PEER_RECORDING_RATIO_TARGET:.0f}x (whole recordings, dotted: measured)")
    ax.set_xscale("log")
    ax.set_xlabel("utterance length (s)")
    ax.set_ylabel("CPU time of whisper-base / engine")
    ax.set_title(f"Peers (quoted from peers_by_length, {peers.get('measured_utc', '?')})")
    ax.legend(fontsize=7)


def _ladder_panel(ax, results: dict) -> None:
    rows = results.get("ladder", {}).get("rows", [])
    for key in sorted({(r["models"], r["threads"]) for r in rows}):
        mine = [r for r in rows if (r["models"], r["threads"]) == key]
        ax.plot([r["audio_s"] for r in mine], [r["total_ms"] for r in mine], marker="o",
                label=f"{key[0]}, {key[1]} thr")
    ax.set_xlabel("utterance length (s)")
    ax.set_ylabel("recognition time (ms)")
    ax.set_title("One utterance: speaker embedding + voice + STT")
    if rows:
        ax.legend(fontsize=7)


def _memory_panel(ax, results: dict) -> None:
    memory = results.get("live", {}).get("memory")
    if memory:
        ax.plot([t / 60 for t in memory["times_s"]], memory["rss_mib"], linewidth=1)
        ax.set_ylim(0, max(memory["rss_mib"], default=1) * 1.1)
    ax.set_xlabel("minutes")
    ax.set_ylabel("RSS (MiB)")
    ax.set_title("talkratio live --input-file: resident memory")


def draw_chart(results: dict, path: Path) -> bool:
    """Write the chart; False (logged) when matplotlib cannot draw it."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log.warning("matplotlib is not installed: no chart")
        return False
    fig, axes = plt.subplots(2, 2, figsize=FIGSIZE_IN)
    for panel, ax in zip((_stages_panel, _peers_panel, _ladder_panel, _memory_panel), axes.flat, strict=True):
        try:
            panel(ax, results)
        except (KeyError, TypeError, ValueError) as exc:
            ax.set_title(f"{panel.__name__[1:-6]}: not measured ({exc})")
    fig.suptitle(f"talkratio benchmark, {results.get('started_utc', '')}")
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return True
