from __future__ import annotations

import random
from collections import Counter

from locustfiles.context import pick_type
from locustfiles.network import WEAK_RTT_CAP_S, weak_rtt_s


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


def test_a_weak_link_adds_a_heavy_tailed_capped_round_trip() -> None:
    rng = random.Random(1)
    rtts = sorted(weak_rtt_s(rng) for _ in range(5_000))
    assert 0.15 < rtts[len(rtts) // 2] < 0.35  # median near WEAK_RTT_MEDIAN_S
    assert rtts[-1] <= WEAK_RTT_CAP_S and rtts[int(0.99 * len(rtts))] > 1.0
