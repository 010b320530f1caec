"""Built-in benchmarks, registered through the ``r1_benchmarks`` hook like any plugin's.

A benchmark follows :class:`r1.protocols.Benchmark` (``name``, ``default_k``,
``load()``, ``score()``). The eval phase also uses these optional members when a
benchmark has them, and skips the matching metric when it does not:

* ``title``: its name in the results table (``"MATH-500"``);
* ``extract(response) -> str | None`` and ``same_answer(a, b) -> bool``: the final
  answer and answer equivalence, for maj@k;
* ``follows_format(response) -> bool``: for the format rate;
* ``skipped_rows``: rows of the source that :meth:`load` skipped for want of a gold
  answer (``dataset``), for the results to report.

Responses reach ``score``, ``extract`` and ``follows_format`` as the eval phase hands
them over: the prompt's think prefill (``<think>`` when the chat template ends the
prompt with it), then the completion; no benchmark adds or strips it.

Factories are lazy, so building the registry imports neither the verifier nor
``datasets``.
"""

from __future__ import annotations

from r1.hookspecs import hookimpl
from r1.plugins import lazy


@hookimpl
def r1_benchmarks():
    return {
        "math500": lazy("r1.benchmarks.math:math500"),
        "aime24": lazy("r1.benchmarks.math:aime24"),
        "amc23": lazy("r1.benchmarks.math:amc23"),
        "gsm8k": lazy("r1.benchmarks.math:gsm8k"),
        "dataset": lazy("r1.benchmarks.dataset:DatasetBenchmark"),
        "heldout": lazy("r1.benchmarks.heldout:HeldoutBenchmark"),
    }
