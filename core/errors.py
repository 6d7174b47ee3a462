"""Domain errors. A ``UserError`` carries a message key from ``core.messages`` and its parameters; the edge
renders it in the user's language. Anything else is a bug: logged with an error id, apologised for."""

from __future__ import annotations

import functools
from typing import Any


class UserError(Exception):
    """A failure the user can act on (bad photo, no face, ...)."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params

    def render(self, lang: str) -> str:
        from core.messages import t

        return t(self.key, lang, **self.params)

    def __repr__(self) -> str:
        return f"UserError({self.key!r}, {self.params!r})"

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickled with its parameters (Exception's own pickling keeps ``args`` only): it crosses from the
        processes that check photos back to the bot."""
        return (functools.partial(type(self), self.key, **self.params), ())
