from __future__ import annotations

import csv
from pathlib import Path

from paystorm.sampler import MetricsSampler, parse_sample

EXPOSITION = """\
# TYPE paystorm_inflight_requests gauge
paystorm_inflight_requests 7.0
# TYPE paystorm_admission_queued gauge
paystorm_admission_queued 3.0
# TYPE paystorm_admission_shed_total counter
paystorm_admission_shed_total 12.0
# TYPE paystorm_http_requests_total counter
paystorm_http_requests_total{route="pay",status="200"} 90.0
paystorm_http_requests_total{route="account",status="200"} 10.0
# TYPE paystorm_channel_breaker_state gauge
paystorm_channel_breaker_state{channel="bank_a"} 2.0
paystorm_channel_breaker_state{channel="bank_b"} 0.0
# TYPE paystorm_channel_busy gauge
paystorm_channel_busy{channel="bank_a"} 0.0
paystorm_channel_busy{channel="bank_b"} 8.0
# TYPE paystorm_channel_waiting gauge
paystorm_channel_waiting{channel="bank_b"} 4.0
"""


def test_scalar_families_are_summed_and_channels_get_a_column_each() -> None:
    values = parse_sample(EXPOSITION)
    assert values["inflight"] == 7 and values["queued"] == 3 and values["shed_total"] == 12
    assert values["requests_total"] == 100  # every route and status together
    assert values["breaker_bank_a"] == 2 and values["breaker_bank_b"] == 0
    assert values["channel_busy_bank_b"] == 8 and values["channel_waiting_bank_b"] == 4
    assert values["payments_total"] == 0  # absent: zero, not missing


def test_one_row_per_second_of_the_run_clock_with_every_channel_column(tmp_path: Path) -> None:
    sampler = MetricsSampler("http://127.0.0.1:1")
    later = parse_sample(EXPOSITION.replace("paystorm_admission_queued 3.0", "x 1"))
    sampler.samples = [(99.6, parse_sample(EXPOSITION)), (101.1, later), (101.3, later)]
    sampler.write(tmp_path / "g.csv", t0_unix=100.0)
    rows = list(csv.DictReader((tmp_path / "g.csv").read_text().splitlines()))
    assert [r["time"] for r in rows] == ["0", "1"]  # 99.6 rounds to 0; 101.3 repeats second 1
    assert rows[0]["queued"] == "3.0" and rows[1]["queued"] == "0.0"
    assert rows[1]["breaker_bank_a"] == "2.0" and rows[1]["channel_waiting_bank_b"] == "4.0"
