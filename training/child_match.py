"""``child_min``: when an utterance the voice model called ``child`` is still a parent.

With a household enrolled, a ``child`` voice used to be nobody's whatever the
match said. But the voice model calls a good part of a mother's child-directed
speech ``child`` (raised pitch, slower, wider), and that speech still matches her
voiceprint. The child's own voice, against the cohort (:mod:`edge.cohort`), holds
no such lead: the cohort has children too. So a ``child`` voice is named a parent
once its t-norm score reaches ``child_min``, a threshold at or above the strict one.

Chosen on the 16 dev household scenes that ``talkratio-train tv-rule`` caches
(dev voices, training sentences; never the test scenes), by a rule fixed before
any figure was seen: among the candidates, the one with the lowest mean
|mother-share error| with enrolment, among those that credit at most
:data:`MAX_CHILD_GAIN` more of the children's seconds to a parent than a
``child`` voice that is never a parent.

    talkratio-train child-match --work data/tvreject/tv_rule            # the table
    talkratio-train child-match --work data/tvreject/tv_rule --write    # into the cohort file
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import numpy as np
import typer

from edge.cohort import BUNDLED_COHORT, Cohort, load_cohort

log = logging.getLogger(__name__)

OFFSETS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5)  # candidates: the strict threshold plus these
MAX_CHILD_GAIN = 0.01  # of the children's seconds, newly credited to a parent


def enrolled_speakers(rows, prints, tagger, info, cohort: Cohort) -> list[str | None]:
    """Each dev row's speaker with the scene's household enrolled, by the runtime's rules
    (:meth:`EmbeddingVoiceTagger.decide`, :func:`edge.household.speaker_of`)."""
    from edge.household import Household, speaker_of
    from edge.voice import typed_other_max

    households = [Household(p, info, typed_other_max(tagger), cohort) for p in prints]
    other = tagger.labels.index("other")
    out = []
    for row in rows:
        loudspeaker = None
        if tagger.detector is not None and row.probs is not None and row.channel is not None:
            loudspeaker = tagger.detector.probability(row.channel, float(row.probs[other]))
        result = tagger.decide(row.probs, row.f0_hz, loudspeaker)
        p_other = result.scores.get("other", 0.0)
        out.append(speaker_of(result.voice, households[row.scene], row.embedding, p_other)[0])
    return out


def figures(rows, speakers: list[str | None]) -> dict:
    """``tv-rule``'s figures with enrolment (mean |mother-share error| in points, mean
    per-parent seconds error, the TV's seconds credited to a parent) and the share of the
    children's seconds credited to a parent."""
    from training.tv_rule import Credit
    from training.tv_rule import figures as scene_figures

    out = scene_figures(rows, [Credit(None, who) for who in speakers], "enrolled")
    children = [(r, who) for r, who in zip(rows, speakers, strict=True) if r.role == "child"]
    total = sum(r.seconds for r, _ in children)
    credited = sum(r.seconds for r, who in children if who)
    out["child_seconds_to_a_parent"] = round(credited / total, 4) if total else 0.0
    return out


def candidates(strict: float) -> list[float]:
    return [math.inf] + [round(strict + o, 2) for o in OFFSETS]


def choose(table: dict[float, dict]) -> float:
    """The candidate with the lowest share error among those within :data:`MAX_CHILD_GAIN`
    of never (``math.inf``); the higher threshold on a tie."""
    never = table[math.inf]["child_seconds_to_a_parent"]
    allowed = [
        c for c, f in table.items() if f["child_seconds_to_a_parent"] <= never + MAX_CHILD_GAIN
    ]
    return min(allowed, key=lambda c: (table[c]["mean_share_error_points"], -c))


def dev_table(rows, prints, tagger, info, cohort: Cohort) -> dict[float, dict]:
    from dataclasses import replace

    return {c: figures(rows, enrolled_speakers(rows, prints, tagger, info, replace(cohort, child_min=c)))
            for c in candidates(cohort.strict)}  # fmt: skip


def write_child_min(path: Path, child_min: float) -> None:
    """``child_min`` into the cohort file at ``path`` (every other field kept as it is)."""
    with np.load(path) as data:
        fields = {k: data[k] for k in data.files}
    fields["child_min"] = np.float64(child_min)
    with open(path, "wb") as f:
        np.savez(f, **fields)


def cli(
    work: Path = typer.Option(..., help="tv-rule's folder of cached dev scene vectors."),
    cohort_path: Path = typer.Option(BUNDLED_COHORT, "--cohort", help="Cohort file."),
    write: bool = typer.Option(
        False, "--write", help="Store the chosen child_min in the cohort file."
    ),
) -> None:
    """Choose the t-norm score at which a ``child`` voice is still the parent it matches.

    Example: talkratio-train child-match --work data/tvreject/tv_rule
    """
    from edge.speaker import SpeakerEncoder
    from edge.voice import EmbeddingVoiceTagger
    from training import tv_rule

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    encoder = SpeakerEncoder()
    cohort = load_cohort(encoder.info, cohort_path)
    if cohort is None:
        typer.echo(
            f"Error: {cohort_path} is missing or belongs to another speaker model.", err=True
        )
        raise typer.Exit(2)
    tagger = EmbeddingVoiceTagger(None, encoder=encoder)
    cache = tv_rule._cache_path(work, encoder, tv_rule.DEV_SCENES, tv_rule.DEV_SEED)
    if not cache.is_file():
        tv_rule.save_rows(
            cache, *tv_rule.dev_rows(tagger, encoder, tv_rule.DEV_SCENES, tv_rule.DEV_SEED)
        )
    rows, prints = tv_rule.load_rows(cache, tagger, encoder, tv_rule.DEV_SEED)
    table = dev_table(rows, prints, tagger, encoder.info, cohort)
    chosen = choose(table)
    typer.echo(
        json.dumps({"chosen": chosen, "table": {str(c): f for c, f in table.items()}}, indent=1)
    )
    if write:
        write_child_min(cohort_path, chosen)
        log.info("child_min %.2f written to %s", chosen, cohort_path)
