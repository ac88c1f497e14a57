"""Every piece of application state, under a typed key."""

from __future__ import annotations

import sqlite3

from aiohttp import web

from faults import Chaos, RequestFacts
from faults.admission import Admission
from mock_gateway.channels import Router
from mock_gateway.config import GatewayConfig
from mock_gateway.metrics import Metrics
from mock_gateway.payments import PaymentService
from mock_gateway.writer import Writer

config_key = web.AppKey("config", GatewayConfig)
metrics_key = web.AppKey("metrics", Metrics)
db_path_key = web.AppKey("db_path", str)
reader_key = web.AppKey("reader", sqlite3.Connection)
writer_key = web.AppKey("writer", Writer)
payments_key = web.AppKey("payments", PaymentService)
chaos_key = web.AppKey("chaos", Chaos)
admission_key = web.AppKey("admission", Admission)
router_key = web.AppKey("router", Router)

# Per-request state: typed keys too (aiohttp 3.14 warns on plain str keys).
REQUEST_ID = web.RequestKey("request_id", str)
FACTS = web.RequestKey("facts", RequestFacts)
