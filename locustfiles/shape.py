"""The one shape adapter: a scenario's stages as a Locust LoadTestShape."""

from __future__ import annotations

from locust import LoadTestShape

from locustfiles.context import context_of
from scenarios.model import users_at


class ScenarioShape(LoadTestShape):
    """Users model: the stage's user count at each moment, stopping at the scenario's end."""

    def tick(self) -> tuple[int, float] | None:
        assert self.runner is not None
        scenario = context_of(self.runner.environment).scenario
        wall_s = self.get_run_time()
        if wall_s >= scenario.run_duration_s:
            return None
        users = users_at(scenario.load.stages, wall_s * scenario.speed)
        return max(users, 0), scenario.load.spawn_rate
