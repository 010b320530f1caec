"""Which language a text is written in: what the ``language`` reward and filter measure.

DeepSeek-R1-Zero's reasoning mixed languages; R1 measures language consistency as
the proportion of target-language words in the chain of thought. Words are first
told apart by script (Latin, Han, kana, Hangul, Cyrillic, ...): when the target's
script decides (a ``zh`` target, Latin words in a ``ja`` text, a text with no Latin
words), that is all. Latin words, shared by ``en``, ``fr``, ``de``, ..., are then
told apart by a language identifier, sentence by sentence, so English reasoning
that drifts into French half-way scores about one half, not 0 or 1.

The identifier is py3langid's naive-Bayes model over byte n-grams (shipped in its
wheel, nothing downloaded), restricted to a few candidate languages (the target is
always one). It is run here batched and vectorised over every sentence of a batch
(:class:`Identifier`), with the same features and scores as py3langid's own
``classify``, which walks the bytes in Python three to four times slower. Chosen
over lingua-language-detector: as accurate on the test set (66 of 66 Latin
sentences, lingua's low-accuracy mode 62), 20 times faster than lingua and 8 times
faster than its low-accuracy mode, and a 4.5 MB model instead of a 96 MB library;
the numbers (``tools/bench_language.py``) are in ``docs/FINDINGS.md``.

What counts as a word: a run of two or more letters of an alphabetic script,
or a single Han/kana character (those scripts do not separate words by spaces).
Neutral, not counted: numbers, maths (``$…$``, ``\\(…\\)``, ``\\[…\\]``,
``\\begin{…}…\\end{…}``, LaTeX commands), code (fenced blocks, inline code,
identifiers such as ``foo_bar`` or ``np.sum(``), links, single letters (variables
such as ``x``), punctuation and tags.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np


SCRIPTS: dict[str, str] = {
    "latin": r"[A-Za-z\u00C0-\u024F\u1E00-\u1EFF]{2,}",
    "han": r"[\u3400-\u4DBF\u4E00-\u9FFF\uF900-\uFAFF]",
    "kana": r"[\u3040-\u30FF]",
    "hangul": r"[\uAC00-\uD7AF\u1100-\u11FF]+",
    "cyrillic": r"[\u0400-\u04FF]{2,}",
    "greek": r"[\u0370-\u03FF]{2,}",
    "arabic": r"[\u0600-\u06FF]{2,}",
    "hebrew": r"[\u0590-\u05FF]{2,}",
    "devanagari": r"[\u0900-\u097F]+",
    "thai": r"[\u0E00-\u0E7F]+",
}
"""One regex per script; a match is one word."""

LATIN_LANGUAGES: tuple[str, ...] = tuple("en fr de es it pt nl sv da no fi pl cs sk ro hu tr id ms vi ca hr sl et lv lt sq".split())
"""Latin-script languages: the ones a language identifier tells apart."""

DEFAULT_CANDIDATES: tuple[str, ...] = ("en", "fr", "de", "es", "it", "pt", "nl")
"""Languages Latin words are told apart among when a config names none (the YAML files list them)."""

MIN_WORDS = 4
"""Fewest Latin words the identifier labels at once when a config names none (the YAML files set it)."""

LANGUAGE_SCRIPTS: dict[str, frozenset[str]] = {
    **{code: frozenset({"latin"}) for code in LATIN_LANGUAGES},
    "zh": frozenset({"han"}),
    "ja": frozenset({"han", "kana"}),
    "ko": frozenset({"hangul", "han"}),
    **{code: frozenset({"cyrillic"}) for code in ("ru", "uk", "bg", "sr", "be", "kk")},
    "el": frozenset({"greek"}),
    **{code: frozenset({"arabic"}) for code in ("ar", "fa", "ur")},
    "he": frozenset({"hebrew"}),
    **{code: frozenset({"devanagari"}) for code in ("hi", "mr", "ne")},
    "th": frozenset({"thai"}),
    **{script: frozenset({script}) for script in SCRIPTS},
    "cjk": frozenset({"han", "kana", "hangul"}),
}
"""Accepted scripts per language code (a script name such as ``latin`` also works)."""

_SCRIPT_WORDS = {name: re.compile(pattern) for name, pattern in SCRIPTS.items()}
# "$x+1$" is maths; "costs $5 or $6" is money, so inline maths may not start with a digit
_MATH = re.compile(
    r"\$\$.*?\$\$|\$(?![\d\s])[^$\n]*?\$|\\\(.*?\\\)|\\\[.*?\\\]|\\begin\{([a-zA-Z*]+)\}.*?\\end\{\1\}|\\[a-zA-Z]+|<[^>\n]{1,20}>",
    re.DOTALL,
)
# fenced blocks (an unclosed fence runs to the end) and inline code; replaced by a line break, a segment boundary
_CODE_BLOCK = re.compile(r"```.*?(?:```|\Z)|~~~.*?(?:~~~|\Z)|`[^`\n]+`", re.DOTALL)
# identifiers and calls (foo_bar, np.sum, len(, x.shape) and links; ASCII only, so Han text before "(" stays
_CODE_TOKEN = re.compile(r"\b[A-Za-z0-9]++(?:://\S+|(?:[._]\w+)+(?:\(\))?|_|\()|\b_\w*", re.ASCII)
# a sentence ends at . ! ? ; : before a space, at a CJK full stop, or at a line break
_SENTENCE_END = re.compile(r"[.!?;:](?=\s)|[。！？；：\n]")
_LATIN_RUN = re.compile(r"[A-Za-z\u00C0-\u024F\u1E00-\u1EFF]+(?:['’][A-Za-z\u00C0-\u024F\u1E00-\u1EFF]+)*")
"""The Latin text a sentence gives the identifier: its letter runs, apostrophes and single letters kept (``l'eau``, ``y``)."""


def _neutralised(text: str) -> str:
    """``text`` with code, links, maths and tags blanked out (code blocks become line breaks)."""
    return _CODE_TOKEN.sub(" ", _MATH.sub(" ", _CODE_BLOCK.sub("\n", text)))


def _counts(text: str) -> dict[str, int]:
    """Words of each script in ``text`` as it is; scripts are disjoint, so one scan per script finds them all."""
    if text.isascii():  # the common case: English, code, numbers
        latin = len(_SCRIPT_WORDS["latin"].findall(text))
        return {"latin": latin} if latin else {}
    return {name: n for name, pattern in _SCRIPT_WORDS.items() if (n := len(pattern.findall(text)))}


def script_counts(text: str) -> dict[str, int]:
    """Number of words of each script in ``text``, code, maths and tags removed."""
    return _counts(_neutralised(text))


def check_options(language: str, candidates: Iterable[str], min_words: int) -> tuple[str, ...]:
    """The identifier's candidate set for ``language``: ``candidates`` plus the target, checked.

    Raises ``ValueError`` (the plugin registry names the reward or filter in its one-line error) for an unknown target, a candidate that is not a
    Latin-script language (only Latin words are identified; other scripts decide
    alone) or a ``min_words`` below 1.
    """
    if int(min_words) < 1:
        raise ValueError(f"language min_words must be at least 1, got {min_words}")
    if language not in LANGUAGE_SCRIPTS:
        raise ValueError(f"unknown language '{language}'; known: {', '.join(sorted(LANGUAGE_SCRIPTS))}")
    codes = tuple(dict.fromkeys([str(c) for c in candidates]))
    wrong = [c for c in codes if c not in LATIN_LANGUAGES]
    if wrong:
        raise ValueError(
            f"language candidates {wrong} are not Latin-script language codes; choose from: {', '.join(LATIN_LANGUAGES)}"
        )
    return tuple(sorted({*codes, language} if language in LATIN_LANGUAGES else codes))


class WordCounts(NamedTuple):
    """One text's words: all of them, those whose script alone puts them in the target, and its Latin runs."""

    total: int
    target: int
    runs: list[tuple[int, str]]
    """``(Latin words, Latin text)`` per run of sentences the identifier labels; empty when script decides."""


def count_words(text: str, language: str, min_words: int) -> WordCounts:
    """Count ``text``'s words for target ``language`` (a key of :data:`LANGUAGE_SCRIPTS`).

    Words of a script the target does not use count against it. Where the target is a
    Latin-script language (not the bare script name ``latin``), Latin words are left
    to the identifier: the text's sentences are grouped, in order, into runs of at
    least ``min_words`` Latin words (a shorter tail joins the run before it: "So 12."
    alone says little about its language). A text with fewer Latin words than that in
    all is too short to tell: its Latin words count for the target, as the script says.
    """
    scripts = LANGUAGE_SCRIPTS[language]
    identify = language in LATIN_LANGUAGES
    total = target = pending = 0
    runs: list[tuple[int, str]] = []
    pieces: list[str] = []
    for sentence in _SENTENCE_END.split(_neutralised(text)):
        counts = _counts(sentence)
        total += sum(counts.values())
        latin = counts.pop("latin", 0) if identify else 0
        target += sum(n for script, n in counts.items() if script in scripts)
        if latin:
            pending += latin
            pieces.append(" ".join(_LATIN_RUN.findall(sentence)))
            if pending >= min_words:
                runs.append((pending, " ".join(pieces)))
                pending, pieces = 0, []
    if pending and runs:
        words, latin_text = runs.pop()
        runs.append((words + pending, " ".join([latin_text, *pieces])))
    elif pending:  # fewer than min_words Latin words in all ("ok", "compute"): too few to tell, the script decides
        target += pending
    return WordCounts(total, target, runs)


def language_shares(
    texts: Sequence[str], language: str, *, candidates: Iterable[str] = DEFAULT_CANDIDATES, min_words: int = MIN_WORDS
) -> list[float]:
    """Share of each text's words in ``language``; 1.0 for a text with no words.

    No words at all (``7 + 5 = 12``) means nothing is mixed, so the response is
    consistent by definition; scoring it 0 would punish terse arithmetic.

    Words are counted by :func:`count_words`; one identifier call over the whole
    batch then labels every Latin run with one of ``candidates`` (the target always
    among them), and a run's Latin words count for the target when its label is the
    target. A text whose script decides costs no identifier work.
    """
    candidates = check_options(language, candidates, min_words)
    counts = [count_words(text, language, min_words) for text in texts]
    runs = [(index, words, latin) for index, c in enumerate(counts) for words, latin in c.runs]
    targets = [c.target for c in counts]
    if runs:
        labels = identifier(candidates).identify([latin for _, _, latin in runs])
        for (index, words, _), label in zip(runs, labels):
            if label == language:
                targets[index] += words
    return [1.0 if c.total == 0 else target / c.total for c, target in zip(counts, targets)]


def language_share(text: str, language: str, **options: Any) -> float:
    """Share of the words of ``text`` in ``language``; 1.0 when there are no words (see :func:`language_shares`)."""
    return language_shares([text], language, **options)[0]


class Identifier:
    """py3langid's model restricted to ``candidates``, labelling many texts in one vectorised pass.

    The model is a deterministic automaton over UTF-8 bytes whose states emit byte
    n-gram features, and a naive-Bayes table of per-language log-probabilities per
    feature. ``classify`` walks one text's bytes in a Python loop; here all texts are
    walked together, one numpy step per byte position (texts sorted by length and
    taken in chunks, so little padding is walked), and the feature counts of every
    text are scored at once. Scores, hence labels, are py3langid's own (its
    ``classify`` and this agree on the test set, ``tests/unit/test_language.py``).
    """

    CHUNK = 1024
    """Texts walked together: large enough to amortise numpy's per-call cost, small enough to stay in cache."""

    def __init__(self, candidates: Sequence[str]) -> None:
        model = _py3langid_model()
        columns = [i for i, label in enumerate(model.nb_classes) if label in set(candidates)]
        missing = sorted(set(candidates) - {model.nb_classes[i] for i in columns})
        if missing:
            raise ValueError(f"language candidates {missing} are unknown to the identifier (py3langid); remove them")
        self.labels = [model.nb_classes[i] for i in columns]
        width = model.tk_nextmove.itemsize
        self._next = np.frombuffer(model.tk_nextmove, dtype=np.uint32 if width == 4 else np.uint16).astype(np.int32)
        self._row = np.asarray(model.tk_row, dtype=np.int32) << 8
        self._out = np.asarray(model.tk_output, dtype=np.int32)
        self._table = np.asarray(model.nb_ptc[:, columns], dtype=np.float32)
        self._prior = np.asarray(model.nb_pc[columns], dtype=np.float64)

    def scores(self, texts: Sequence[str]) -> np.ndarray:
        """Naive-Bayes log-scores, ``len(texts)`` by ``len(self.labels)``, as py3langid computes them."""
        encoded = [_encode(t) for t in texts]
        out = np.empty((len(encoded), len(self.labels)))
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
        for start in range(0, len(order), self.CHUNK):
            chunk = order[start : start + self.CHUNK]
            out[chunk] = self._score_chunk([encoded[i] for i in chunk])
        return out

    def identify(self, texts: Sequence[str]) -> list[str]:
        """The most likely candidate language of each text."""
        if not texts:
            return []
        return [self.labels[i] for i in self.scores(texts).argmax(axis=1)]

    def _score_chunk(self, encoded: list[bytes]) -> np.ndarray:
        lengths = np.array([len(b) for b in encoded])
        width = max(int(lengths.max()), 1)
        data = np.frombuffer(b"".join(b.ljust(width, b"\0") for b in encoded), dtype=np.uint8)
        positions = data.reshape(len(encoded), width).T.astype(np.int32)
        features = np.empty_like(positions)
        state = np.zeros(len(encoded), dtype=np.int32)
        for step in range(width):
            state = self._next[self._row[state] + positions[step]]
            features[step] = self._out[state]
        valid = (features >= 0) & (np.arange(width)[:, None] < lengths[None, :])
        step_of, text_of = np.nonzero(valid)
        n_features = len(self._out)
        keys, counts = np.unique(text_of.astype(np.int64) * n_features + features[step_of, text_of], return_counts=True)
        weights = np.log1p(counts.astype(np.float32))[:, None] * self._table[keys % n_features]
        rows = keys // n_features
        scores = np.stack(
            [np.bincount(rows, weights=weights[:, j], minlength=len(encoded)) for j in range(len(self.labels))], axis=1
        )
        scores += self._prior
        scores[np.bincount(rows, minlength=len(encoded)) == 0] = np.arange(len(self.labels)) == 0  # py3langid: first label
        return scores


def _encode(text: str) -> bytes:
    """py3langid's normalisation: all-capitals lowered, NFC, UTF-8."""
    if text.isupper():
        text = text.lower()
    return unicodedata.normalize("NFC", text).encode("utf8", errors="surrogatepass")


@lru_cache(maxsize=1)
def _py3langid_model() -> Any:
    """py3langid's full model, loaded once (half a second: it is LZMA-compressed in the wheel)."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE)


@lru_cache(maxsize=8)
def identifier(candidates: tuple[str, ...]) -> Identifier:
    """The identifier for one candidate set, built once per process."""
    return Identifier(candidates)
