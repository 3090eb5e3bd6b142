"""``talkratio-train``: data generation, AI-Hub import, training and evaluation.

Example:
    talkratio-train synth --out /tmp/corpus --hours 0.2 --seed 1
"""

from __future__ import annotations

from edge.lazy_cli import lazy_app

# subcommand -> module whose ``cli`` function implements it
COMMANDS = {
    "synth": "training.synth",
    "scenes": "training.scenes",
    "aihub": "training.aihub",
    "ds2": "training.ds2.train",
    "ds2-eval": "training.ds2.evaluate",
    "ds2-mix": "training.ds2.mix",
    "honest-test": "training.honest",
    "lm": "training.lm",
    "voice": "training.voice.train",
    "voice-eval": "training.voice.evaluate",
    "speaker-eval": "training.speaker_eval",
    "voice-data": "training.voice.home",
    "voice-probe": "training.voice.probe",
    "tv-rule": "training.tv_rule",
    "child-rule": "training.child_rule",
    "child-match": "training.child_match",
    "loudspeaker": "training.loudspeaker",
}

main = lazy_app("talkratio-train", "Make data, import AI-Hub and train the talkratio models.", COMMANDS)
