"""Ids and ARNs, in the formats real Batch uses (spec §0.1, §0.2).

Ids come from a seeded random generator, so the same calls give the same
ids on every run; two patches with the same seed hand out the same ids.
"""

from __future__ import annotations

import random
import uuid

PARTITION = "aws"


class IdFactory:
    def __init__(self, seed: int | str = 0) -> None:
        self._random = random.Random(seed)

    def uuid4(self) -> str:
        return str(uuid.UUID(int=self._random.getrandbits(128), version=4))

    def hex(self, length: int) -> str:
        return f"{self._random.getrandbits(4 * length):0{length}x}"


def arn(region: str, account: str, resource: str) -> str:
    return f"arn:{PARTITION}:batch:{region}:{account}:{resource}"


def is_arn(value: str) -> bool:
    return value.startswith("arn:")
