"""The one catalogue of error codes: every error body the gateway sends is built here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    code: str
    http_status: int
    retryable: bool
    message: str
    message_zh: str
    action: str


_SPECS = (
    ErrorSpec(
        "PAYMENT_PENDING",
        202,
        True,
        "The payment outcome is not known yet.",
        "支付结果确认中。",
        "Replay the request with the same Idempotency-Key or query the payment later; "
        "do not pay again. 请勿重复支付，稍后查询订单状态",
    ),
    ErrorSpec(
        "INVALID_REQUEST",
        400,
        False,
        "The request is malformed.",
        "请求格式有误。",
        "Fix the fields listed in error.fields and send again.",
    ),
    ErrorSpec(
        "UNAUTHORIZED",
        401,
        False,
        "The admin and chaos API need a valid bearer token.",
        "未授权。",
        "Send Authorization: Bearer <token> (the gateway's --admin-token).",
    ),
    ErrorSpec(
        "INSUFFICIENT_CREDIT",
        402,
        False,
        "Available credit does not cover this amount.",
        "可用额度不足。",
        "Use another payment method or pay a smaller amount. 请更换支付方式",
    ),
    ErrorSpec(
        "TXN_LIMIT_EXCEEDED",
        402,
        False,
        "The amount is over this account's single-payment limit.",
        "超出单笔支付限额。",
        "Pay a smaller amount or use another payment method. 请分笔支付或更换支付方式",
    ),
    ErrorSpec(
        "RISK_DECLINED",
        402,
        False,
        "Risk control declined this payment.",
        "交易存在风险，已被拒绝。",
        "Use another payment method or contact support. 请更换支付方式或联系客服",
    ),
    ErrorSpec(
        "ACCOUNT_FROZEN",
        403,
        False,
        "The credit account is frozen.",
        "额度账户已冻结。",
        "Contact support to unfreeze the account; use another payment method. 请联系客服",
    ),
    ErrorSpec(
        "MERCHANT_NOT_SUPPORTED",
        403,
        False,
        "This merchant does not accept credit-pay.",
        "该商户暂不支持额度支付。",
        "Use another payment method at this merchant. 请更换支付方式",
    ),
    ErrorSpec(
        "NOT_FOUND", 404, False, "No such resource.", "资源不存在。", "Check the id in the request."
    ),
    ErrorSpec(
        "METHOD_NOT_ALLOWED",
        405,
        False,
        "This method is not allowed on this path.",
        "不支持的请求方法。",
        "Use a method listed in the Allow header; see /openapi.json.",
    ),
    ErrorSpec(
        "IDEMPOTENCY_IN_PROGRESS",
        409,
        True,
        "A request with this Idempotency-Key is still being processed.",
        "相同请求正在处理中。",
        "Wait a moment, then replay with the same Idempotency-Key. 请稍后重试",
    ),
    ErrorSpec(
        "PAYMENT_NOT_REFUNDABLE",
        409,
        False,
        "The payment is in a state that cannot be refunded.",
        "该订单当前状态不可退款。",
        "Query the payment: only a SUCCEEDED or PARTIALLY_REFUNDED one can be refunded; a PENDING "
        "one can once it settles, a REFUNDED one has nothing left, a FAILED or REVERSED one was "
        "never charged.",
    ),
    ErrorSpec(
        "REFUND_EXCEEDS_PAYMENT",
        409,
        False,
        "The refund is larger than what is left of the payment.",
        "退款金额超过可退金额。",
        "Query the payment and refund at most its amount minus what was already refunded; "
        "error.fields gives what is left.",
    ),
    ErrorSpec(
        "PAYLOAD_TOO_LARGE",
        413,
        False,
        "The request body is larger than the gateway accepts.",
        "请求内容过大。",
        "Send a smaller body; error.fields gives the limit.",
    ),
    ErrorSpec(
        "URI_TOO_LONG",
        414,
        False,
        "The request URL is longer than the gateway accepts.",
        "请求地址过长。",
        "Send a shorter URL; error.fields gives the limit.",
    ),
    ErrorSpec(
        "IDEMPOTENCY_MISMATCH",
        422,
        False,
        "This Idempotency-Key was used with a different request body.",
        "幂等键已用于不同的请求。",
        "Use a new Idempotency-Key for a new payment.",
    ),
    ErrorSpec(
        "RATE_LIMITED",
        429,
        True,
        "Too many requests.",
        "请求过于频繁。",
        "Wait for Retry-After seconds, then retry. 请稍后重试",
    ),
    ErrorSpec(
        "HEADERS_TOO_LARGE",
        431,
        False,
        "The request headers are larger than the gateway accepts.",
        "请求头过大。",
        "Send fewer or shorter headers; error.fields names the one over the limit.",
    ),
    ErrorSpec(
        "INTERNAL_ERROR",
        500,
        True,
        "An unexpected error occurred.",
        "系统异常。",
        "Retry with the same Idempotency-Key. 请稍后重试",
    ),
    ErrorSpec(
        "CHANNEL_UNAVAILABLE",
        502,
        True,
        "No payment channel is available.",
        "支付通道暂不可用。",
        "Retry later with the same Idempotency-Key, or use another payment method. 请稍后重试",
    ),
    ErrorSpec(
        "UPSTREAM_UNAVAILABLE",
        502,
        True,
        "The service behind the fault proxy could not be reached.",
        "上游服务暂不可用。",
        "Retry later with the same Idempotency-Key; the request did not reach the service. "
        "请稍后重试",
    ),
    ErrorSpec(
        "SYSTEM_BUSY",
        503,
        True,
        "The system is busy.",
        "系统繁忙。",
        "Wait for Retry-After seconds, then retry with the same Idempotency-Key. 请稍后重试",
    ),
    ErrorSpec(
        "CHANNEL_TIMEOUT",
        504,
        True,
        "The payment channel did not answer in time; the outcome may be pending.",
        "支付通道超时，结果待确认。",
        "Query the payment or replay with the same Idempotency-Key before paying again. "
        "请勿重复支付，稍后查询订单状态",
    ),
    ErrorSpec(
        "DB_TIMEOUT",
        504,
        True,
        "The ledger did not commit in time; the outcome may be pending.",
        "账务处理超时，结果待确认。",
        "Query the payment or replay with the same Idempotency-Key before paying again. "
        "请勿重复支付，稍后查询订单状态",
    ),
)

CATALOGUE: Mapping[str, ErrorSpec] = {spec.code: spec for spec in _SPECS}

# The account really could not pay: these are not the gateway's fault.
LEGITIMATE_DECLINES = frozenset({"INSUFFICIENT_CREDIT", "TXN_LIMIT_EXCEEDED", "ACCOUNT_FROZEN"})


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "reason": self.reason}


class GatewayError(Exception):
    """A domain failure; the middleware turns it into the catalogue's response."""

    def __init__(
        self,
        code: str,
        *,
        fields: tuple[FieldError, ...] = (),
        payment_id: str | None = None,
        retry_after_s: int | None = None,
        detail: str | None = None,
    ) -> None:
        if code not in CATALOGUE:
            raise KeyError(f"unknown error code {code!r}")
        super().__init__(detail or code)
        self.spec = CATALOGUE[code]
        self.fields = fields
        self.payment_id = payment_id
        self.retry_after_s = retry_after_s
        self.detail = detail

    @property
    def code(self) -> str:
        return self.spec.code


