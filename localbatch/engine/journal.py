"""Undo log that makes every API call all-or-nothing.

Real Batch never leaves a resource half-changed when a call fails, so every
mutation of engine state goes through these primitives. While a call runs
they record how to undo themselves; the shim rolls the log back if the call
raises (a ClientException found late, or a bug in localbatch), and drops it
when the call succeeds.
"""

from __future__ import annotations

from typing import Any, Callable

_MISSING = object()


def _restore_attr(obj: Any, name: str, old: Any) -> None:
    if old is _MISSING:
        delattr(obj, name)
    else:
        setattr(obj, name, old)


def _restore_item(mapping: dict, key: Any, old: Any) -> None:
    if old is _MISSING:
        mapping.pop(key, None)
    else:
        mapping[key] = old


class Journal:
    __slots__ = ("_undo",)

    def __init__(self) -> None:
        self._undo: list[tuple[Callable[..., Any], tuple]] | None = None

    @property
    def active(self) -> bool:
        """True while a call or event is running (its changes can still be undone)."""
        return self._undo is not None

    def begin(self) -> None:
        self._undo = []

    def commit(self) -> None:
        self._undo = None

    def checkpoint(self) -> None:
        """Keep everything done so far (commit), and go on recording if active."""
        if self._undo is not None:
            self._undo = []

    def rollback(self) -> None:
        undo, self._undo = self._undo, None
        for fn, args in reversed(undo or ()):
            fn(*args)

    def record(self, fn: Callable[..., Any], *args: Any) -> None:
        if self._undo is not None:
            self._undo.append((fn, args))

    # -- the mutation primitives --------------------------------------------

    def set(self, obj: Any, name: str, value: Any) -> None:
        if self._undo is not None:
            self._undo.append((_restore_attr, (obj, name, getattr(obj, name, _MISSING))))
        setattr(obj, name, value)

    def put(self, mapping: dict, key: Any, value: Any) -> None:
        if self._undo is not None:
            self._undo.append((_restore_item, (mapping, key, mapping.get(key, _MISSING))))
        mapping[key] = value

    def pop(self, mapping: dict, key: Any) -> Any:
        old = mapping.pop(key, _MISSING)
        if old is _MISSING:
            return None
        if self._undo is not None:
            self._undo.append((_restore_item, (mapping, key, old)))
        return old

    def append(self, items: list, value: Any) -> None:
        items.append(value)
        if self._undo is not None:
            self._undo.append((list.pop, (items,)))
