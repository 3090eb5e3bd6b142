"""Start the dashboard: settings from the daemon's config, uvicorn on one host and port."""

from __future__ import annotations

import ipaddress
import logging
import socket
from dataclasses import dataclass
from pathlib import Path

from edge.config import DaemonConfig
from edge.errors import UsageError
from edge.store import default_db_path
from edge.web.app import WebSettings, create_app
from edge.web.security import load_or_create_token

log = logging.getLogger(__name__)

LOOPBACK_HOST = "127.0.0.1"
LAN_HOST = "0.0.0.0"
DEFAULT_PORT = 8765
# Routing lookup only: connect() on a UDP socket sends nothing; the address is TEST-NET-1.
ROUTE_PROBE = ("192.0.2.1", 9)


@dataclass(frozen=True)
class ServeOptions:
    db: Path | None = None
    host: str | None = None  # None: loopback, or every interface with ``lan``
    port: int = DEFAULT_PORT
    lan: bool = False
    token_path: Path | None = None  # None: the user data directory


def bind_host(options: ServeOptions) -> str:
    """Loopback unless ``--lan``; a non-loopback ``--host`` without ``--lan`` is refused."""
    if options.host is None:
        return LAN_HOST if options.lan else LOOPBACK_HOST
    if not options.lan and not _is_loopback(options.host):
        raise UsageError(
            f"--host {options.host} would open the dashboard to the network; add --lan "
            "(which requires pairing each phone)"
        )
    return options.host


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def web_settings(options: ServeOptions, config: DaemonConfig) -> WebSettings:
    storage = config.storage
    db = options.db or (Path(storage.database) if storage.database else default_db_path())
    return WebSettings(
        db_path=db,
        labels=config.labels.as_dict(),
        transcripts=storage.transcripts,
        retention_days=storage.retention_days,
        access_token=load_or_create_token(options.token_path) if options.lan else None,
    )


def lan_address() -> str:
    """This device's address on the home network (the interface of the default route)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(ROUTE_PROBE)
            return probe.getsockname()[0]
    except OSError:
        return socket.gethostname()


def pairing_url(settings: WebSettings, port: int) -> str:
    return f"http://{lan_address()}:{port}/pair?token={settings.access_token}"


def run(settings: WebSettings, host: str, port: int) -> None:
    """Serve until Ctrl-C or SIGTERM (uvicorn handles both)."""
    import uvicorn

    if not settings.db_path.is_file():
        log.warning(
            "%s does not exist yet: the pages say so until the daemon stores", settings.db_path
        )
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level="warning",
        server_header=False,
        proxy_headers=False,
        access_log=False,  # the paths carry dates people looked at; keep the journal quiet
    )
