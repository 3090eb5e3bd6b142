"""How figures read on the pages: minutes with one decimal, shares in whole percent,
local clock times, durations and changes in Korean."""

from __future__ import annotations

from datetime import date, datetime

from jinja2 import Environment

SECONDS_PER_MINUTE = 60
SECONDS_PER_HOUR = 3600
SECONDS_PER_DAY = 86_400
JONGSEONG_COUNT = 28  # Unicode Hangul: each initial+vowel has 28 finals, the first is none


def minutes(seconds: float) -> str:
    return f"{seconds / SECONDS_PER_MINUTE:.1f}"


def share(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def clock(unix_s: float | None) -> str:
    if unix_s is None:
        return "—"
    return datetime.fromtimestamp(unix_s).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def duration(seconds: float) -> str:
    """``3일 4시간``, ``2시간 5분``, ``7분``: the two largest units."""
    days, rest = divmod(int(seconds), SECONDS_PER_DAY)
    hours, rest = divmod(rest, SECONDS_PER_HOUR)
    mins = rest // SECONDS_PER_MINUTE
    if days:
        return f"{days}일 {hours}시간"
    if hours:
        return f"{hours}시간 {mins}분"
    return f"{mins}분"


def change(now: float, before: float, unit: str = "") -> str:
    """``▲ 3.5분``, ``▼ 2회``, ``변화 없음`` for the week's trend column."""
    delta = now - before
    if abs(delta) < 0.05:
        return "변화 없음"
    text = f"{abs(delta):.1f}" if isinstance(delta, float) else f"{abs(delta)}"
    return f"{'▲' if delta > 0 else '▼'} {text}{unit}"


def korean_day(day: date) -> str:
    return f"{day.year}년 {day.month}월 {day.day}일 ({'월화수목금토일'[day.weekday()]})"


def size(n_bytes: int) -> str:
    if n_bytes < 1024:
        return f"{n_bytes} B"
    value = n_bytes / 1024
    for unit in ("KB", "MB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def josa(word: str, after_vowel: str, after_consonant: str) -> str:
    """The word with the particle its last syllable takes: 아이와 but 민준과."""
    last = word[-1:] if word else ""
    has_final = "가" <= last <= "힣" and (ord(last) - ord("가")) % JONGSEONG_COUNT != 0
    return word + (after_consonant if has_final else after_vowel)


def register_filters(env: Environment) -> None:
    env.filters.update(
        minutes=minutes,
        share=share,
        clock=clock,
        duration=duration,
        korean_day=korean_day,
        size=size,
    )
    env.globals.update(change=change, josa=josa)
