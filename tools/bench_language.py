"""Measure the ``language`` reward: accuracy of each language identifier, and the reward's speed.

Usage::

    python tools/bench_language.py                 # accuracy table, then speed, then one JSON line
    python tools/bench_language.py --batch 2048 --repeats 5

Accuracy, on the labelled sentences of ``tests/data/language_sentences.json``
(Latin-script ones: the identifier only ever sees Latin words):

* ``r1``: :class:`r1.language.Identifier` (py3langid's model, batched), restricted
  to the candidates of ``conf/reward/language.yaml``;
* ``py3langid``: py3langid's own ``classify``, restricted likewise, and over all its
  languages (``py3langid_all``);
* ``lingua`` / ``lingua_low``: lingua-language-detector restricted likewise, in its
  high- and low-accuracy modes (skipped when lingua is not installed).

``reward_ok`` is the share of (sentence, target) pairs, every labelled sentence
against every language of the file (but Chinese against Japanese, which share Han), scored right by the reward (1.0 for its own
language, 0.0 for another); ``mixed_error`` the mean absolute error of the reward on
the file's mixed texts.

Speed: completions/s of :class:`r1.rewards.language.LanguageReward` (target ``en``,
the YAML's options) on a batch of ~100-token chain-of-thought completions, one in
ten drifting into French, with maths and inline code; then identifier-only
throughput of each library on the Latin runs of that batch, as completions/s.
Single-threaded: set ``OMP_NUM_THREADS=1`` to match a busy trainer.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from r1.language import LANGUAGE_SCRIPTS, count_words, identifier, language_shares  # noqa: E402
from r1.rewards.language import LanguageReward  # noqa: E402

DATA = ROOT / "tests" / "data" / "language_sentences.json"
LINGUA_NAMES = {"en": "ENGLISH", "fr": "FRENCH", "de": "GERMAN", "es": "SPANISH", "it": "ITALIAN", "pt": "PORTUGUESE",
                "nl": "DUTCH", "sv": "SWEDISH", "da": "DANISH", "no": "BOKMAL", "fi": "FINNISH", "pl": "POLISH"}


def load() -> dict:
    return json.loads(DATA.read_text(encoding="utf-8"))


def options() -> dict:
    config = yaml.safe_load((ROOT / "conf" / "reward" / "language.yaml").read_text())
    return {"candidates": tuple(config["candidates"]), "min_words": int(config["min_words"])}


def identifiers(candidates: tuple[str, ...]) -> dict:
    """``{name: texts -> labels}`` for every identifier that can be built here."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    restricted = LanguageIdentifier.from_model_file(MODEL_FILE)
    restricted.set_languages(list(candidates))
    everything = LanguageIdentifier.from_model_file(MODEL_FILE)
    found = {
        "r1": identifier(candidates).identify,
        "py3langid": lambda texts: [restricted.classify(t)[0] for t in texts],
        "py3langid_all": lambda texts: [everything.classify(t)[0] for t in texts],
    }
    try:
        from lingua import Language, LanguageDetectorBuilder
    except ImportError:
        return found
    languages = [getattr(Language, LINGUA_NAMES[c]) for c in candidates]
    back = {getattr(Language, name): code for code, name in LINGUA_NAMES.items()}
    for name, builder in (
        ("lingua", LanguageDetectorBuilder.from_languages(*languages).with_preloaded_language_models()),
        ("lingua_low", LanguageDetectorBuilder.from_languages(*languages).with_low_accuracy_mode()),
    ):
        detector = builder.build()
        found[name] = lambda texts, d=detector: [back.get(x, "und") for x in d.detect_languages_in_parallel_of(list(texts))]
    return found


