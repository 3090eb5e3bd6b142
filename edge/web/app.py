"""The dashboard's pages: Today, Week, Household, Privacy, Device (Korean, no script).

Every page opens the store read-only for the length of one request; only the
two confirmed POST actions (forget a voiceprint, delete everything) open it
for writing. A missing database is a page that says so, never a created file:
any StoreError becomes that page through one exception handler.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from edge.daemon_status import read_status, status_path
from edge.store import Store, StoreError
from edge.web import household
from edge.web.charts import Group, bar_chart, minutes_by_role
from edge.web.figures import day_figures, korean_labels, utterance_count, week_figures
from edge.web.format import register_filters
from edge.web.security import Guard, pairing_cookie, same_secret

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
PARENTS = ("mother", "father")
HOURS_PER_DAY = 24
HOUR_TICK_EVERY = 6  # label 0시, 6시, 12시, 18시: four labels fit a phone
WEEKDAYS_KO = "월화수목금토일"
STATUS_STALE_S = 180.0  # no status for three watchdog periods (60 s each): the daemon is down
ERASE_WORD = "삭제"  # typed to confirm "delete everything"


@dataclass(frozen=True)
class WebSettings:
    """What ``talkratio serve`` was started with. ``access_token``: set with ``--lan``."""

    db_path: Path
    labels: dict[str, str] = field(default_factory=dict)
    transcripts: bool = True
    retention_days: float = 365.0
    access_token: str | None = None


class Pages:
    """The route handlers, sharing the settings, the templates and the CSRF token."""

    def __init__(self, settings: WebSettings):
        self.settings = settings
        self.labels = korean_labels(settings.labels)
        self.csrf = secrets.token_urlsafe(32)  # new at each start: forms from before expire
        self.templates = Jinja2Templates(directory=HERE / "templates")
        register_filters(self.templates.env)

    def render(self, request: Request, name: str, status_code: int = 200, **context) -> Response:
        context.update(labels=self.labels, csrf=self.csrf, page=name.removesuffix(".html"))
        return self.templates.TemplateResponse(request, name, context, status_code=status_code)

    @contextmanager
    def store(self, writable: bool = False) -> Iterator[Store]:
        path = self.settings.db_path
        if not path.is_file():
            raise StoreError(f"the database {path} does not exist yet")
        store = Store(path) if writable else Store.open_read_only(path)
        try:
            yield store
        finally:
            store.close()

    def no_store(self, request: Request, error: StoreError) -> Response:
        """Every page's answer when the store cannot be read or written (the app's handler)."""
        log.warning("%s", error)
        message = (
            "아직 저장된 기록이 없습니다."
            if not self.settings.db_path.is_file()
            else "기록을 읽을 수 없습니다."
        )
        return self.render(request, "error.html", 503, message=message, detail=str(error))

    # ------------------------------------------------------------------ pages

    def today(self, request: Request) -> Response:
        day = _day(request)
        with self.store() as store:
            figures = day_figures(store, day)
        groups = [
            Group(
                f"{hour}시" if hour % HOUR_TICK_EVERY == 0 else "",
                f"{hour}시",
                minutes_by_role(figures.hours[hour], PARENTS) if hour in figures.hours else {},
            )
            for hour in range(HOURS_PER_DAY)
        ]
        chart = bar_chart(groups, PARENTS, self.labels, "시간대별 말한 시간", stacked=True)
        return self.render(
            request,
            "today.html",
            day=day,
            is_today=day == date.today(),
            total=figures.total,
            utterances=utterance_count(figures.total),
            chart=chart,
            previous_day=day - timedelta(days=1),
            next_day=day + timedelta(days=1),
        )

    def week(self, request: Request) -> Response:
        day = _day(request)
        with self.store() as store:
            figures = week_figures(store, day)
        groups = [
            Group(WEEKDAYS_KO[d.weekday()], f"{d:%m/%d}", minutes_by_role(s, PARENTS))
            for d, s in figures.days
        ]
        return self.render(
            request,
            "week.html",
            week=figures,
            weekdays=WEEKDAYS_KO,
            chart=bar_chart(groups, PARENTS, self.labels, "요일별 말한 시간"),
            previous_week=day - timedelta(days=7),
            next_week=day + timedelta(days=7),
        )

    def household_page(self, request: Request) -> Response:
        with self.store() as store:
            enrolled = household.enrolled(store)
        return self.render(
            request,
            "household.html",
            enrolled=enrolled,
            forgotten=request.query_params.get("forgotten"),
        )

    def forget_confirm(self, request: Request) -> Response:
        role = request.query_params.get("role", "")
        if role not in PARENTS:
            return self.render(request, "error.html", 404, message="그런 사람은 없습니다.")
        return self.render(request, "forget.html", role=role)

    async def forget(self, request: Request) -> Response:
        form = await request.form()
        if not same_secret(form.get("csrf"), self.csrf):
            return _csrf_refused(self, request)
        role = str(form.get("role", ""))
        with self.store(writable=True) as store:
            done = household.forget(store, role)
        log.warning("voiceprint of %s forgotten from the dashboard: %s", role, done)
        return RedirectResponse(f"/household?forgotten={role if done else ''}", 303)

    def privacy(self, request: Request) -> Response:
        with self.store() as store:
            overview = store.overview()
            voiceprints = len(household.enrolled(store))
        return self.render(
            request,
            "privacy.html",
            overview=overview,
            voiceprints=voiceprints,
            settings=self.settings,
            size_bytes=_files_size(self.settings.db_path),
            erased=request.query_params.get("erased"),
        )

    def erase_confirm(self, request: Request) -> Response:
        return self.render(request, "erase.html", word=ERASE_WORD, mistyped=False)

    async def erase(self, request: Request) -> Response:
        form = await request.form()
        if not same_secret(form.get("csrf"), self.csrf):
            return _csrf_refused(self, request)
        if str(form.get("confirm", "")).strip() != ERASE_WORD:
            return self.render(request, "erase.html", 400, word=ERASE_WORD, mistyped=True)
        with self.store(writable=True) as store:
            wiped = store.erase_everything()
        return RedirectResponse(f"/privacy?erased={'wiped' if wiped else 'pending'}", 303)

    def device(self, request: Request) -> Response:
        with self.store() as store:
            overview = store.overview()
        status = read_status(status_path(self.settings.db_path))
        stale = status is None or time.time() - status.updated_at > STATUS_STALE_S
        return self.render(request, "device.html", status=status, stale=stale, overview=overview)

    def pair(self, request: Request) -> Response:
        token = self.settings.access_token
        if token is None or not same_secret(request.query_params.get("token"), token):
            return self.render(request, "error.html", 401, message="연결 링크가 맞지 않습니다.")
        response = self.render(request, "paired.html")
        pairing_cookie(response, token)
        return response


def _day(request: Request) -> date:
    """``?day=2026-11-24``; today (local) when absent or not a date."""
    try:
        return date.fromisoformat(request.query_params.get("day", ""))
    except ValueError:
        return date.today()


def _files_size(db_path: Path) -> int:
    suffixes = ("", "-wal", "-shm")
    return sum(p.stat().st_size for s in suffixes if (p := Path(f"{db_path}{s}")).is_file())


def _csrf_refused(pages: Pages, request: Request) -> Response:
    log.warning("POST %s refused: missing or wrong CSRF token", request.url.path)
    message = "이 요청은 확인할 수 없습니다. 페이지를 새로 열고 다시 시도하세요."
    return pages.render(request, "error.html", 403, message=message)


def create_app(settings: WebSettings) -> Starlette:
    pages = Pages(settings)
    routes = [
        Route("/", pages.today),
        Route("/week", pages.week),
        Route("/household", pages.household_page),
        Route("/household/forget", pages.forget_confirm, methods=["GET"]),
        Route("/household/forget", pages.forget, methods=["POST"]),
        Route("/privacy", pages.privacy),
        Route("/privacy/erase", pages.erase_confirm, methods=["GET"]),
        Route("/privacy/erase", pages.erase, methods=["POST"]),
        Route("/device", pages.device),
        Route("/pair", pages.pair),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(Guard, access_token=settings.access_token)],
        exception_handlers={StoreError: pages.no_store},
    )
