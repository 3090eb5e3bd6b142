"""``talkratio live``: the live pipeline driven from the terminal.

Each utterance is printed (and stored) as soon as it is recognised; Ctrl-C or
``seconds`` ends capture, and the utterance in flight is still finished.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterable

import numpy as np

from edge.capture import LivePipeline
from edge.pipeline import PipelineOptions
from edge.recognition import Recognizers
from edge.stats import Summary, Tally

log = logging.getLogger(__name__)


def run_live(
    source: Iterable[np.ndarray],
    recognizers: Recognizers,
    options: PipelineOptions,
    store=None,
    seconds: float | None = None,
    as_json: bool = False,
    source_name: str = "live",
    real_time: bool = False,
) -> Summary:
    """Run until the source ends, ``seconds`` pass or SIGINT/SIGTERM; returns the statistics.

    Memory stays flat however long it runs: utterances are counted, not kept.
    ``real_time``: the source is a microphone (wall times follow the real clock).
    A second Ctrl-C ends at once, even if recognition hangs.
    """
    from edge.display import print_live_summary, print_utterance, print_utterance_json

    pipeline = LivePipeline(
        source, recognizers, options, source_name=source_name, real_time=real_time
    )
    timer = threading.Timer(seconds, pipeline.stop) if seconds else None
    tally = Tally()
    with _stopping_on_signals(pipeline):
        if timer is not None:
            timer.start()
        try:
            for utterance in pipeline.run():
                if store is not None:
                    store.add(utterance)
                tally.add(utterance)
                (print_utterance_json if as_json else print_utterance)(utterance)
        finally:
            if timer is not None:
                timer.cancel()
    if not as_json:
        print_live_summary(tally.summary(), pipeline.counters)
    return tally.summary()


class _stopping_on_signals:
    """SIGINT/SIGTERM stop capture (and flush) instead of killing the process."""

    def __init__(self, pipeline: LivePipeline):
        self.pipeline = pipeline
        self.previous: dict = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.previous[sig] = signal.signal(sig, self._first_signal)
        return self

    def _first_signal(self, *_) -> None:
        """Stop and flush; a second Ctrl-C (or SIGTERM) ends at once.

        The second one gets Python's own handlers, not the inherited ones: a process
        started in the background inherits SIGINT ignored, and Ctrl-C must still work.
        """
        log.info("stopping: finishing the utterance in flight (Ctrl-C again to quit now)")
        self.pipeline.stop()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    def _restore(self) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)

    def __exit__(self, *exc):
        self._restore()
