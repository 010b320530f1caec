"""Final-answer extraction: <answer> tags, boxes, GSM8K hashes, free text, the policies, and the normaliser."""

from __future__ import annotations

import time

import pytest

from r1.errors import ConfigError
from r1.math import EXTRACTIONS, check_extraction, extract_answer, last_boxed, normalize, verify
from r1.math.extract import MAX_SCAN_CHARS
from r1.math.normalize import brace_arguments


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<think>so 4</think><answer>4</answer>", "4"),
        ("<answer>1</answer> then <answer> 2 </answer>", "2"),  # the last one wins
        ("<answer>The result is $\\boxed{\\frac{1}{2}}$.</answer>", "\\frac{1}{2}"),  # box inside the tag
        ("so $\\boxed{\\frac{\\sqrt{3}}{2}}$", "\\frac{\\sqrt{3}}{2}"),  # nested braces
        ("first \\boxed{1}, finally \\boxed{2}.", "2"),
        ("\\boxed 5$", "5"),
        ("the answer is \\boxed 5.", "5"),
        ("\\fbox{7}", "7"),
        ("\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}", "\\left( 3, \\frac{\\pi}{2} \\right)"),
        ("work \\boxed{3} then truncated \\boxed{12", "3"),  # an unclosed box is not an answer
        ("Janet sells 9 eggs.\n#### 18", "18"),
        ("#### 1,600\n", "1,600"),
        ("<answer>4", None),  # unclosed tag, no box: no answer
        ("no answer here", None),
        ("\\boxed{}", None),
        ("", None),
        ("<answer>  </answer>", None),
        ("<answer>a<answer>b</answer>", "a<answer>b"),  # a tag closes at the first </answer> after it
        ("<answer>1</answer> 2</answer>", "1"),
        ("<answer>1</answer><answer>2", "1"),
        ("\\boxed{\\{1, 2\\}}", "\\{1, 2\\}"),  # escaped braces are not braces
        ("\\boxed{3} \\boxed{a\\}", "3"),
        ("\\boxed{3} \\boxed{ }", "3"),  # an empty box falls back to the one before
        ("\\boxed{\\boxed{4}", "4"),
        ("\\boxed{1}\\boxed", "1"),
        ("\\boxed\t{8}", "8"),
        ("\\boxedx{8}", None),
        ("#### 5\n#### \t\n", None),  # the last #### line wins, even when it is empty
        ("x\n####\n", None),
        ("  ####  42 \r\n", "42"),
    ],
)
def test_extract_answer(text, expected):
    assert extract_answer(text) == expected


PATHOLOGICAL_RESPONSES = [
    pytest.param("\\boxed{1" * 4_000, id="unclosed-boxes"),
    pytest.param("<answer>" * 8_000, id="unclosed-tags"),
    pytest.param("<answer>\\boxed{1" * 6_000 + "</answer>", id="unclosed-boxes-in-nested-tags"),
    pytest.param("\\boxed{" * 50_000, id="open-braces"),
    pytest.param("\\boxed{\\" * 50_000, id="escapes"),
    pytest.param("#### a" + " " * 1_000_000 + "b", id="long-hash-line"),
    pytest.param("\n" * 1_000_000, id="blank-lines"),
]


@pytest.mark.parametrize("response", PATHOLOGICAL_RESPONSES)
def test_extraction_time_is_linear_and_bounded(response):
    """Extraction runs in the caller's thread, outside the symbolic stage's time budget.

    ``verify`` took 4.3 s, 2.2 s, 33 s and more than 300 s on the first four when each
    box and tag was matched by its own scan to the end of the text. One pass each now
    (and the search stops MAX_SCAN_CHARS from the end): 3 ms, 0.4 ms, 11 ms and 16 ms
    on a shared 2-core machine. The bound is loose so that a loaded machine cannot
    fail it; a quadratic scan does.
    """
    start = time.perf_counter()
    assert verify(response, "1") is False
    assert last_boxed(response) is None
    assert time.perf_counter() - start < 0.5


def test_only_the_last_characters_are_searched():
    filler = "x " * MAX_SCAN_CHARS
    assert extract_answer("\\boxed{1}" + filler + "\\boxed{2}") == "2"
    assert extract_answer("<answer>1</answer>" + filler + "<answer>2</answer>") == "2"
    assert extract_answer("\\boxed{1}" + filler) is None
    assert last_boxed("\\boxed{1}" + filler) is None
    # where the search starts mid-line, that is not the start of a line
    assert extract_answer("y#### 5" + "z" * (MAX_SCAN_CHARS - 6)) is None
    assert extract_answer("y\n#### 5" + "z" * (MAX_SCAN_CHARS - 6)) == "5" + "z" * (MAX_SCAN_CHARS - 6)


