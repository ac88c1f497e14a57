-- wrk script: POST /v1/payments with a unique Idempotency-Key per request and a spread of
-- users and merchants, as the gateway's contract asks. Accounts u000001..u%ACCOUNTS%.
-- PAYSTORM_DELAY_MS: each connection waits that long after an answer before its next request,
-- so 64 connections offer about 64000 / (delay + latency) payments/s (a rate below the peak).
local counter = 0
local thread_id = 0
local accounts = tonumber(os.getenv("PAYSTORM_ACCOUNTS") or "10000")
local run = os.getenv("PAYSTORM_RUN") or "r"
local delay_ms = tonumber(os.getenv("PAYSTORM_DELAY_MS") or "0")

if delay_ms > 0 then
  function delay()
    return delay_ms
  end
end

function setup(thread)
  thread:set("thread_id", thread_id)
  thread_id = thread_id + 1
end

function request()
  counter = counter + 1
  local user = string.format("u%06d", (counter * 7919 + thread_id * 104729) % accounts + 1)
  local merchant = string.format("m%05d", counter % 20 + 1)
  local body = string.format(
    '{"user_id":"%s","merchant_id":"%s","amount":%d,"currency":"CNY"}',
    user, merchant, 100 + counter % 900)
  local headers = {}
  headers["Content-Type"] = "application/json"
  headers["Idempotency-Key"] = string.format("%s-%d-%d", run, thread_id, counter)
  return wrk.format("POST", "/v1/payments", headers, body)
end
