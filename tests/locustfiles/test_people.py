from __future__ import annotations

import random
from collections import Counter

from locustfiles.context import pick_type


def test_user_types_are_drawn_by_their_weights_and_reproducibly() -> None:
    mix = {"shopper": 85.0, "pos": 10.0, "refund": 5.0, "unused": 0.0}
    rng = random.Random(7)
    draws = Counter(pick_type(rng, mix) for _ in range(20_000))
    assert set(draws) == {"shopper", "pos", "refund"}
    assert abs(draws["shopper"] / 20_000 - 0.85) < 0.01
    assert abs(draws["pos"] / 20_000 - 0.10) < 0.01
    assert abs(draws["refund"] / 20_000 - 0.05) < 0.01
    first, second = random.Random(3), random.Random(3)
    assert [pick_type(first, mix) for _ in range(50)] == [pick_type(second, mix) for _ in range(50)]