def test_answer_tag_beats_box_outside_it():
    assert extract_answer("\\boxed{1} <answer>2</answer>") == "2"


def test_extract_answer_tolerates_non_strings():
    assert extract_answer(None) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("\\dfrac{3}{4}", "\\frac{3}{4}"),
        ("\\frac 34", "\\frac{3}{4}"),
        ("\\frac9{19}", "\\frac{9}{19}"),
        ("\\frac{270}7\\text{ degrees}", "\\frac{270}{7}"),
        ("\\sqrt2", "\\sqrt{2}"),
        ("\\left( 3, \\frac{\\pi}{2} \\right)", "( 3, \\frac{\\pi}{2} )"),
        ("10,\\!080", "10080"),
        ("11,\\! 111,\\! 111,\\! 100", "11111111100"),
        ("\\$32,\\!348", "32348"),
        ("58,500", "58500"),
        ("106^\\circ", "106"),
        ("30^{\\circ}", "30"),
        ("15\\mbox{ cm}^2", "15"),
        ("864 \\mbox{ inches}^2", "864"),
        ("5.4 \\text{ cents}", "5.4"),
        ("12 square units", "12"),
        ("\\text{(B)}", "B"),
        ("\\text{Evelyn}", "Evelyn"),
        ("x \\in [-2,7]", "[-2,7]"),
        ("1\\frac{4}{5}", "\\frac{9}{5}"),
        ("-137 \\frac{1}{2}", "-\\frac{275}{2}"),
        ("4210_{5}", "4210"),
        ("50\\%", "50%"),
        ("$\\pi$.", "\\pi"),
        ("3, 5, 7", "3, 5, 7"),  # a list, not a thousands separator
        ("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}"),
        ("\\left[\\begin{array}{cc} 1 & 2 \\end{array}\\right]", "\\begin{array}{cc} 1 & 2 \\end{array}"),
        ("x >= 5", "x \\ge 5"),
        ("x \\geqslant 5", "x \\ge 5"),
        ("x != 3", "x \\ne 3"),
        ("x \\lt 3", "x < 3"),
        ("5!=120", "5!=120"),  # a factorial, not "not equal"
        ("6 and 8", "6, 8"),
        ("1$ and $2$ and $3", "1, 2, 3"),
        ("x = 1 \\text{ or } x = 2", "x = 1, x = 2"),
        ("25 percent", "25%"),
        ("25\\text{ percent}", "25%"),
        ("5 €", "5"),
        ("12 m²", "12"),
        ("12\\textnormal{ miles}", "12"),
        ("5\\text{ km/h}", "5"),
        ("5 m/s", "5"),
        ("\\{x \\mid x > 1\\}", "x > 1"),
        ("\\left\\{x \\middle| x<1 \\text{ or } x>2\\right\\}", "x<1, x>2"),
        ("\\varnothing", "\\emptyset"),
        ("(1, +\\infty)", "(1, \\infty)"),
        ("33\\frac{1}{3}\\%", "\\frac{100}{3}%"),
    ],
)
def test_normalize(raw, clean):
    assert normalize(raw) == clean


def test_normalize_is_idempotent():
    for raw in [
        "\\dfrac 34",
        "10,\\!080 \\text{ cm}",
        "\\left[ \\frac{\\pi^2}{8}, \\frac{5 \\pi^2}{4} \\right]",
        "x >= 5 \\text{ or } x \\lt -1",
        "\\left\\{x \\mid x > 1\\right\\}",
        "25 percent and 12 m²",
    ]:
        once = normalize(raw)
        assert normalize(once) == once


def test_brace_arguments_keeps_root_index():
    assert brace_arguments("\\sqrt[3]2") == "\\sqrt[3]{2}"


@pytest.mark.parametrize(
    ("text", "template", "boxed", "any_"),
    [
        ("so \\boxed{1}", "1", "1", "1"),
        ("<think>x</think><answer>2</answer>", "2", None, "2"),
        ("\\boxed{1} then <answer>2</answer>", "2", "1", "2"),  # the tag wins where the template is read
        ("She makes 9 dollars.\n#### 9", "9", None, "9"),
        ("Final Answer: The final answer is $34$. I hope it is correct.", None, None, "34"),
        ("Therefore $x \\geq 5$ is the solution.", None, None, "x \\geq 5"),
        ("no answer here", None, None, None),
    ],
)
def test_extraction_policies(text, template, boxed, any_):
    assert extract_answer(text) == extract_answer(text, "template") == template
    assert extract_answer(text, "boxed") == boxed
    assert extract_answer(text, "any") == any_


