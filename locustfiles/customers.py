"""The one Locust user class: a slot that serves one person after another, each a shopper, a
POS scan or a refunder as the scenario's `mix` weighs them, some on a weak mobile link."""

from __future__ import annotations

from locust import between, task

from locustfiles.arrivals import connect
from locustfiles.checkout import PaystormUser
from locustfiles.context import pick_type
from locustfiles.pos import pos_scan
from locustfiles.refunds import refund
from locustfiles.shoppers import checkout


class Customer(PaystormUser):
    wait_time = between(0.5, 2.0)  # replaced by the scenario's think time

    def on_start(self) -> None:
        super().on_start()
        if self.ctx.scenario.load.model == "arrival-rate":
            connect(self)  # the open model's pool is connected before second 0

    @task
    def arrive(self) -> None:
        start = self.begin()
        if start is None:
            return  # open model, first round: no arrival yet
        ctx = self.ctx
        client = ctx.scenario.client
        kind = pick_type(self.rng, ctx.scenario.mix.weights())
        weak = self.rng.random() < client.weak_network_share
        # A payment code is made offline and scanned over the shop's line: no weak link.
        self.client.person(weak=weak and kind != "pos")
        if kind == "refund":
            if ctx.refundable:
                refund(self, start, ctx.refundable.popleft())
                return
            kind = "shopper"  # nothing bought yet in this process: this person buys instead
        if kind == "pos":
            pos_scan(self, start)
        else:
            checkout(self, start)


if __name__ == "__main__":
    from locust import run_single_user

    run_single_user(Customer)
