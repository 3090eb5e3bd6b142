"""The voice model's ``child`` rule, chosen on dev data only: how much more likely than every
other label ``child`` must be before it is the answer.

Issue 9: on held-out Kokoro voices, noisy women are often called ``child`` (their
timbre, degraded, drifts toward the child cluster of the speaker embedding). A
woman called ``child`` loses her seconds as surely as one called ``unknown``, and
most of the female/male miss is this one confusion. The rule is a prior shift on
the model's output (:func:`edge.voice.weigh_child`): ``child`` wins only where its
probability is at least ``child_ratio`` times every other label's. It uses no
feature a synthesiser decides (duration, tempo, pitch): only the model's own
probabilities, so what it assumes of real children is only what the model
already learned.

The ratio is chosen on dev data, never the test:

- ``dev_kokoro``: Kokoro blends of training voices the model never heard (each
  clip left unchanged and once in a home style), clean and with *training* noise
  kinds at 10 and 5 dB (:data:`training.voice.probe.NOISY_VIEWS`' dev views);
- ``dev``: the dev espeak-ng voices of the home data in the same three conditions
  (children, adults to a child, loudspeakers);
- the 16 dev household scenes of :mod:`training.tv_rule` (dev voices, training
  sentences; child-vs-mother balanced accuracy, mother-share error).

Choice, fixed before any test figure was looked at (:func:`choose`): the ratio of
:data:`GRID` with the highest mean female/male balanced accuracy over the three
``dev_kokoro`` conditions, among those that keep (within :data:`TOLERANCE`) the dev
scenes' child-vs-mother balanced accuracy, the dev espeak-ng child-vs-female
balanced accuracy (mean over conditions) and the dev scenes' mean mother-share
error; the smallest such ratio on a tie (1: no rule).

Example:
    talkratio-train child-rule --data data/voicenoise/home --work data/tvreject/tv_rule
"""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path

import numpy as np
import typer

log = logging.getLogger(__name__)

GRID = (1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 15.0, 20.0)
TOLERANCE = {  # how much a dev guard figure may lose to the rule
    "scenes_child_vs_mother": 0.01,
    "espeak_child_vs_female": 0.01,
    "scenes_share_error_points": 0.25,
}
DEV_SPLITS = ("dev", "dev_kokoro")
LABELS = ("female", "male", "child", "other")
FEMALE, MALE, CHILD = 0, 1, 2


def embed_dev(data: Path) -> None:
    """Embed the dev splits of ``data`` clean and with training noise at 10 and 5 dB (the
    noisy view recipe's dev views), unless already embedded that way."""
    from edge.speaker import SpeakerEncoder
    from training.voice.probe import NOISY_VIEWS, embed_split

    encoder = None
    for split in DEV_SPLITS:
        audio, done = data / f"{split}.npz", data / f"{split}.emb.npz"
        if not audio.is_file():
            continue
        if done.is_file() and done.stat().st_mtime >= audio.stat().st_mtime:
            with np.load(done) as old:
                if "views" in old and str(old["views"]) == NOISY_VIEWS.name:
                    continue
        encoder = encoder or SpeakerEncoder()
        log.info("embedding %s", split)
        embed_split(data, split, encoder, 0, NOISY_VIEWS)


def split_probs(tagger, data) -> np.ndarray:
    """The model's probabilities ``(N, V, C)`` of every view of an embedded split."""
    x = data["x"]
    flat = x.reshape(-1, x.shape[-1]).astype(np.float32)
    probs = np.concatenate([tagger.session.run(["probs"], {"embedding": v[None]})[0] for v in flat])
    return probs.reshape(x.shape[0], x.shape[1], -1)


def recall(truth: np.ndarray, guess: np.ndarray, label: int) -> float:
    return float((guess[truth == label] == label).mean())


def split_figures(probs: np.ndarray, y: np.ndarray, style: np.ndarray, ratio: float) -> dict:
    """Per view (clean, 10 dB, 5 dB): female/male balanced accuracy of the clips left
    unchanged (all adults when no clip is), the share of those women called ``child``, and
    child-vs-female balanced accuracy, with the best label after :func:`weigh_child`."""
    from edge.voice import weigh_child

    plain = style == "original" if (style == "original").any() else np.ones(y.size, bool)
    adults = plain & np.isin(y, [FEMALE, MALE])
    out = {}
    for k, view in enumerate(("clean", "10dB", "5dB")):
        guess = weigh_child(LABELS, probs[:, k], ratio).argmax(axis=1)
        ya, ga = y[adults], guess[adults]
        figures = {
            "female_male_ba": (recall(ya, ga, FEMALE) + recall(ya, ga, MALE)) / 2,
            "women_called_child": float((ga[ya == FEMALE] == CHILD).mean()),
        }
        if (y == CHILD).any():
            figures["child_vs_female_ba"] = (recall(y, guess, CHILD) + recall(y, guess, FEMALE)) / 2
        out[view] = {k: round(v, 4) for k, v in figures.items()}
    return out