def test_an_unknown_policy_is_one_config_error_line():
    with pytest.raises(ConfigError, match=r"^extraction must be one of template, boxed, any, not 'latex'$"):
        extract_answer("\\boxed{1}", "latex")
    with pytest.raises(ConfigError):
        verify("\\boxed{1}", "1", extraction="boxes")
    assert EXTRACTIONS == ("template", "boxed", "any") and check_extraction("any") == "any"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\\boxed{1}\\boxed{2}", "1; 2"),
        ("The roots are $\\boxed{1}$ and $\\boxed{2}$.", "1; 2"),
        ("$\\boxed{(1,2)}$, $\\boxed{(2,1)}$, $\\boxed{(-20,-1)}$", "(1,2); (2,1); (-20,-1)"),
        ("\\boxed{1} \\text{ and } \\boxed{2}", "1; 2"),
        ("first \\boxed{1}, so finally \\boxed{2}", "2"),  # a draft, then the answer
        ("$\\boxed{15\\frac{39}{40}}$, or $\\boxed{\\frac{639}{40}}$", "\\frac{639}{40}"),  # one answer twice
        ("\\boxed{1} \\boxed{ } \\boxed{2}", "2"),  # an empty box between them is not a separator
        ("\\boxed{\\boxed{1} \\boxed{2}}", "1; 2"),
    ],
)
def test_boxes_written_side_by_side_are_one_answer(text, expected):
    assert extract_answer(text) == extract_answer(text, "boxed") == expected


def test_last_boxed_is_still_the_last_box_alone():
    assert last_boxed("\\boxed{1}, \\boxed{2}") == "2"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Final Answer: The largest $n$ is 34.", "34"),
        ("Final Answer: $x = 5$ is the solution.", "x = 5"),
        ("The final answer is $1$ and $2$ and $3$.", "1$ and $2$ and $3"),
        ("**Final Answer**\n\n\\[\n\\dfrac{1}{2}\n\\]", "\\dfrac{1}{2}"),
        ("Only (C) works.\n\nAnswer: (C)", "(C)"),
        ("The final answer is Evelyn.", "Evelyn"),
        ("So the answer is 6 and 8.", "6 and 8"),
        ("It equals\n\\[ 9 \\]", "9"),
        ("It equals \\( 9 \\).", "9"),
        ("It equals $$9$$", "9"),
        ("We get $x=1$ and $x=2$", "x=1; x=2"),
        ("Since $x>0$, $x=2$.", "x=2"),  # a comma alone does not make a list
        ("Adding $3$ and $4$ gives $7$.", "7"),
        ("The volume is $5^3$, which is 125 cubic centimetres.", "125"),  # a number after the last math
        ("It costs $5. Then $x=3$ is what remains", "x=3"),  # a dollar sign, not math
        ("Die Antwort ist 12,5.", "12,5"),
        ("No answer can be given.", None),
    ],
)
def test_free_text_answers(text, expected):
    assert extract_answer(text, "any") == expected
    assert extract_answer(text) is None


FREE_TEXT_PATHOLOGICAL = [
    pytest.param("$" * 1_000_000, id="dollars"),
    pytest.param("$a " * 300_000, id="dollar-words"),
    pytest.param("\\[" * 400_000, id="display-openers"),
    pytest.param("Final answer is " * 80_000, id="phrases"),
    pytest.param("answer" + " " * 1_000_000, id="spaces-after-a-phrase"),
    pytest.param("Final answer: " + "x is " * 300_000, id="copulas"),
    pytest.param("1 " * 500_000, id="numbers"),
    pytest.param("1," * 500_000, id="number-chain"),
    pytest.param("$1$ and " * 100_000, id="listed-math"),
    pytest.param("\\boxed{1} and " * 100_000, id="listed-boxes"),
    pytest.param("$5. Then " * 100_000, id="currency-signs"),
]


@pytest.mark.parametrize("response", FREE_TEXT_PATHOLOGICAL)
def test_free_text_extraction_is_linear_and_bounded(response):
    """Each step of ``any`` is one regular-expression pass over the last MAX_SCAN_CHARS characters."""
    start = time.perf_counter()
    extract_answer(response, "any")
    assert verify(response, "1, 2", extraction="any") in (True, False)
    assert time.perf_counter() - start < 0.5
