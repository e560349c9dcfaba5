"""SortedInts' shortcuts (engine/jobs.py): `top` (a ListJobs page taken a
block slice at a time) and the no-bisect paths of add/discard for the newest
value, checked against a plain sorted list with small blocks, so that every
block boundary is crossed."""

from __future__ import annotations

import random

import pytest

from localbatch.engine.jobs import SortedInts


def _small_blocks(load: int) -> SortedInts:
    class Small(SortedInts):
        __slots__ = ()
        _LOAD = load

    return Small()


@pytest.mark.parametrize("load", [1, 2, 3, 512])
def test_top_is_the_head_of_descending(load):
    rng = random.Random(load)
    ints = _small_blocks(load)
    for _ in range(3000):
        ints.add(rng.randrange(5000))
        if rng.random() < 0.3:
            ints.discard(rng.randrange(5000))
    values = list(ints.descending())
    for _ in range(300):
        below = rng.choice([None, rng.randrange(-5, 5100)])
        count = rng.randrange(0, 150)
        expected = [v for v in values if below is None or v < below][:count]
        assert ints.top(count, below) == expected


def test_top_of_an_empty_set_and_of_nothing():
    ints = SortedInts()
    assert ints.top(10) == [] and ints.top(10, 5) == []
    ints.add(3)
    assert ints.top(0) == [] and ints.top(10, 3) == [] and ints.top(10, 4) == [3]


@pytest.mark.parametrize("load", [1, 2, 8])
def test_adding_and_removing_the_newest_keeps_the_blocks_sound(load):
    rng = random.Random(100 + load)
    ints, model = _small_blocks(load), set()
    for _ in range(5000):
        roll = rng.random()
        if roll < 0.3 and model:
            value = max(model) if rng.random() < 0.6 else rng.choice(sorted(model))
            ints.discard(value)
            model.discard(value)
        elif roll < 0.4:
            value = rng.randrange(3000)
            ints.discard(value)
            model.discard(value)
        else:
            newest = rng.random() < 0.6 and model
            value = max(model) + rng.randrange(1, 3) if newest else rng.randrange(3000)
            ints.add(value)
            model.add(value)
        assert len(ints) == len(model)
    ordered = sorted(model)
    assert list(ints.ascending()) == ordered
    assert list(ints.descending()) == ordered[::-1]
    assert ints.min() == (ordered[0] if ordered else None)
    assert all(ints._blocks) and ints._maxes == [block[-1] for block in ints._blocks]
