"""Property tests (hypothesis): random programs of payments, replays, key reuse, refunds,
reversals and concurrent bursts (one key, or one account) run against a gateway, checked step
by step against a model of what each account and payment must be, and then against the
ledger audit. And 1,000 payments at once on one account never overdraw it."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract.profile import BENCH
from tests.mock_gateway.conftest import StartApi
from tests.mock_gateway.support import PAY, Api, Reply, payment_body

ACCOUNTS = 3
KEYS = 6  # a small key space, so that programs reuse keys: replays and mismatches


@dataclass(frozen=True)
class Pay:
    account: int
    amount: int
    key: int


@dataclass(frozen=True)
class Refund:
    payment: int
    percent: int
    """Of what the payment took; over 100 asks for more than can be refunded."""
    key: int


@dataclass(frozen=True)
class Replay:
    """Send an earlier payment or refund again with its key and body."""

    index: int


@dataclass(frozen=True)
class Reverse:
    payment: int


@dataclass(frozen=True)
class SameKeyBurst:
    """The same payment sent several times at once, as an impatient client does."""

    account: int
    amount: int
    copies: int


@dataclass(frozen=True)
class AccountBurst:
    """Different payments from one account at once, racing for its credit."""

    account: int
    amounts: tuple[int, ...]


Step = Pay | Refund | Replay | Reverse | SameKeyBurst | AccountBurst
_amounts = st.integers(1, 40_000)
_index = st.integers(0, 50)
STEPS: st.SearchStrategy[Step] = st.one_of(
    st.builds(Pay, st.integers(0, ACCOUNTS - 1), _amounts, st.integers(0, KEYS - 1)),
    # Refund keys reused with another payment or amount are mismatches; keep them rarer.
    st.builds(Refund, _index, st.integers(1, 100) | st.integers(1, 130), st.integers(0, 4 * KEYS)),
    st.builds(Replay, _index),
    st.builds(Reverse, _index),
    st.builds(SameKeyBurst, st.integers(0, ACCOUNTS - 1), _amounts, st.integers(2, 8)),
    st.builds(
        AccountBurst,
        st.integers(0, ACCOUNTS - 1),
        st.lists(_amounts, min_size=2, max_size=12).map(tuple),
    ),
)


@dataclass
class Account:
    user_id: str
    available: int
    txn_limit: int


@dataclass
class Payment:
    payment_id: str
    account: Account
    amount: int
    status: str
    refunded: int = 0


@dataclass
class Model:
    """What the gateway must answer, step by step: credit, payments and stored replies."""

    prefix: str
    shop: str
    accounts: list[Account]
    payments: list[Payment] = field(default_factory=list)
    pay_keys: dict[str, tuple[dict[str, Any], Reply]] = field(default_factory=dict)
    refund_keys: dict[str, tuple[tuple[str, int], Reply]] = field(default_factory=dict)

    def decision(self, account: Account, amount: int) -> str | None:
        if amount > account.txn_limit:
            return "TXN_LIMIT_EXCEEDED"
        if amount > account.available:
            return "INSUFFICIENT_CREDIT"
        return None

    def record(self, account: Account, amount: int, reply: Reply) -> None:
        """A first answer to a payment: a capture (200) or a recorded decline (402)."""
        if reply.status == 200:
            payment_id, status = reply.json()["payment_id"], "SUCCEEDED"
            account.available -= amount
        else:
            payment_id, status = reply.error["payment_id"], "FAILED"
        self.payments.append(Payment(payment_id, account, amount, status))


def _same_reply(replay: Reply, first: Reply) -> None:
    assert replay.replayed, replay.headers
    assert (replay.status, replay.body) == (first.status, first.body)


def _expect_decision(model: Model, account: Account, amount: int, reply: Reply) -> None:
    decline = model.decision(account, amount)
    if decline is None:
        assert reply.status == 200, ("a false decline", account, amount, reply.body)
        assert reply.json()["status"] == "SUCCEEDED"
    else:
        assert (reply.status, reply.error["code"]) == (402, decline), reply.body


async def _pay(api: Api, model: Model, step: Pay) -> None:
    account = model.accounts[step.account]
    key = f"{model.prefix}-p{step.key}"
    body = payment_body(account.user_id, model.shop, step.amount)
    reply = await api.pay(key, body)
    if key in model.pay_keys:
        first_body, first = model.pay_keys[key]
        if first_body == body:
            _same_reply(reply, first)
        else:
            assert (reply.status, reply.error["code"]) == (422, "IDEMPOTENCY_MISMATCH")
        return
    _expect_decision(model, account, step.amount, reply)
    model.record(account, step.amount, reply)
    model.pay_keys[key] = (body, reply)


def _pick(model: Model, index: int) -> Payment | None:
    """Mostly a payment that still holds money (the interesting case), sometimes any."""
    live = [p for p in model.payments if p.status in ("SUCCEEDED", "PARTIALLY_REFUNDED")]
    pool = live if live and index % 4 else model.payments
    return pool[index % len(pool)] if pool else None


async def _refund(api: Api, model: Model, step: Refund) -> None:
    payment = _pick(model, step.payment)
    if payment is None:
        return
    key = f"{model.prefix}-r{step.key}"
    amount = max(1, payment.amount * step.percent // 100)
    reply = await api.refund(payment.payment_id, key, amount)
    if key in model.refund_keys:
        sent, first = model.refund_keys[key]
        if sent == (payment.payment_id, amount):
            _same_reply(reply, first)
        else:
            assert (reply.status, reply.error["code"]) == (422, "IDEMPOTENCY_MISMATCH")
        return
    if payment.status not in ("SUCCEEDED", "PARTIALLY_REFUNDED"):
        assert reply.status == 409 and reply.fields == ["payment_id"], reply.body
        assert reply.error["code"] == "PAYMENT_NOT_REFUNDABLE"
        return
    if amount > payment.amount - payment.refunded:
        assert reply.status == 409 and reply.fields == ["amount"], reply.body
        assert reply.error["code"] == "REFUND_EXCEEDS_PAYMENT"
        return
    assert reply.status == 200, reply.body
    payment.refunded += amount
    payment.status = "REFUNDED" if payment.refunded == payment.amount else "PARTIALLY_REFUNDED"
    payment.account.available += amount
    assert reply.json()["payment"]["status"] == payment.status
    model.refund_keys[key] = ((payment.payment_id, amount), reply)


async def _replay(api: Api, model: Model, step: Replay) -> None:
    """Whatever happened to the payment since, the key answers what it answered first."""
    pays, refunds = list(model.pay_keys.items()), list(model.refund_keys.items())
    if not pays and not refunds:
        return
    n = step.index % (len(pays) + len(refunds))
    if n < len(pays):
        key, (body, first) = pays[n]
        _same_reply(await api.pay(key, body), first)
    else:
        key, ((payment_id, amount), first) = refunds[n - len(pays)]
        _same_reply(await api.refund(payment_id, key, amount), first)


async def _reverse(api: Api, model: Model, step: Reverse) -> None:
    payment = _pick(model, step.payment)
    if payment is None:
        return
    reply = await api.reverse(payment.payment_id)
    assert reply.status == 200, reply.body
    if payment.status in ("SUCCEEDED", "PARTIALLY_REFUNDED"):
        payment.account.available += payment.amount - payment.refunded
        payment.status = "REVERSED"
    assert reply.json()["status"] == payment.status


async def _same_key_burst(api: Api, model: Model, step: SameKeyBurst) -> None:
    account = model.accounts[step.account]
    key = f"{model.prefix}-s{len(model.pay_keys)}"
    body = payment_body(account.user_id, model.shop, step.amount)
    replies = await asyncio.gather(*(api.pay(key, body) for _ in range(step.copies)))
    answered = [r for r in replies if r.status != 409]
    assert {r.error["code"] for r in replies if r.status == 409} <= {"IDEMPOTENCY_IN_PROGRESS"}
    assert answered, "every copy was told another was in flight"
    first = next((r for r in answered if not r.replayed), answered[0])
    assert all(r.body == first.body and r.status == first.status for r in answered)
    assert [r.replayed for r in answered].count(False) <= 1
    _expect_decision(model, account, step.amount, first)
    model.record(account, step.amount, first)
    model.pay_keys[key] = (body, first)


async def _account_burst(api: Api, model: Model, step: AccountBurst) -> None:
    account = model.accounts[step.account]
    start = len(model.pay_keys)
    keys = [f"{model.prefix}-a{start}-{n}" for n in range(len(step.amounts))]
    before = account.available
    replies = await asyncio.gather(
        *(
            api.pay(key, payment_body(account.user_id, model.shop, amount))
            for key, amount in zip(keys, step.amounts, strict=True)
        )
    )
    paid = sum(a for a, r in zip(step.amounts, replies, strict=True) if r.status == 200)
    assert paid <= before, "overdrawn"
    left = before - paid
    for amount, reply in zip(step.amounts, replies, strict=True):
        if reply.status == 200:
            continue
        code = reply.error["code"]
        # Credit only fell during the burst: a payment refused for credit did not fit the end.
        assert code == model.decision(account, amount) or (
            code == "INSUFFICIENT_CREDIT" and left < amount <= account.txn_limit
        ), (code, amount, left)
    for key, amount, reply in zip(keys, step.amounts, replies, strict=True):
        model.record(account, amount, reply)
        model.pay_keys[key] = (payment_body(account.user_id, model.shop, amount), reply)
    assert account.available == left


async def _run(api: Api, model: Model, step: Step) -> None:
    match step:
        case Pay():
            await _pay(api, model, step)
        case Refund():
            await _refund(api, model, step)
        case Replay():
            await _replay(api, model, step)
        case Reverse():
            await _reverse(api, model, step)
        case SameKeyBurst():
            await _same_key_burst(api, model, step)
        case AccountBurst():
            await _account_burst(api, model, step)


async def _accounts_agree(api: Api, model: Model) -> None:
    for account in model.accounts:
        assert await api.available(account.user_id) == account.available, account


_programs = itertools.count()


async def _model(api: Api, users: list[str], shop: str) -> Model:
    accounts = [await api.account(u) for u in users]
    return Model(
        prefix=f"prog{next(_programs)}",
        shop=shop,
        accounts=[Account(a["user_id"], a["available_credit"], a["txn_limit"]) for a in accounts],
    )


async def _program_api(start_api: StartApi) -> tuple[Api, list[str], str]:
    # No service time in the bench profile: every answer is the ledger's decision alone.
    api = await start_api(profile=BENCH)
    accounts = await api.accounts()
    users = [
        a["user_id"]
        for a in accounts
        if a["status"] == "ACTIVE" and a["available_credit"] >= 60_000 and a["txn_limit"] >= 5_000
    ][:ACCOUNTS]
    assert len(users) == ACCOUNTS
    return api, users, await api.shop()


async def test_random_programs_keep_every_invariant(start_api: StartApi) -> None:
    api, users, shop = await _program_api(start_api)

    # One gateway for every program: what one program leaves is where the next one starts.
    @settings(
        max_examples=60,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(program=st.lists(STEPS, min_size=1, max_size=14))
    def check(program: list[Step]) -> None:
        async def run() -> None:
            model = await _model(api, users, shop)
            for step in program:
                await _run(api, model, step)
                await _accounts_agree(api, model)
            for payment in model.payments:
                got = await api.payment(payment.payment_id)
                assert (got["status"], got["refunded"]) == (payment.status, payment.refunded)
            audit = await api.audit()
            assert audit["ok"] is True, audit
            assert audit["pending"] == 0

        future = asyncio.run_coroutine_threadsafe(run(), loop)
        future.result(timeout=60)

    loop = asyncio.get_running_loop()
    # hypothesis drives a plain function; the gateway and its client stay on this loop.
    await asyncio.to_thread(check)


async def test_a_thousand_payments_at_once_never_overdraw_one_account(
    start_api: StartApi,
) -> None:
    probe = await start_api(profile=BENCH)
    account = await probe.find_account(
        lambda a: a["status"] == "ACTIVE" and a["available_credit"] >= 10_000
    )
    user, available = account["user_id"], account["available_credit"]
    amount = max(1, min(account["txn_limit"], available // 400))  # about 400 of 1,000 fit
    shop = await probe.shop()
    # No connection limit: all 1,000 requests are open against the gateway together.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        api = await Api.connect(session, probe.base_url)
        replies = await asyncio.gather(
            *(api.pay(f"k-{n}", payment_body(user, shop, amount)) for n in range(1_000))
        )
        same_key = await asyncio.gather(
            *(api.pay("k-one", payment_body(user, shop, 1)) for _ in range(200))
        )

    ok = [r for r in replies if r.status == 200]
    assert {r.error["code"] for r in replies if r.status != 200} <= {"INSUFFICIENT_CREDIT"}
    assert len(ok) == min(1_000, available // amount), "a decline while credit still covered it"
    assert len({r.json()["payment_id"] for r in ok}) == len(ok)
    one = [r for r in same_key if r.status != 409]
    assert len({r.body for r in one}) == 1 and [r.replayed for r in one].count(False) == 1
    left = await probe.available(user)
    assert left == available - len(ok) * amount - (1 if one[0].status == 200 else 0) >= 0
    audit = await probe.audit()
    assert audit["ok"] is True, audit
    first = one[0]
    payment_id = first.json()["payment_id"] if first.status == 200 else first.error["payment_id"]
    assert len((await probe.get(f"{PAY}/{payment_id}")).json()) > 1
