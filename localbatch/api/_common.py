"""Checks and helpers shared by the resource modules (spec §6, §7)."""

from __future__ import annotations

import base64
import re
import zlib
from typing import Any

from localbatch.engine.tables import Table
from localbatch.errors import BatchClientError

NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,128}")
MAX_TAGS = 50


def clone(value: Any) -> Any:
    """Copy JSON-like data so the caller and the engine never share a dict or list.

    Containers are copied whole at C speed and only nested containers are
    visited: several times faster than copy.deepcopy, and it runs on every
    describe."""
    kind = type(value)
    if kind is dict:
        out = value.copy()
        for key, item in value.items():
            if type(item) is dict or type(item) is list:
                out[key] = clone(item)
        return out
    if kind is list:
        out = value.copy()
        for i, item in enumerate(value):
            if type(item) is dict or type(item) is list:
                out[i] = clone(item)
        return out
    return value


# -- describe copies compiled per shape ---------------------------------------
#
# Stored describe output is never edited in place (`updated` swaps the whole
# dict), so the nested dicts and lists of one version of `resource.data`
# never change. A copier compiled for that layout rebuilds exactly those
# containers as dict/list displays, without visiting a single leaf: about 4x
# faster than `clone` for a job definition. Copiers are pure functions of the
# layout, so one compiled function serves every resource laid out alike.

_FLAT_DICT = "d"  # a dict holding no dict or list: copied shallow
_FLAT_LIST = "l"  # a list holding no dict or list: copied shallow
_FLAT_DICTS = "ld"  # a long list of flat dicts, copied by a loop whatever its length
_LONG_LIST = 4  # longer lists of flat dicts loop instead of spelling out each item
_MAX_NODES = 256  # larger or deeper layouts are left to `clone`
_MAX_DEPTH = 32
_MAX_COPIERS = 1024  # distinct layouts compiled; past this, new layouts use `clone`
_COPIERS: dict[Any, Any] = {}


class _Unsupported(Exception):
    """A layout the compiled copier does not handle (non-str keys, too large)."""


def _layout(value: Any, budget: list[int], depth: int) -> Any:
    """The containers of `value` as a hashable key: None for a leaf, a flat
    marker, or ("d", ((key, layout), ...)) / ("l", (layout, ...)) listing only
    the members that are themselves containers (or every item, for lists)."""
    kind = type(value)
    if kind is not dict and kind is not list:
        return None
    budget[0] -= 1
    if budget[0] < 0 or depth > _MAX_DEPTH:
        raise _Unsupported
    if kind is dict:
        members = []
        for key, item in value.items():
            if type(key) is not str:
                raise _Unsupported
            if type(item) is dict or type(item) is list:
                members.append((key, _layout(item, budget, depth + 1)))
        return ("d", tuple(members)) if members else _FLAT_DICT
    items = tuple(_layout(item, budget, depth + 1) for item in value)
    if not any(items):
        return _FLAT_LIST
    if len(items) > _LONG_LIST and all(item == _FLAT_DICT for item in items):
        return _FLAT_DICTS
    return ("l", items)


def _display(layout: Any, source: str, names: list[int]) -> str:
    """Python source rebuilding the containers of `layout` from `source`, an
    expression this code evaluates exactly once (left to right)."""
    if layout == _FLAT_DICT:
        return f"{{**{source}}}"
    if layout == _FLAT_LIST:
        return f"[*{source}]"
    if layout == _FLAT_DICTS:
        # map, not a comprehension: `source` may bind a name, which a
        # comprehension's iterable may not.
        return f"[*map(_copy_dict, {source})]"
    if source.isidentifier():
        var = first = source
    else:
        names[0] += 1
        var = f"t{names[0]}"
        # The first use binds `var`; every later sibling reads it.
        first = f"({var} := {source})"
    kind, members = layout
    if kind == "d":
        parts = [f"**{first}"]
        parts += [f"{key!r}: {_display(sub, f'{var}[{key!r}]', names)}" for key, sub in members]
        return "{" + ", ".join(parts) + "}"
    parts = []
    for i, sub in enumerate(members):
        ref = f"{first if i == 0 else var}[{i}]"
        parts.append(ref if sub is None else _display(sub, ref, names))
    return "[" + ", ".join(parts) + "]"


def _compile_copier(layout: Any) -> Any:
    # The only text taken from data is dict keys, always as repr() of a str:
    # a string literal, never code.
    namespace: dict[str, Any] = {"_copy_dict": dict.copy}
    exec(f"def copy(t0):\n    return {_display(layout, 't0', [0])}\n", namespace)
    return namespace["copy"]


