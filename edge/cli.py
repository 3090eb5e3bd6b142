"""``talkratio``: the runtime's command line. Each command builds options and calls the library.

Errors a user can cause (a bad file, a missing model, an unwritable store, no
microphone) end in one sentence on stderr and a non-zero exit, no traceback.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Optional

import typer

from edge.errors import RecognitionError, UsageError, UserError
from edge.segmenter import SegmenterOptions
from edge.store import StoreError

log = logging.getLogger("edge")

EXIT_USER_ERROR = 2
EXIT_RUNTIME_ERROR = 1
# only the project's own error types are the user's: any other exception is a fault and
# keeps its traceback (a ValueError from deep inside numpy is not a bad option)
USER_ERRORS = (UserError, FileNotFoundError)

app = typer.Typer(
    help="Private Korean talk statistics on this device.\n\n"
    "Example: talkratio analyze edge/assets/samples/household.wav",
    add_completion=False,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
)


@contextmanager
def user_errors() -> Iterator[None]:
    """One sentence on stderr and a non-zero exit for every expected failure."""
    try:
        yield
    except USER_ERRORS as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_USER_ERROR) from None
    except (StoreError, OSError, RecognitionError) as exc:
        log.debug("the cause", exc_info=exc.__cause__ or exc)  # -v: the traceback for a report
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_RUNTIME_ERROR) from None


@app.callback()
def _logging(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress to stderr."),
):
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


# --------------------------------------------------------------------------- shared options

STT_OPT = typer.Option(None, "--stt-model", help="STT ONNX file (default: the bundled one).")
VOICE_OPT = typer.Option(
    None, "--voice-model", help="Voice ONNX file (default: bundled, else pitch)."
)
THREADS_OPT = typer.Option(1, "--threads", min=1, help="onnxruntime threads per model.")
AGGR_OPT = typer.Option(3, "--vad-aggressiveness", min=0, max=3, help="webrtcvad 0-3.")
THRESHOLD_OPT = typer.Option(None, "--voice-threshold", help="Below this confidence: 'unknown'.")
CONFIG_OPT = typer.Option(
    None, "--config", help="Daemon config to take the voice labels from (e.g. 엄마/아빠)."
)
DB_OPT = typer.Option(None, "--db", help="Database file (default: the user data directory).")
NO_TEXT_OPT = typer.Option(False, "--no-transcripts", help="Store counts but never the text.")
DENOISE_VAD_OPT = typer.Option(False, "--denoise-vad", help="noisereduce before the VAD.")
DENOISE_STT_OPT = typer.Option(False, "--denoise-stt", help="noisereduce before STT.")
VAD_OPT = typer.Option(
    "both", "--vad", help="Speech detection: webrtc (webrtcvad alone), silero, or both."
)
ONSET_OPT = typer.Option(0.5, "--vad-onset", help="Neural VAD probability that starts speech.")
OFFSET_OPT = typer.Option(0.35, "--vad-offset", help="Probability below which speech pauses.")
ENDPOINT_OPT = typer.Option(160, "--vad-endpoint-ms", help="Sure silence (ms) that ends speech.")


@dataclass(frozen=True)
class VadChoice:
    """The speech-detection options of the command line."""

    aggressiveness: int = 3
    vad: str = "both"
    onset: float = 0.5
    offset: float = 0.35
    endpoint_ms: int = 160

    def segmenter(self, denoise: bool) -> SegmenterOptions:
        return SegmenterOptions(
            vad=self.vad, aggressiveness=self.aggressiveness, onset_threshold=self.onset,
            offset_threshold=self.offset, endpoint_ms=self.endpoint_ms, denoise=denoise,
        )


def _options(vad: VadChoice, denoise_vad: bool, denoise_stt: bool):
    from edge.pipeline import PipelineOptions

    try:
        segmenter = vad.segmenter(denoise_vad)
    except ValueError as exc:  # options that cannot work together, refused before any audio
        raise UsageError(str(exc)) from None
    return PipelineOptions(segmenter=segmenter, denoise_stt=denoise_stt)


def _recognizers(stt_model, voice_model, threads, voice_threshold, db=None):
    """The models, with the household enrolled in the store at ``db``."""
    from edge.recognition import load_recognizers

    return load_recognizers(
        stt_model, voice_model, threads, True, voice_threshold, voiceprints=_voiceprints(db)
    )


def _voiceprints(db: Optional[Path]) -> list:
    """The household enrolled in the store (none when there is no store yet: not created)."""
    from edge.store import Store, default_db_path

    if not (db or default_db_path()).exists():
        return []
    with Store(db, read_only=True) as store:
        return store.voiceprints()


def _store(db: Optional[Path], transcripts: bool = True, options: Optional[dict] = None):
    from edge.store import Store

    return Store(db, transcripts=transcripts, options=options)


def _store_once(store, path: Path, result) -> None:
    from edge.store import file_sha256

    if not store.add_source(file_sha256(path), str(path), result.utterances):
        typer.echo(f"note: {path} was stored before; not counted again", err=True)


# --------------------------------------------------------------------------- analyze


def _progress(path: Path, as_json: bool):
    """The progress bar's context (rich, imported only for a terminal's table: --json is
    for scripts and is spared its import)."""
    if as_json:
        return nullcontext()
    from edge.display import progress_bar

    return progress_bar(path)


def _print_table(result, config: Optional[Path]) -> None:
    from edge.config import load_config
    from edge.display import print_analysis

    print_analysis(result, load_config(config).labels.as_dict())


@app.command()
def analyze(
    files: list[Path] = typer.Argument(..., help="WAV/FLAC/OGG recordings, any rate."),
    as_json: bool = typer.Option(
        False, "--json", help="Print DESIGN.md's JSON instead of a table."
    ),
    config: Optional[Path] = CONFIG_OPT,
    db: Optional[Path] = DB_OPT,
    store_results: bool = typer.Option(
        False, "--store", help="Add the results to the store (a file already stored is skipped)."
    ),
    no_store: bool = typer.Option(
        False, "--no-store", hidden=True, help="The default; kept for older scripts."
    ),
    no_transcripts: bool = NO_TEXT_OPT,
    stt_model: Optional[Path] = STT_OPT,
    voice_model: Optional[Path] = VOICE_OPT,
    threads: int = THREADS_OPT,
    vad_aggressiveness: int = AGGR_OPT,
    vad: str = VAD_OPT,
    vad_onset: float = ONSET_OPT,
    vad_offset: float = OFFSET_OPT,
    vad_endpoint_ms: int = ENDPOINT_OPT,
    voice_threshold: Optional[float] = THRESHOLD_OPT,
    denoise_vad: bool = DENOISE_VAD_OPT,
    denoise_stt: bool = DENOISE_STT_OPT,
) -> None:
    """Run the whole pipeline on recordings and print who talked how much.

    Nothing is stored unless --store is given; a recording already stored (same bytes)
    is never counted twice.

    Example: talkratio analyze edge/assets/samples/household.wav --json
    """
    from edge.pipeline import analyze_file

    with user_errors():
        choice = VadChoice(vad_aggressiveness, vad, vad_onset, vad_offset, vad_endpoint_ms)
        options = _options(choice, denoise_vad, denoise_stt)
        recognizers = _recognizers(stt_model, voice_model, threads, voice_threshold, db)
        store = None
        if store_results and not no_store:
            threshold = getattr(recognizers.voice, "threshold", None)
            store = _store(db, not no_transcripts, options.to_dict(threshold))
        results = []
        for path in files:
            with _progress(path, as_json) as progress:
                result = analyze_file(path, recognizers, options, progress=progress)
            if store is not None:
                _store_once(store, path, result)
            results.append(result)
            if not as_json:
                _print_table(result, config)
        if as_json:
            payload = [r.to_json() for r in results]
            typer.echo(
                json.dumps(
                    payload[0] if len(payload) == 1 else payload, ensure_ascii=False, indent=2
                )
            )


# --------------------------------------------------------------------------- live


@app.command()
def live(
    device: Optional[str] = typer.Option(None, "--device", help="Input device index or name."),
    seconds: Optional[float] = typer.Option(None, "--seconds", help="Stop after this long."),
    input_file: Optional[Path] = typer.Option(
        None, "--input-file", help="Play this file at real-time pace instead."
    ),
    speed: float = typer.Option(
        1.0, "--speed", help="With --input-file: times faster than real time."
    ),
    stdin: bool = typer.Option(False, "--stdin", help="Read raw 16-bit mono PCM from stdin."),
    rate: int = typer.Option(16_000, "--rate", help="With --stdin: its sample rate (Hz)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per utterance."),
    db: Optional[Path] = DB_OPT,
    no_store: bool = typer.Option(False, "--no-store", help="Do not store the utterances."),
    no_transcripts: bool = NO_TEXT_OPT,
    stt_model: Optional[Path] = STT_OPT,
    voice_model: Optional[Path] = VOICE_OPT,
    threads: int = THREADS_OPT,
    vad_aggressiveness: int = AGGR_OPT,
    vad: str = VAD_OPT,
    vad_onset: float = ONSET_OPT,
    vad_offset: float = OFFSET_OPT,
    vad_endpoint_ms: int = ENDPOINT_OPT,
    voice_threshold: Optional[float] = THRESHOLD_OPT,
) -> None:
    """Capture speech and print each utterance as it is recognised (Ctrl-C to stop).

    Example: talkratio live --input-file edge/assets/samples/household.wav --speed 4

    From another recorder: arecord -q -f S16_LE -r 16000 -c 1 | talkratio live --stdin
    """
    from edge.live_session import run_live
    from edge.sources import pcm_source

    with user_errors():
        source = pcm_source(rate=rate) if stdin else _live_source(device, input_file, speed)
        recognizers = _recognizers(stt_model, voice_model, threads, voice_threshold, db)
        choice = VadChoice(vad_aggressiveness, vad, vad_onset, vad_offset, vad_endpoint_ms)
        options = _options(choice, False, False)
        threshold = getattr(recognizers.voice, "threshold", None)
        store = None if no_store else _store(db, not no_transcripts, options.to_dict(threshold))
        run_live(
            source,
            recognizers,
            options,
            store,
            seconds=seconds,
            as_json=as_json,
            source_name="stdin" if stdin else str(input_file or "microphone"),
            real_time=not stdin and (input_file is None or speed == 1.0),
        )


def _live_source(device: Optional[str], input_file: Optional[Path], speed: float):
    from edge.sources import MicrophoneSource, realtime_file_source

    if input_file is not None:
        if speed <= 0:
            raise UsageError("--speed must be positive")
        return realtime_file_source(input_file, speed=speed)
    return MicrophoneSource(device)


# --------------------------------------------------------------------------- household

ROLE_ARG = typer.Argument(..., help="mother or father")


@app.command()
def enroll(
    role: str = ROLE_ARG,
    file: Optional[Path] = typer.Option(None, "--file", help="A recording of that parent alone."),
    seconds: Optional[float] = typer.Option(
        None, "--seconds", help="Record this long from the microphone instead (30 is enough)."
    ),
    device: Optional[str] = typer.Option(None, "--device", help="Input device index or name."),
    db: Optional[Path] = DB_OPT,
    speaker_model: Optional[Path] = typer.Option(
        None, "--speaker-model", help="Speaker ONNX file (default: the bundled one)."
    ),
) -> None:
    """Keep one parent's voiceprint (an embedding, never audio) from about 30 s of that
    parent talking alone.

    Example: talkratio enroll mother --file mother_30s.wav
    """
    from edge.household import enrol
    from edge.speaker import SpeakerEncoder

    with user_errors():
        blocks = _enrolment_audio(file, seconds, device)
        voiceprint = enrol(role, blocks, SpeakerEncoder(speaker_model))
        with _store(db) as store:
            store.save_voiceprint(voiceprint)
        typer.echo(
            f"enrolled the {role}: {voiceprint.speech_s:.0f} s of speech, "
            f"quality {voiceprint.quality:.2f}"
        )


def _enrolment_audio(file: Optional[Path], seconds: Optional[float], device: Optional[str]):
    """16 kHz blocks from ``file`` or ``seconds`` of the microphone (exactly one is given)."""
    from edge.audio import iter_audio_blocks

    if (file is None) == (seconds is None):
        raise UsageError("give either --file WAV or --seconds S (from the microphone)")
    if file is not None:
        return iter_audio_blocks(file)
    if seconds <= 0:
        raise UsageError("--seconds must be positive")
    return _microphone_for(seconds, device)


def _microphone_for(seconds: float, device: Optional[str]):
    from edge.audio import SAMPLE_RATE
    from edge.sources import MicrophoneSource

    heard = 0
    typer.echo(f"recording {seconds:.0f} s: talk now", err=True)
    blocks = iter(MicrophoneSource(device))
    try:
        for block in blocks:
            yield block
            heard += block.size
            if heard >= seconds * SAMPLE_RATE:
                return
    finally:
        blocks.close()  # the microphone is released as soon as the time is up


@app.command()
def household(
    forget: Optional[str] = typer.Option(
        None, "--forget", help="Delete this parent's voiceprint for good (mother or father)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    db: Optional[Path] = DB_OPT,
) -> None:
    """The enrolled voices (role, when, model, quality); --forget deletes one.

    Example: talkratio household --forget father
    """
    from edge.display import print_household

    with user_errors():
        with _store(db) as store:
            if forget is not None:
                _forget(store, forget)
            described = [v.describe() for v in store.voiceprints()]
        if as_json:
            typer.echo(json.dumps({"enrolled": described}, ensure_ascii=False, indent=2))
        else:
            print_household(described)


def _forget(store, role: str) -> None:
    from edge.household import ROLES

    if role not in ROLES:
        raise UsageError(f"--forget takes mother or father, not {role!r}")
    if not store.forget(role):
        raise UsageError(f"no {role} is enrolled")
    typer.echo(f"forgot the {role}'s voiceprint", err=True)


# --------------------------------------------------------------------------- daemon


@app.command()
def daemon(
    config: Optional[Path] = typer.Option(
        None, "--config", help="TOML file (default: /etc/talkratio/config.toml if present)."
    ),
) -> None:
    """The home-device service: capture forever and store; SIGTERM stops it cleanly.

    Example: talkratio daemon --config deploy/config.example.toml
    """
    from edge.config import load_config
    from edge.daemon import run_daemon

    logging.getLogger().setLevel(logging.INFO)
    with user_errors():
        raise typer.Exit(run_daemon(load_config(config)))


# --------------------------------------------------------------------------- stats / report


def _parse_time(value: Optional[str], name: str) -> Optional[float]:
    """ISO date/time in local time (``2026-11-24`` or ``2026-11-24T18:00``) to Unix s."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(
            f"{name} {value!r} is not a date like 2026-11-24 or 2026-11-24T18:00"
        ) from None
    return (moment if moment.tzinfo else moment.astimezone()).timestamp()


