"""Docker token scopes (distribution `docs/spec/auth/scope.md`).

A scope is `type:name:actions`, e.g. `repository:acme/web:pull,push`; the name may itself
contain a colon (a registry host with a port), so the type is split off the front and the
actions off the back.
"""

from __future__ import annotations

from dataclasses import dataclass

from wharf.auth.roles import ACTIONS, PULL, VIEW, ordered

REPOSITORY = "repository"
REGISTRY = "registry"
CATALOG = "catalog"

# Asking to pull implies asking to see tags: `docker`/`skopeo` list tags with a pull scope,
# and a viewer is allowed to do exactly that part.
_IMPLIED = {PULL: {VIEW}}


@dataclass(frozen=True, slots=True)
class Scope:
    type: str
    name: str
    actions: frozenset[str]

    def __str__(self) -> str:
        return f"{self.type}:{self.name}:{','.join(self.sorted_actions())}"

    def sorted_actions(self) -> list[str]:
        known = ordered(set(self.actions))
        return known + sorted(a for a in self.actions if a not in ACTIONS)

    def claim(self) -> dict[str, object]:
        """The entry in a token's `access` claim (distribution `jwt.md`)."""
        return {"type": self.type, "name": self.name, "actions": self.sorted_actions()}


class ScopeError(ValueError):
    pass


def parse_scope(text: str) -> Scope:
    parts = text.split(":")
    if len(parts) < 3 or not parts[0]:
        raise ScopeError(f"malformed scope {text!r}")
    kind, name, actions = parts[0], ":".join(parts[1:-1]), parts[-1]
    if not name:
        raise ScopeError(f"malformed scope {text!r}")
    wanted = {a.strip() for a in actions.split(",") if a.strip()}
    return Scope(kind, name, frozenset(wanted))


def parse_scopes(values: list[str]) -> list[Scope]:
    """Every `scope` parameter; a parameter may hold several, separated by spaces (OAuth2)."""
    scopes: list[Scope] = []
    for value in values:
        scopes += [parse_scope(part) for part in value.split() if part]
    return merge(scopes)


def merge(scopes: list[Scope]) -> list[Scope]:
    """One scope per (type, name), with the union of the actions asked for."""
    merged: dict[tuple[str, str], set[str]] = {}
    for scope in scopes:
        merged.setdefault((scope.type, scope.name), set()).update(scope.actions)
    return [Scope(t, n, frozenset(a)) for (t, n), a in merged.items()]


def expand(requested: frozenset[str], allowed: frozenset[str]) -> frozenset[str]:
    """The actions a request stands for: `*` is everything allowed; pull implies view."""
    wanted = set(requested)
    if "*" in wanted:
        wanted = set(allowed) | (wanted - {"*"})
    for action in list(wanted):
        wanted |= _IMPLIED.get(action, set())
    return frozenset(wanted)


def intersect(requested: Scope, allowed: frozenset[str]) -> Scope | None:
    """What of `requested` may be granted; None when nothing may."""
    granted = expand(requested.actions, allowed) & allowed
    if not granted:
        return None
    return Scope(requested.type, requested.name, granted)


def challenge_scope(name: str, actions: frozenset[str]) -> str:
    """The scope a 401 names: the Docker action words for what the route needs."""
    words = {"pull"} if VIEW in actions else set()
    words |= actions - {VIEW}
    if "push" in words:
        words.add("pull")
    return str(Scope(REPOSITORY, name, frozenset(words)))
