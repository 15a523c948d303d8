"""Turning an account's sessions into exchange rows."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from bench.heldout.context import Ctx


def lognormal(g: np.random.Generator, median: float, spread: float, n: int) -> np.ndarray:
    return np.maximum(1, g.lognormal(np.log(median), spread, n)).astype(np.int64)


def emit(
    ctx: Ctx,
    account: int,
    sessions: list[np.ndarray],
    *,
    exit: Callable[[int, float], tuple[str, int | None]],
    client: Callable[[int, float], str] | str,
    maker: int | Callable[[int, float], int],
    model: str,
    adopt: float | None = None,
    share: float = 0.8,
    tokens_in: tuple[float, float] = (300, 0.8),
    tokens_out: tuple[float, float] = (400, 0.8),
    tool: float = 0.0,
) -> int:
    """Rows for ``sessions`` (arrays of epoch seconds). The exit address, client and prompt
    maker are chosen once per session (``exit(i, t0)`` and so on, given the session's index
    and start), as a person or a job keeps them for a sitting. Times outside the window or
    before the account was created are dropped. Returns how many rows were added."""
    if not sessions:
        return 0
    t = ctx.traffic
    created = ctx.accounts[account].created_at
    ts_parts, ip_parts, ua_parts, mk_parts = [], [], [], []
    for i, sess in enumerate(sessions):
        sess = ctx.clip(sess)
        sess = sess[sess > created]
        if not len(sess):
            continue
        ts_parts.append(sess)
        n = len(sess)
        ip_parts.append(np.full(n, t.intern("ip", exit(i, sess[0])), dtype=np.int32))
        ua = client if isinstance(client, str) else client(i, sess[0])
        ua_parts.append(np.full(n, t.intern("ua", ua), dtype=np.int32))
        mk_parts.append(
            np.full(n, maker if isinstance(maker, int) else maker(i, sess[0]), dtype=np.int32)
        )
    if not ts_parts:
        return 0
    ts = np.concatenate(ts_parts)
    n = len(ts)
    g = ctx.g
    t.add(
        account,
        ts,
        ip=np.concatenate(ip_parts),
        ua=np.concatenate(ua_parts),
        model=ctx.models(ts, model, adopt, share),
        maker=np.concatenate(mk_parts),
        seed=ctx.seeds(n),
        tokens_in=lognormal(g, *tokens_in, n),
        tokens_out=lognormal(g, *tokens_out, n),
        tool=g.random(n) < tool,
    )
    return n


class HomeLine:
    """A household's broadband: the address changes every week or two (or, on IPv6, the
    device part changes daily), and now and then the person is on their phone's network."""

    def __init__(self, ctx: Ctx, country: str, mobile_share: float = 0.15):
        from bench.heldout.world import HOME_ISPS, MOBILE, pool_from

        rng = ctx.rng
        self.ctx = ctx
        self.isp = rng.choice(HOME_ISPS[country])
        self.home = rng.randrange(1 << 32)
        self.v6 = self.isp.v6_prefix is not None and rng.random() < 0.5
        self.addresses = [self.isp.address(rng) for _ in range(ctx.days // 8 + 2)]
        self.mobile_share = mobile_share
        # Carrier-grade NAT: a small pool of public addresses shared by every phone.
        self.mobile = pool_from([rng.choice(MOBILE)], 24, rng, per24=24)

    def __call__(self, i: int, t0: float) -> tuple[str, int]:
        rng = self.ctx.rng
        if rng.random() < self.mobile_share:
            return self.mobile.pick(rng)
        if self.v6:
            return self.isp.v6(rng, self.home), self.isp.asn
        slot = min(len(self.addresses) - 1, max(0, int((t0 - self.ctx.start) // (8 * 86400))))
        return self.addresses[slot], self.isp.asn
