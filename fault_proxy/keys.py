"""Every piece of the proxy's state, under a typed key."""

from __future__ import annotations

from aiohttp import web

from fault_proxy.config import ProxyConfig
from fault_proxy.lane import Lane
from fault_proxy.upstream import Upstream
from faults import Chaos
from faults.admission import Admission
from faults.metrics import Metrics

config_key = web.AppKey("config", ProxyConfig)
metrics_key = web.AppKey("metrics", Metrics)
chaos_key = web.AppKey("chaos", Chaos)
admission_key = web.AppKey("admission", Admission)
upstream_key = web.AppKey("upstream", Upstream)
lane_key = web.AppKey("lane", Lane)

REQUEST_ID = web.RequestKey("request_id", str)
