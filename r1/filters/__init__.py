"""Built-in rejection-sampling filters, registered through the ``r1_filters`` hook like any plugin's.

A filter follows :class:`r1.protocols.Filter`: ``filter(samples) -> list[bool]``
over a batch of samples with ``prompt``, ``response`` and ``answer`` (and, from
the rejection phase, ``id``, ``num_tokens``, ``truncated``); True keeps a sample.
:mod:`r1.filters.cascade` applies a configured list of them in order.

Factories are lazy, so building the registry imports neither the verifier nor
the benchmark files.
"""

from __future__ import annotations

from r1.hookspecs import hookimpl
from r1.plugins import lazy


@hookimpl
def r1_filters():
    return {
        "correct": lazy("r1.filters.correct:CorrectFilter"),
        "format": lazy("r1.filters.format:FormatFilter"),
        "language": lazy("r1.filters.language:LanguageFilter"),
        "consistent": lazy("r1.filters.consistent:ConsistentFilter"),
        "degenerate": lazy("r1.filters.degenerate:DegenerateFilter"),
        "length": lazy("r1.filters.length:LengthFilter"),
        "dedup": lazy("r1.filters.dedup:DedupFilter"),
        "decontaminate": lazy("r1.filters.decontaminate:DecontaminateFilter"),
    }
