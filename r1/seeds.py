"""One way to derive a seed: from the run's seed and the names of what is being seeded.

Every phase seeds many independent draws (a GRPO step's rollout, a rejection chunk,
an evaluation batch, an SFT epoch's shuffle). Each takes ``derive_seed(run_seed,
"what", index, ...)``: a pure function of its parts, so a resumed run redraws exactly
what it would have drawn, and two different draws never share a stream by accident
(``seed * 1000 + step`` collides across seeds; a hash of the spelled-out parts does not).
"""

from __future__ import annotations

import zlib

SEED_BITS = 31
"""Seeds fit in 31 bits: every RNG r1 seeds (torch, Python, numpy) accepts them."""


def derive_seed(seed: int, *parts: object) -> int:
    """A seed in ``[0, 2**31)`` for the draw named by ``parts`` under the run seed ``seed``.

    ``derive_seed(0, "grpo/rollout", 12, 0)`` is the same on every platform and Python
    version (CRC-32 of the parts joined by ``/``), unlike ``hash()``.
    """
    text = "/".join(str(part) for part in (seed, *parts))
    return zlib.crc32(text.encode("utf-8")) & ((1 << SEED_BITS) - 1)