def scene_figures(rows, prints, tagger, speaker_info, ratio: float) -> dict:
    """The dev scenes under ``ratio``: child-vs-mother balanced accuracy, mean mother-share
    error (points) without and with the household enrolled, as the runtime decides."""
    from training import tv_rule

    tagger = copy.copy(tagger)
    tagger.child_ratio = ratio
    rule = tv_rule.Rule(tagger.other_threshold, tagger.other_threshold_typed,
                        tagger.detector.threshold if tagger.detector else 1.0)  # fmt: skip
    got = tv_rule.credits(rows, prints, tagger, speaker_info, rule)
    child = np.mean([c.voice == "child" for r, c in zip(rows, got, strict=True) if r.role == "child"])
    mother = np.mean(
        [c.voice == "female" for r, c in zip(rows, got, strict=True) if r.role == "mother"]
    )
    plain, enrolled = (tv_rule.figures(rows, got, f) for f in ("plain", "enrolled"))
    return {
        "child_vs_mother_ba": round(float((child + mother) / 2), 4),
        "share_error_points": plain["mean_share_error_points"],
        "share_error_points_enrolled": enrolled["mean_share_error_points"],
        "tv_seconds_to_a_parent": plain["tv_seconds_to_a_parent"],
    }


def dev_table(data: Path, rows, prints, tagger, speaker_info) -> dict[float, dict]:
    """Every dev figure for every ratio of :data:`GRID`."""
    splits = {}
    for split in DEV_SPLITS:
        with np.load(data / f"{split}.emb.npz") as d:
            splits[split] = (split_probs(tagger, d), d["y"], d["style"])
    table = {}
    for ratio in GRID:
        table[ratio] = {s: split_figures(*v, ratio) for s, v in splits.items()}
        table[ratio]["scenes"] = scene_figures(rows, prints, tagger, speaker_info, ratio)
    return table


def mean_of(figures: dict, key: str) -> float:
    return float(np.mean([figures[v][key] for v in ("clean", "10dB", "5dB")]))


def choose(table: dict[float, dict]) -> float:
    """The ratio with the best mean dev Kokoro female/male balanced accuracy among those
    that keep every guard within :data:`TOLERANCE` of no rule (ratio 1)."""
    base = table[1.0]

    def kept(f: dict) -> bool:
        return (
            f["scenes"]["child_vs_mother_ba"]
            >= base["scenes"]["child_vs_mother_ba"] - TOLERANCE["scenes_child_vs_mother"]
            and mean_of(f["dev"], "child_vs_female_ba")
            >= mean_of(base["dev"], "child_vs_female_ba") - TOLERANCE["espeak_child_vs_female"]
            and f["scenes"]["share_error_points"]
            <= base["scenes"]["share_error_points"] + TOLERANCE["scenes_share_error_points"]
        )

    allowed = [r for r in GRID if kept(table[r])]
    return max(
        allowed, key=lambda r: (round(mean_of(table[r]["dev_kokoro"], "female_male_ba"), 4), -r)
    )


def write_rule(model: Path, ratio: float, table: dict) -> None:
    """Store ``child_ratio`` and its dev figures in the voice model's metadata."""
    from export.onnx_utils import read_metadata, write_metadata

    metrics = json.loads(read_metadata(model).get("talkratio.metrics", "{}"))
    metrics["child_rule"] = {"chosen": ratio, "without": table[1.0], "with": table[ratio]}
    write_metadata(model, {"child_ratio": f"{ratio:.2f}", "metrics": metrics})


def cli(
    data: Path = typer.Option(..., help="voice-data folder with dev and dev_kokoro splits."),
    work: Path = typer.Option(..., help="tv-rule's folder of cached dev scene vectors."),
    model: Path = typer.Option(None, help="Voice model (default: the bundled one)."),
    write: bool = typer.Option(False, "--write", help="Store the chosen ratio in the voice model."),
) -> None:
    """Choose how much likelier than every other label ``child`` must be, on dev data.

    Example: talkratio-train child-rule --data data/voicenoise/home --work data/tvreject/tv_rule
    """
    from edge.onnx_model import bundled_model
    from edge.speaker import SpeakerEncoder
    from edge.voice import EmbeddingVoiceTagger
    from training import tv_rule

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    path = bundled_model("voice") if model is None else model
    missing = [s for s in DEV_SPLITS if not (data / f"{s}.npz").is_file()]
    if not path.is_file() or missing:
        typer.echo(
            f"Error: needs the voice model {path} and {data}/{{dev,dev_kokoro}}.npz.", err=True
        )
        raise typer.Exit(2)
    embed_dev(data)
    encoder = SpeakerEncoder()
    tagger = EmbeddingVoiceTagger(path, encoder=encoder)
    tagger.child_ratio = 1.0  # the rule is chosen against the model's own answers
    cache = tv_rule._cache_path(work, encoder, tv_rule.DEV_SCENES, tv_rule.DEV_SEED)
    if not cache.is_file():
        tv_rule.save_rows(
            cache, *tv_rule.dev_rows(tagger, encoder, tv_rule.DEV_SCENES, tv_rule.DEV_SEED)
        )
    rows, prints = tv_rule.load_rows(cache, tagger, encoder, tv_rule.DEV_SEED)
    table = dev_table(data, rows, prints, tagger, encoder.info)
    ratio = choose(table)
    typer.echo(
        json.dumps({"chosen": ratio, "table": {str(r): f for r, f in table.items()}}, indent=1)
    )
    if write:
        write_rule(path, ratio, table)
