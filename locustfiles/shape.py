"""The one shape adapter: a scenario's stages as a Locust LoadTestShape."""

from __future__ import annotations

import gevent
from locust import LoadTestShape

from locustfiles.context import context_of
from scenarios.model import users_at

TICK_S = 1.0  # Locust's shape tick


class ScenarioShape(LoadTestShape):
    """Users model: the stage's user count at each moment, stopping at the scenario's end.

    Arrival-rate model: the whole pool (`max_users`, or sized from the scenario) at once, until
    the scenario's end counted from the first second of load; the arrival executor, not the
    user count, sets the rate."""

    def tick(self) -> tuple[int, float] | None:
        assert self.runner is not None
        ctx = context_of(self.runner.environment)
        scenario = ctx.scenario
        load = scenario.load
        if load.model == "arrival-rate":
            if ctx.started and self._over(scenario.run_duration_s - ctx.now_s()):
                return None
            # A spawn rate of the pool's size spawns it in one go.
            return ctx.pool_users, float(ctx.pool_users)
        wall_s = self.get_run_time()
        if self._over(scenario.run_duration_s - wall_s):
            return None
        users = users_at(load.stages, wall_s * scenario.speed)
        return max(users, 0), load.spawn_rate

    def _over(self, remaining_s: float) -> bool:
        """Locust ticks about once a second, and late when a spawn held it up: the last tick
        waits out the rest, so the run ends at its duration, not up to a second after."""
        if remaining_s > TICK_S:
            return False
        gevent.sleep(max(0.0, remaining_s))
        self._end()
        return True

    def _end(self) -> None:
        """Distributed: the workers' last outcomes reach the master before Locust stops them."""
        assert self.runner is not None
        environment = self.runner.environment
        master = getattr(environment, "paystorm_master", None)
        if master is not None:
            master.finish(environment.stop_timeout or 0.0)
