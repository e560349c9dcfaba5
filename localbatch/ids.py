"""Ids and ARNs, in the formats real Batch uses (spec §0.1, §0.2).

Ids come from a seeded random generator, so the same calls give the same
ids on every run; two patches with the same seed hand out the same ids.
"""

from __future__ import annotations

import itertools
import random

PARTITION = "aws"
_CLEAR_VERSION = ~((0xF000 << 64) | (0xC000 << 48)) & ((1 << 128) - 1)
_VERSION_4 = (0x4000 << 64) | (0x8000 << 48)


class IdFactory:
    def __init__(self, seed: int | str = 0) -> None:
        self._random = random.Random(seed)

    def uuid4(self) -> str:
        # The same string uuid.UUID(int=..., version=4) gives, a quarter of
        # the cost: one is made per call (request ids) and per job.
        h = "%032x" % ((self._random.getrandbits(128) & _CLEAR_VERSION) | _VERSION_4)
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def hex(self, length: int) -> str:
        return f"{self._random.getrandbits(4 * length):0{length}x}"


class RequestIds:
    """Request ids in uuid4 form: a seeded random id, whose last twelve hex
    digits then count up. Every call takes one, so it costs a counter, not
    a draw; ids stay distinct for 2**48 calls and the same on every run."""

    def __init__(self, seed: int | str = 0) -> None:
        first = IdFactory(seed).uuid4()
        self._prefix = first[:24]  # eight-four-four-four, the version and variant digits among them
        self._count = itertools.count(int(first[24:], 16))

    def next(self) -> str:
        return f"{self._prefix}{next(self._count) & 0xFFFFFFFFFFFF:012x}"


def arn(region: str, account: str, resource: str) -> str:
    return f"arn:{PARTITION}:batch:{region}:{account}:{resource}"


def is_arn(value: str) -> bool:
    return value.startswith("arn:")