def copier(value: Any) -> Any:
    """A function copying any value laid out like `value` (same keys holding
    dicts or lists, same list lengths where items nest) exactly as `clone`
    does: new dicts and lists throughout, leaves shared."""
    try:
        layout = _layout(value, [_MAX_NODES], 0)
    except _Unsupported:
        return clone
    if layout is None:
        return clone
    found = _COPIERS.get(layout)
    if found is None:
        if len(_COPIERS) >= _MAX_COPIERS:
            return clone
        try:
            found = _COPIERS[layout] = _compile_copier(layout)
        except (SyntaxError, RecursionError, MemoryError):  # past a parser limit: a describe must still answer
            return clone
    return found


def fresh(resource: Any) -> Any:
    """A copy of `resource.data` the caller may mutate: what describe returns.

    The copier is chosen once per version of `resource.data` (it is replaced,
    never edited) and kept on the resource next to the version it was chosen for.
    """
    data = resource.data
    plan = resource.copy_plan
    if plan is None or plan[0] is not data:
        plan = resource.copy_plan = (data, copier(data))
    return plan[1](data)


def updated(backend: Any, resource: Any, **changes: Any) -> None:
    """Replace `resource.data` with a copy carrying `changes` (journaled).

    Stored data is never edited in place, so the undo log only needs the
    old dict, and a describe answered earlier never sees a later change.
    """
    data = {**resource.data}
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    backend.journal.set(resource, "data", data)
    backend.journal.set(backend, "data_version", backend.data_version + 1)


def finish_later(backend: Any, table: Table, resource: Any, expected: str, **changes: Any) -> None:
    """Spec §1.1 [proposed]: an asynchronous status (CREATING, UPDATING) ends
    after `backend.resource_latency_ms`, as an event. The event does nothing if
    the resource left `table` or its status moved on in the meantime."""
    backend.schedule_in(backend.resource_latency_ms, _finish, backend, table, resource, expected, changes)


def _finish(backend: Any, table: Table, resource: Any, expected: str, changes: dict[str, Any]) -> None:
    if table.by_arn.get(resource.arn) is resource and resource.data.get("status") == expected:
        updated(backend, resource, **changes)


def check_new(table: Table, key: str, limit: int | None = None, kind: str = "") -> None:
    """A create may not reuse a name (spec §7 row 3) nor pass the region's quota (§1.1)."""
    if table.get(key) is not None:
        raise BatchClientError("Object already exists")
    if limit is not None and len(table) >= limit:
        raise BatchClientError(f"Exceeded the limit of {limit} {kind}")


def check_name(field: str, value: str) -> None:
    """Spec §7 row 1: resource names are 1-128 of [A-Za-z0-9_-]."""
    if not NAME_RE.fullmatch(value):
        raise BatchClientError(f"{field} should match valid pattern", wrapped=True)


def check_range(field: str, value: int | float | None, low: float, high: float) -> None:
    if value is not None and not (low <= value <= high):
        raise BatchClientError(f"{field} must be between {low:g} and {high:g}")


def check_tags(tags: dict[str, str] | None, existing: dict[str, str] | None = None) -> None:
    """Spec §1.1 / §7 row 28: 1-50 pairs, key 1-128, value <= 256, no aws: keys."""
    if tags is None:
        return
    for key, value in tags.items():
        if not 1 <= len(key) <= 128:
            raise BatchClientError("Tag keys must be between 1 and 128 characters long")
        if len(value) > 256:
            raise BatchClientError("Tag values must be at most 256 characters long")
        if key.lower().startswith("aws:"):
            raise BatchClientError("Tag keys starting with 'aws:' are reserved for system use")
    total = len({**(existing or {}), **tags})
    if total > MAX_TAGS:
        raise BatchClientError(f"Total number of tags exceeds {MAX_TAGS}")


def require_one(table: Table, name_or_arn: str, missing: str) -> Any:
    found = table.get(name_or_arn)
    if found is None:
        raise BatchClientError(missing)
    return found


# -- pagination (spec §6.3 [proposed]) ----------------------------------------


_PAGING = frozenset(("nextToken", "maxResults"))
_NO_QUERY = zlib.crc32(b"[]")  # the fingerprint of a call that only pages


# Fingerprints of recent flat requests (every value hashable), by their
# members as given: a caller listing the same query again and again (a
# polling loop) pays a tuple and a lookup instead of the repr. Bounded.
_FINGERPRINTS: dict[tuple, int] = {}
_FINGERPRINTS_KEPT = 256