SINCE_OPT = typer.Option(None, "--since", help="From this local date/time (ISO).")
UNTIL_OPT = typer.Option(None, "--until", help="Up to this local date/time (ISO).")
BY_OPT = typer.Option("day", "--by", help="Group by 'hour' or 'day' (local time).")


def _stored_periods(db, since, until, by):
    from edge.stats import PERIODS, by_period

    if by not in PERIODS:
        raise UsageError(f"--by must be 'hour' or 'day', not {by!r}")
    from edge.store import Store

    bounds = _parse_time(since, "--since"), _parse_time(until, "--until")
    with Store(db, read_only=True) as store:  # a typo in --db is an error, not an empty store
        stored = store.utterances(*bounds)
    return [u.on_wall_clock() for u in stored], by_period([u.on_wall_clock() for u in stored], by)


@app.command()
def stats(
    since: Optional[str] = SINCE_OPT,
    until: Optional[str] = UNTIL_OPT,
    by: str = BY_OPT,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    config: Optional[Path] = CONFIG_OPT,
    db: Optional[Path] = DB_OPT,
) -> None:
    """Talk statistics from the local store, per hour or day.

    Example: talkratio stats --since 2026-11-01 --by day --json
    """
    from edge.config import load_config
    from edge.display import print_periods
    from edge.stats import summarize

    with user_errors():
        records, periods = _stored_periods(db, since, until, by)
        total = summarize(records)
        if as_json:
            payload = {
                "by": by,
                "total": total.to_json(),
                "periods": [p.to_json() for p in periods],
            }
            typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        else:
            print_periods(periods, total, by, load_config(config).labels.as_dict())


