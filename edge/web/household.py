"""The household's voiceprints as the dashboard shows them: one small adapter over the store.

The store keeps the voiceprints (``Store.voiceprints()`` gives
:class:`edge.household.Voiceprint` records, ``Store.forget(role)`` deletes one);
a talkratio without enrolment has neither, and the page says so instead of
failing.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge.store import Store

PARENT_ROLES = ("mother", "father")


@dataclass(frozen=True)
class Enrolled:
    role: str
    enrolled_at: float | None  # Unix s
    model: str
    quality: float | None


def supported(store: Store) -> bool:
    return callable(getattr(store, "voiceprints", None))


def enrolled(store: Store) -> list[Enrolled]:
    """The enrolled parents, in role order (empty before enrolment or without support)."""
    if not supported(store):
        return []
    found = [Enrolled(v.role, v.created_at, v.model_name, v.quality) for v in store.voiceprints()]
    return sorted(found, key=lambda e: PARENT_ROLES.index(e.role) if e.role in PARENT_ROLES else 9)


def forget(store: Store, role: str) -> bool:
    """Delete ``role``'s voiceprint; False when there was none."""
    if role not in PARENT_ROLES or not supported(store):
        return False
    return bool(store.forget(role))
