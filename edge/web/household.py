"""The household's voiceprints as the dashboard shows them: never the embedding itself."""

from __future__ import annotations

from dataclasses import dataclass

from edge.store import Store

PARENT_ROLES = ("mother", "father")


@dataclass(frozen=True)
class Enrolled:
    role: str
    enrolled_at: float  # Unix s
    model: str
    quality: float


def enrolled(store: Store) -> list[Enrolled]:
    """The enrolled parents, mother first."""
    found = [Enrolled(v.role, v.created_at, v.model_name, v.quality) for v in store.voiceprints()]
    return sorted(found, key=lambda e: PARENT_ROLES.index(e.role))


def forget(store: Store, role: str) -> bool:
    """Delete ``role``'s voiceprint (the store wipes its bytes); False when there was none."""
    return role in PARENT_ROLES and store.forget(role)