def invalid(field: str, reason: str) -> GatewayError:
    return GatewayError("INVALID_REQUEST", fields=(FieldError(field, reason),))


def not_found(field: str, value: str) -> GatewayError:
    return GatewayError("NOT_FOUND", fields=(FieldError(field, f"no such {field}: {value}"),))


def error_body(err: GatewayError, request_id: str) -> dict[str, Any]:
    spec = err.spec
    message = spec.message if err.detail is None else f"{spec.message} {err.detail}"
    error: dict[str, Any] = {
        "code": spec.code,
        "message": message,
        "message_zh": spec.message_zh,
        "action": spec.action,
        "retryable": spec.retryable,
        "request_id": request_id,
    }
    if err.fields:
        error["fields"] = [f.as_dict() for f in err.fields]
    if err.payment_id is not None:
        error["payment_id"] = err.payment_id
    return {"error": error}


# Client-side codes, beside the gateway's catalogue: nothing is "other".
CLIENT_TIMEOUT = "CLIENT_TIMEOUT"
CONNECTION_ERROR = "CONNECTION_ERROR"
BAD_RESPONSE = "BAD_RESPONSE"
RUN_ENDED = "RUN_ENDED"  # the run stopped before the payment's outcome was known
REVERSED_BY_CLIENT = "REVERSED_BY_CLIENT"  # still uncertain at the deadline: the client reversed it
# Codes after which the client cannot know whether it was charged.
UNCERTAIN = frozenset(
    {
        "PAYMENT_PENDING",
        "CHANNEL_TIMEOUT",
        "DB_TIMEOUT",
        CLIENT_TIMEOUT,
        CONNECTION_ERROR,
        BAD_RESPONSE,
        RUN_ENDED,
    }
)

# What became of a payment, as the report counts it (in this order).
Outcome = Literal["succeeded", "declined", "failed", "unknown"]
OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)


def outcome_of(code: str | None) -> Outcome:
    if code is None:
        return "succeeded"
    if code in LEGITIMATE_DECLINES:
        return "declined"
    if code in UNCERTAIN:
        return "unknown"
    return "failed"
