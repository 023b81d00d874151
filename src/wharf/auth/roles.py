"""Project roles and what they allow.

The roles form a ladder (`registry.viewer` < `registry.puller` < `registry.pusher` <
`registry.admin`); each allows everything the one below it does.
"""

from __future__ import annotations

import enum

VIEW = "view"
PULL = "pull"
PUSH = "push"
DELETE = "delete"
# Order matters: it is the order actions are listed in tokens and challenges.
ACTIONS = (VIEW, PULL, PUSH, DELETE)


class Role(enum.IntEnum):
    VIEWER = 1
    PULLER = 2
    PUSHER = 3
    ADMIN = 4

    @property
    def label(self) -> str:
        return f"registry.{self.name.lower()}"

    @property
    def actions(self) -> frozenset[str]:
        return _ACTIONS[self]

    @classmethod
    def parse(cls, text: str) -> Role:
        """`pusher`, `registry.pusher` or `PUSHER`."""
        key = text.strip().lower().removeprefix("registry.")
        for role in cls:
            if role.name.lower() == key:
                return role
        raise ValueError(f"unknown role {text!r}: expected one of "
                         f"{', '.join(r.label for r in cls)}")


_ACTIONS = {
    Role.VIEWER: frozenset({VIEW}),
    Role.PULLER: frozenset({VIEW, PULL}),
    Role.PUSHER: frozenset({VIEW, PULL, PUSH}),
    Role.ADMIN: frozenset({VIEW, PULL, PUSH, DELETE}),
}

# What anyone, signed in or not, may do in a public project.
PUBLIC_ACTIONS = frozenset({VIEW, PULL})


def ordered(actions: frozenset[str] | set[str]) -> list[str]:
    return [a for a in ACTIONS if a in actions]