def _fingerprint(params: dict[str, Any]) -> int:
    if _PAGING.issuperset(params):  # the common "next page of everything": skip the repr
        return _NO_QUERY
    members = tuple(params.items())
    try:
        found = _FINGERPRINTS.get(members)
    except TypeError:  # a list or dict member (filters): not kept
        return _query_fingerprint(params)
    if found is None:
        if len(_FINGERPRINTS) >= _FINGERPRINTS_KEPT:
            _FINGERPRINTS.clear()
        found = _FINGERPRINTS[members] = _query_fingerprint(params)
    return found


def _query_fingerprint(params: dict[str, Any]) -> int:
    # Keys are unique, so sorting them sorts the (key, repr) pairs alike.
    query = [(k, repr(params[k])) for k in sorted(params) if k not in _PAGING]
    return zlib.crc32(repr(query).encode())


def page_request(params: dict[str, Any], *, maximum: int = 100, default: int | None = None) -> tuple[int, int]:
    """(after_seq, limit) for a paginated call; checks maxResults and nextToken."""
    limit = params.get("maxResults")
    if limit is None:
        limit = default if default is not None else maximum
    elif not 1 <= limit <= maximum:
        raise BatchClientError(f"maxResults must be between 1 and {maximum}")
    token = params.get("nextToken")
    if not token:
        return 0, limit
    try:
        fingerprint, seq = base64.urlsafe_b64decode(token.encode()).decode().split(":")
        after = int(seq)
        ok = int(fingerprint) == _fingerprint(params)
    except (ValueError, UnicodeDecodeError):
        ok = False
    if not ok:
        raise BatchClientError("Invalid nextToken")
    return after, limit


def page_token(params: dict[str, Any], last_seq: int | None) -> str | None:
    if last_seq is None:
        return None
    return base64.urlsafe_b64encode(f"{_fingerprint(params)}:{last_seq}".encode()).decode()


def cursor_request(params: dict[str, Any], *, maximum: int = 100) -> tuple[str | None, int]:
    """(cursor, limit) for a paginated call ordered by a key other than creation.

    The cursor is the key of the last item already returned, as the caller
    passed it to `cursor_token`; the caller parses it (and raises `Invalid
    nextToken` if it cannot).
    """
    limit = params.get("maxResults")
    if limit is None:
        limit = maximum
    elif not 1 <= limit <= maximum:
        raise BatchClientError(f"maxResults must be between 1 and {maximum}")
    token = params.get("nextToken")
    if not token:
        return None, limit
    try:
        fingerprint, cursor = base64.urlsafe_b64decode(token.encode()).decode().split(":", 1)
        ok = int(fingerprint) == _fingerprint(params)
    except (ValueError, UnicodeDecodeError):
        ok = False
    if not ok:
        raise BatchClientError("Invalid nextToken")
    return cursor, limit


def cursor_token(params: dict[str, Any], cursor: str) -> str:
    return base64.urlsafe_b64encode(f"{_fingerprint(params)}:{cursor}".encode()).decode()


def paged(
    params: dict[str, Any], key: str, table: Table, render, keep=None, *, maximum: int = 100, group: str | None = None
) -> dict[str, Any]:
    """Answer a list/describe call over `table` (or one `group` of it) in creation order."""
    after, limit = page_request(params, maximum=maximum)
    items, last = table.page(after, limit, keep, group)
    out: dict[str, Any] = {key: [render(r) for r in items]}
    token = page_token(params, last)
    if token is not None:
        out["nextToken"] = token
    return out


def describe_paged(
    params: dict[str, Any], names_key: str, key: str, table: Table, render, *, maximum: int = 100
) -> dict[str, Any]:
    """Answer a Describe* call that takes up to `maximum` names/ARNs (spec §6.3).

    Without names (or with an empty list) every resource is described. With
    names, unknown ones are omitted, duplicates collapse, and the rest come in
    creation order, paged the same way, so a token works for both forms.
    """
    names = params.get(names_key) or []
    if len(names) > maximum:
        raise BatchClientError(f"{names_key} must contain at most {maximum} items")
    if not names:
        return paged(params, key, table, render, maximum=maximum)
    after, limit = page_request(params, maximum=maximum)
    found: dict[int, Any] = {}
    for name in names:
        resource = table.get(name)
        if resource is not None and resource.seq > after:
            found[resource.seq] = resource
    ordered = [found[seq] for seq in sorted(found)]
    out: dict[str, Any] = {key: [render(r) for r in ordered[:limit]]}
    if len(ordered) > limit:
        out["nextToken"] = page_token(params, ordered[limit - 1].seq)
    return out
