"""A Bloom filter of idempotency keys in front of the ledger's idempotency table.

Almost every payment brings a key never seen before, and asking the table so costs a SELECT
on the reader connection (about 8 µs, and a release of the GIL that hands it to the writer
thread when that one is waiting). A key the filter was never given is certainly not in the
table: only "maybe" answers go to the database. The filter is this process's own (Python's
`hash` is salted per process), so at start it is filled from the keys already in the table
when they are few enough to read quickly; past that, every lookup goes to the database."""

from __future__ import annotations

from collections.abc import Iterable

# 2**26 bits (8 MiB) and 3 probes: a false "maybe" for about 1 key in 10,000 after a million
# keys, 1 in 20 after ten million. A false "maybe" only costs the SELECT it would have made.
BITS_LOG2 = 26
PRELOAD_MAX = 1_000_000
"""Keys read into the filter at start at most (about a second); a ledger with more is asked
for every key, as it would be without a filter."""


class KeyFilter:
    __slots__ = ("_bits", "_mask", "complete")

    def __init__(self, bits_log2: int = BITS_LOG2) -> None:
        self._bits = bytearray(1 << (bits_log2 - 3))
        self._mask = (1 << bits_log2) - 1
        self.complete = True
        """False when the table held keys the filter was not given: then it cannot say no."""

    def check_and_add(self, route: str, key: str) -> bool:
        """Whether the key may have been added before (False: certainly not); adds it."""
        h = hash((route, key))
        step = (h >> 32) | 1  # odd: the three probes differ (double hashing)
        bits, mask = self._bits, self._mask
        seen = True
        i = h & mask
        if not bits[i >> 3] & (1 << (i & 7)):
            seen = False
            bits[i >> 3] |= 1 << (i & 7)
        i = (h + step) & mask
        if not bits[i >> 3] & (1 << (i & 7)):
            seen = False
            bits[i >> 3] |= 1 << (i & 7)
        i = (h + 2 * step) & mask
        if not bits[i >> 3] & (1 << (i & 7)):
            seen = False
            bits[i >> 3] |= 1 << (i & 7)
        return seen

    def preload(self, keys: Iterable[tuple[str, str]] | None) -> None:
        """Add the keys already in the table; None means there were too many to read."""
        if keys is None:
            self.complete = False
            return
        for route, key in keys:
            self.check_and_add(route, key)