def accuracy(data: dict, opts: dict) -> dict:
    latin = [(lang, s) for lang, sentences in data["sentences"].items() if lang in opts["candidates"] for s in sentences]
    result = {}
    for name, identify in identifiers(opts["candidates"]).items():
        labels = identify([s for _, s in latin])
        result[name] = sum(label == lang for (lang, _), label in zip(latin, labels)) / len(latin)
    pairs = ok = 0
    for target in data["sentences"]:
        sentences = [  # Han alone is both Chinese and Japanese: those pairs are told apart by kana only
            (lang, s) for lang, group in data["sentences"].items() for s in group if lang == target or {lang, target} != {"zh", "ja"}
        ]
        shares = language_shares([s for _, s in sentences], target, **opts)
        ok += sum(share == (1.0 if lang == target else 0.0) for (lang, _), share in zip(sentences, shares))
        pairs += len(sentences)
    result["reward_ok"] = ok / pairs
    errors = []
    for mixed in data["mixed"]:
        counts = [count_words(text, lang, opts["min_words"]) for lang, text in mixed["parts"]]
        words = [c.total for c in counts]
        expected = sum(n for (lang, _), n in zip(mixed["parts"], words) if lang == mixed["target"]) / sum(words)
        got = language_shares([" ".join(t for _, t in mixed["parts"])], mixed["target"], **opts)[0]
        errors.append(abs(got - expected))
    result["mixed_error"] = sum(errors) / len(errors)
    return result


def batch(data: dict, size: int, seed: int = 0) -> list[str]:
    """~100-token completions: six or seven sentences, a formula, an inline identifier; one in ten drifts into French."""
    rng = random.Random(seed)
    english, french = data["sentences"]["en"], data["sentences"]["fr"]
    out = []
    for i in range(size):
        body = rng.sample(english, 6)
        if i % 10 == 0:
            body[3:] = rng.sample(french, 3)
        body.insert(2, f"We get $x^2 + {rng.randint(2, 9)}x = {rng.randint(10, 99)}$, and `total_sum` holds {rng.randint(100, 999)}.")
        out.append("<think>\n" + " ".join(body) + f"\n</think>\n<answer>{rng.randint(1, 99)}</answer>")
    return out


def speed(data: dict, opts: dict, size: int, repeats: int) -> dict:
    completions = batch(data, size)
    reward = LanguageReward("en", **opts)
    reward(completions[:8])  # loads the model
    start = time.perf_counter()
    for _ in range(repeats):
        reward(completions)
    result = {"reward_completions_per_s": round(repeats * size / (time.perf_counter() - start))}
    runs = [latin for c in completions for _, latin in count_words(c, "en", opts["min_words"]).runs]
    result["runs_per_completion"] = round(len(runs) / size, 2)
    result["words_per_completion"] = round(sum(count_words(c, "en", 1).total for c in completions) / size, 1)
    for name, identify in identifiers(opts["candidates"]).items():
        subset = runs if name == "r1" else runs[: max(len(runs) // 4, 1)]
        identify(subset[:4])
        start = time.perf_counter()
        identify(subset)
        per_run = (time.perf_counter() - start) / len(subset)
        result[f"{name}_only_completions_per_s"] = round(1 / (per_run * len(runs) / size))
    start = time.perf_counter()
    LanguageReward("zh", **opts)(completions)
    result["reward_zh_target_completions_per_s"] = round(size / (time.perf_counter() - start))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=1024, help="completions per reward call")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    data, opts = load(), options()
    assert all(lang in LANGUAGE_SCRIPTS for lang in data["sentences"])
    acc = accuracy(data, opts)
    print(f"{'identifier':<16}accuracy on {sum(len(v) for k, v in data['sentences'].items() if k in opts['candidates'])} Latin sentences")
    for name, value in acc.items():
        print(f"{name:<16}{value:.3f}")
    fast = speed(data, opts, args.batch, args.repeats)
    for name, value in fast.items():
        print(f"{name:<40}{value}")
    print(json.dumps({"candidates": opts["candidates"], "min_words": opts["min_words"], **acc, **fast}))


if __name__ == "__main__":
    main()
