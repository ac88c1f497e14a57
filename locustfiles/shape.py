"""The one shape adapter: a scenario's stages as a Locust LoadTestShape."""

from __future__ import annotations

from locust import LoadTestShape

from locustfiles.context import context_of
from scenarios.model import users_at


class ScenarioShape(LoadTestShape):
    """Users model: the stage's user count at each moment, stopping at the scenario's end.

    Arrival-rate model: the whole pool of `max_users` at once, until the scenario's end counted
    from the first second of load; the arrival executor, not the user count, sets the rate."""

    def tick(self) -> tuple[int, float] | None:
        assert self.runner is not None
        ctx = context_of(self.runner.environment)
        scenario = ctx.scenario
        load = scenario.load
        if load.model == "arrival-rate":
            if ctx.started and ctx.now_s() >= scenario.run_duration_s:
                return None
            # A spawn rate of the pool's size spawns it in one go.
            return load.max_users, float(load.max_users)
        wall_s = self.get_run_time()
        if wall_s >= scenario.run_duration_s:
            return None
        users = users_at(load.stages, wall_s * scenario.speed)
        return max(users, 0), load.spawn_rate
