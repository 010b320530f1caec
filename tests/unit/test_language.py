"""r1.language on labelled multilingual text: languages that share a script are told apart, mixed text gets a share."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from py3langid.langid import MODEL_FILE, LanguageIdentifier

from r1.language import (
    DEFAULT_CANDIDATES,
    LATIN_LANGUAGES,
    count_words,
    identifier,
    language_share,
    language_shares,
)

DATA = json.loads((Path(__file__).parents[1] / "data" / "language_sentences.json").read_text(encoding="utf-8"))
SENTENCES = [(lang, s) for lang, group in DATA["sentences"].items() for s in group]


HAN = {"zh", "ja"}
"""Chinese and Japanese share Han characters and are told apart by script only: kana is Japanese, Han is both."""


@pytest.mark.parametrize("target", sorted(DATA["sentences"]))
def test_each_sentence_scores_one_in_its_language_and_zero_in_the_others(target):
    pairs = [(lang, s) for lang, s in SENTENCES if lang == target or not {lang, target} <= HAN]
    shares = language_shares([s for _, s in pairs], target)
    wrong = [(lang, s, share) for (lang, s), share in zip(pairs, shares) if share != (1.0 if lang == target else 0.0)]
    assert wrong == []


def test_chinese_and_japanese_are_told_apart_by_kana_only():
    chinese = [s for lang, s in SENTENCES if lang == "zh"]
    japanese = [s for lang, s in SENTENCES if lang == "ja"]
    assert language_shares(chinese, "ja") == [1.0] * len(chinese)  # Han alone could be Japanese
    assert all(0.0 < share < 0.6 for share in language_shares(japanese, "zh"))  # kana is not Chinese


def mixed_case(case: dict) -> tuple[str, float]:
    words = [count_words(text, lang, 1).total for lang, text in case["parts"]]
    expected = sum(n for (lang, _), n in zip(case["parts"], words) if lang == case["target"]) / sum(words)
    return " ".join(text for _, text in case["parts"]), expected


@pytest.mark.parametrize("case", DATA["mixed"], ids=lambda c: c["target"] + ":" + "+".join(lang for lang, _ in c["parts"]))
def test_drifting_into_another_language_half_way_gives_the_share_of_each(case):
    text, expected = mixed_case(case)
    share = language_share(text, case["target"])
    assert 0.0 < share < 1.0
    assert share == pytest.approx(expected, abs=0.1)


def test_french_is_not_english_any_more():
    french = "D'abord, on additionne les unités. Ensuite, on retient un et on trouve la réponse."
    assert language_share(french, "en") == 0.0
    assert language_share(french, "fr") == 1.0
    assert language_share(french, "latin") == 1.0  # the script alone still accepts it


def test_code_maths_and_numbers_do_not_count_against_the_target():
    chinese = "我们先计算总和 $\\sum_{i=1}^{n} i = \\frac{n(n+1)}{2}$，然后代入 n = 10 得到 55。"
    assert language_share(chinese, "zh") == 1.0
    code = (
        "Nous écrivons une fonction pour vérifier le résultat.\n"
        "```python\ndef check_total(values):\n    return sum(values) == 132\n```\n"
        "Puis on appelle `check_total([47, 85])` et np.sum(values) donne le même nombre."
    )
    assert language_share(code, "fr") == 1.0
    display = "On pose \\begin{align} x + y &= 10 \\\\ x - y &= 2 \\end{align} donc x vaut six."
    assert language_share(display, "fr") == 1.0
    assert language_share("7 + 5 = 12, 12 * 3 = 36", "en") == 1.0  # no words at all


def test_a_short_sentence_is_labelled_with_its_neighbours():
    """'Ok.' alone could be any language; joined to the next sentence it is English."""
    text = "Ok. So we add the tens and carry one."
    assert [words for words, _ in count_words(text, "en", 4).runs] == [9]
    assert language_share(text, "en") == 1.0
    assert [words for words, _ in count_words("Wait. Let me check.", "en", 4).runs] == [4]
    assert len(count_words(text, "en", 1).runs) == 2
    assert count_words("ok, 7 + 5 = 12", "en", 4) == (1, 1, [])  # too few words to tell: the script decides
    assert language_share("ok, 7 + 5 = 12", "en") == language_share("d'accord", "en") == 1.0


def test_script_decides_without_the_identifier(monkeypatch):
    """A target of another script, or a text without Latin words, makes no identifier call."""
    import r1.language

    monkeypatch.setattr(r1.language, "identifier", lambda candidates: pytest.fail("identifier called"))
    assert language_share("First add the units, 然后进位", "zh") == pytest.approx(4 / 8)
    assert language_share("まず、一の位を足します。Then carry.", "ja") == pytest.approx(10 / 12)
    assert language_share("先把个位相加", "en") == 0.0
    assert count_words("First add the units.", "zh", 4).runs == []


def test_the_batched_identifier_agrees_with_py3langid():
    candidates = tuple(sorted(DEFAULT_CANDIDATES))
    reference = LanguageIdentifier.from_model_file(MODEL_FILE)
    reference.set_languages(list(candidates))
    latin = [s for lang, s in SENTENCES if lang in LATIN_LANGUAGES] + ["ÉTÉ CHAUD", "so"]
    assert identifier(candidates).identify(latin) == [reference.classify(s)[0] for s in latin]


def test_every_latin_language_is_known_to_the_identifier():
    assert set(identifier(LATIN_LANGUAGES).labels) == set(LATIN_LANGUAGES)


def test_the_target_joins_the_candidates_and_mistakes_are_one_line():
    assert language_share("Vi lägger ihop entalen och får tolv.", "sv") == 1.0  # sv is not a default candidate
    with pytest.raises(ValueError, match="unknown language 'klingon'"):
        language_share("text", "klingon")
    with pytest.raises(ValueError, match="not Latin-script"):
        language_share("text", "en", candidates=["en", "zh"])
    with pytest.raises(ValueError, match="min_words"):
        language_share("text", "en", min_words=0)
