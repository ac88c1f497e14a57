"""The seeds behind the same traffic: one stream per arrival, one key prefix per seed."""

from __future__ import annotations

import random

from scenarios.people import arrival_seed, run_key_prefix


def test_each_arrival_has_its_own_stream_fixed_by_the_seed() -> None:
    def person(seed: int, k: int) -> list[float]:
        rng = random.Random(arrival_seed(seed, k))
        return [rng.random() for _ in range(3)]

    assert person(1, 10) == person(1, 10)
    assert len({tuple(person(1, k)) for k in range(100)}) == 100
    assert person(1, 10) != person(2, 10)


def test_a_seed_keeps_its_key_prefix() -> None:
    assert run_key_prefix(1) == run_key_prefix(1) != run_key_prefix(2)
    assert len(run_key_prefix(1)) == 8 and int(run_key_prefix(1), 16) >= 0