@app.command()
def report(
    out: Path = typer.Option(..., "--out", help="Output file, .png or .html."),
    since: Optional[str] = SINCE_OPT,
    until: Optional[str] = UNTIL_OPT,
    by: str = BY_OPT,
    db: Optional[Path] = DB_OPT,
    config: Optional[Path] = CONFIG_OPT,
) -> None:
    """Draw talk over time per parent and the mother share.

    Example: talkratio report --out talk.html --by hour --since 2026-11-24
    """
    from edge.config import load_config
    from edge.report import write_report

    with user_errors():
        labels = load_config(config).labels.as_dict()
        _, periods = _stored_periods(db, since, until, by)
        typer.echo(str(write_report(periods, out, by, labels)))


# --------------------------------------------------------------------------- serve

WEB_EXTRA_HINT = "the dashboard needs the web extra: pip install 'talkratio[web]'"


@app.command()
def serve(
    db: Optional[Path] = DB_OPT,
    host: Optional[str] = typer.Option(
        None, "--host", help="Address to bind (default 127.0.0.1; 0.0.0.0 with --lan)."
    ),
    port: int = typer.Option(8765, "--port", min=1, max=65535, help="TCP port."),
    lan: bool = typer.Option(
        False, "--lan", help="Serve the home network; each phone pairs once with a link/QR."
    ),
    pairing_link: bool = typer.Option(
        False, "--pairing-link", help="With --lan: print the pairing link and QR, then exit."
    ),
    config: Optional[Path] = typer.Option(
        None, "--config", help="Daemon config: labels, database, transcripts, retention."
    ),
) -> None:
    """A parent's dashboard in the browser, served by this device (Korean pages).

    Example: talkratio serve --port 8765   (then open http://127.0.0.1:8765)

    On the home network: talkratio serve --lan, then open the printed link on each phone.
    """
    from edge.config import load_config

    with user_errors():
        try:
            from edge.web.server import ServeOptions, bind_host, pairing_url, run, web_settings
        except ImportError:
            raise UsageError(WEB_EXTRA_HINT) from None
        if pairing_link and not lan:
            raise UsageError("--pairing-link needs --lan (pairing is for the home network)")
        options = ServeOptions(db=db, host=host, port=port, lan=lan)
        bound = bind_host(options)
        settings = web_settings(options, load_config(config))
        if lan and (pairing_link or sys.stdout.isatty()):  # never into a log file
            _print_pairing(pairing_url(settings, port))
        elif lan:
            typer.echo("pair a phone: talkratio serve --lan --pairing-link", err=True)
        if pairing_link:
            return
        typer.echo(f"talkratio dashboard on http://{bound}:{port}/ (Ctrl-C stops it)", err=True)
        run(settings, bound, port)


def _print_pairing(url: str) -> None:
    typer.echo("Open this link once on each phone to pair it (keep it private):")
    typer.echo(url)
    try:
        import segno
    except ImportError:
        return
    segno.make(url, error="m").terminal(compact=True)


# --------------------------------------------------------------------------- models / devices


@app.command()
def models(
    stt_model: Optional[Path] = STT_OPT,
    voice_model: Optional[Path] = VOICE_OPT,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """The active models and what their metadata says about them.

    Example: talkratio models --json
    """
    from edge.display import print_models
    from edge.model_catalog import describe_models

    with user_errors():
        described = describe_models(stt_model, voice_model)
        if as_json:
            typer.echo(json.dumps(described, ensure_ascii=False, indent=2))
        else:
            print_models(described)


@app.command()
def devices(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """The audio input devices (use the index or a part of the name with --device).

    Example: talkratio devices
    """
    from dataclasses import asdict

    from edge.display import print_devices
    from edge.sources import list_input_devices

    with user_errors():
        found = list_input_devices()
        if as_json:
            typer.echo(json.dumps([asdict(d) for d in found], indent=2))
        elif not found:
            typer.echo("no audio input device found", err=True)
            raise typer.Exit(EXIT_RUNTIME_ERROR)
        else:
            print_devices(found)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
