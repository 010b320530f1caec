"""``task=general``: short non-reasoning requests with exact answers and an empty chain of thought."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from r1.paths import conf_dir
from r1.plugins import get_registry
from r1.settings import to_plain
from r1.tasks.general import KINDS, GeneralTask, Words, distinct_indices, problem_split

SHIPPED = OmegaConf.load(conf_dir() / "task" / "general.yaml")


def task(**changes) -> GeneralTask:
    """The shipped task (conf/task/general.yaml) with ``changes`` to its options."""
    options = {key: value for key, value in to_plain(SHIPPED).items() if key != "name"}
    return GeneralTask(**{**options, **changes})


def only(kind: str, **sizes) -> dict:
    """The shipped kinds with only ``kind`` enabled (its sizes changed by ``sizes``)."""
    kinds = {name: {**node, "enabled": name == kind} for name, node in to_plain(SHIPPED.kinds).items()}
    kinds[kind].update(sizes)
    return kinds


def test_the_registry_builds_the_shipped_config_with_every_kind():
    built = get_registry(autoload=False).build("task", SHIPPED)
    assert isinstance(built, GeneralTask) and [kind.name for kind in built.kinds] == list(KINDS)
    samples = built.samples("train", 300, seed=0)
    assert {s["kind"] for s in samples} == set(KINDS)
    assert all(s["task"] == "general" for s in samples)


@pytest.mark.parametrize(
    ("kind", "prompt", "answer"),
    [("reverse", "reverse cab", "bac"), ("upper", "uppercase dog", "DOG"), ("next", "after 41", "42"),
     ("next", "after 99", "100"), ("prev", "before 17", "16"), ("repeat", "repeat ab 3 times", "ababab")],
)  # fmt: skip
def test_each_kind_answers_its_prompt(kind, prompt, answer):
    (found,) = [s for s in every_problem(task(letters="abcdgo", kinds=only(kind))) if s["prompt"] == prompt]
    assert found["answer"] == answer and found["kind"] == kind and found["task"] == "general"
    assert found["response"] == f"<think></think><answer>{answer}</answer>"  # R1's empty think for a simple query


def split_sizes(built: GeneralTask) -> dict[str, int]:
    """How many problems each split of a one-kind task holds, counted by hashing every problem."""
    (kind,) = built.kinds
    splits = [problem_split(kind.key(kind.arguments(i)), built.test_percent) for i in range(kind.size)]
    return {split: splits.count(split) for split in ("train", "test")}


def every_problem(built: GeneralTask) -> list[dict]:
    """Every problem of both splits of a small one-kind task."""
    return [s for split, n in split_sizes(built).items() for s in built.samples(split, n, seed=0)]


def test_every_prompt_and_response_round_trips_through_the_default_tokenizer():
    from r1.models.tokenizer import load_tiny_tokenizer

    tokenizer = load_tiny_tokenizer()
    samples = task().samples("train", 400, seed=1) + task().samples("test", 200, seed=1)
    texts = [s["prompt"] for s in samples] + [s["response"] for s in samples]
    encoded = tokenizer(texts, add_special_tokens=False)["input_ids"]
    assert tokenizer.batch_decode(encoded, skip_special_tokens=True) == texts
    assert tokenizer.unk_token_id is None or all(tokenizer.unk_token_id not in ids for ids in encoded)
    assert max(len(ids) for ids in encoded[len(samples) :]) <= 12  # responses of a few tokens: the tiny model learns them


def test_samples_are_deterministic_for_a_seed_and_differ_across_seeds():
    assert task().samples("train", 50, seed=3) == task().samples("train", 50, seed=3)
    assert task().samples("train", 50, seed=3) != task().samples("train", 50, seed=4)


def test_train_and_test_splits_are_disjoint_whatever_the_seed():
    built = task()
    train = {s["id"] for seed in range(3) for s in built.samples("train", 800, seed=seed)}
    test = {s["id"] for seed in range(3) for s in built.samples("test", 300, seed=seed)}
    assert train and test and not train & test
    assert all(problem_split(key, built.test_percent) == "test" for key in test)
    # the split follows the problem, not its wording: a new prompt keeps every problem where it was
    kinds = to_plain(SHIPPED.kinds)
    kinds["reverse"]["prompt"] = "flip {word}"
    reworded = {s["id"] for s in task(kinds=kinds).samples("test", 300, seed=0)}
    assert not reworded & train


def test_a_small_split_is_used_up_exactly_each_problem_once():
    built = task(kinds=only("repeat", word_lengths=[1, 1], times=[2, 3]), test_percent=30)  # 8 letters x 2 counts = 16 problems
    sizes = split_sizes(built)
    assert sum(sizes.values()) == 16 and min(sizes.values()) >= 1
    problems = every_problem(built)
    assert len({s["id"] for s in problems}) == len(problems) == 16
    for split, n in sizes.items():
        with pytest.raises(ValueError, match=f"asked for {n + 1} {split} problems but the enabled kinds have only {n}"):
            built.samples(split, n + 1, seed=0)


def test_references_pass_check_and_wrong_answers_fail():
    built = get_registry(autoload=False).build("task", SHIPPED)
    for sample in built.samples("test", 200, seed=0):
        assert built.check(sample["response"], sample["answer"])
        assert not built.check("<think></think><answer>x" + sample["answer"] + "</answer>", sample["answer"])
        assert not built.check("no answer at all", sample["answer"])


def test_check_compares_strings_where_the_math_verifier_would_not():
    from r1.math import verify

    built = task()
    for wrong, gold in (("ba", "ab"), ("dog", "DOG"), ("42.0", "42")):
        response = f"<think></think><answer>{wrong}</answer>"
        assert verify(response, gold)  # the symbolic verifier takes these for equal...
        assert not built.check(response, gold)  # ...the task does not
    assert built.check("<think></think><answer> DOG </answer>", "DOG")  # spaces around the answer do not count


def test_bad_arguments_are_one_line_errors():
    with pytest.raises(ValueError, match="split"):
        task().samples("validation", 3)
    with pytest.raises(ValueError, match="give a number"):
        task().samples("train", None)
    with pytest.raises(ValueError, match="have only"):
        task().samples("test", 100_000)
    with pytest.raises(ValueError, match="letters"):
        task(letters="aBc")
    with pytest.raises(ValueError, match="letters"):
        task(letters="aab")
    with pytest.raises(ValueError, match="no kind is enabled"):
        task(kinds={name: {**node, "enabled": False} for name, node in to_plain(SHIPPED.kinds).items()})
    with pytest.raises(ValueError, match="unknown kind 'shout'"):
        task(kinds={**to_plain(SHIPPED.kinds), "shout": {"enabled": True}})
    with pytest.raises(ValueError, match="word_lengths"):
        task(kinds=only("reverse", word_lengths=[3, 2]))
    with pytest.raises(ValueError, match="numbers"):
        task(kinds=only("prev", numbers=[0, 9]))  # "before 0" would have a negative answer
    with pytest.raises(ValueError, match=r"task\.kinds\.repeat\.prompt must use exactly \{times\}, \{word\}, got 'repeat \{word\}'"):
        task(kinds=only("repeat", prompt="repeat {word}"))
    with pytest.raises(ValueError, match=r"task\.kinds\.next\.prompt must use exactly \{n\}"):
        task(kinds=only("next", prompt="after {number}"))
    kinds = only("next")
    del kinds["next"]["prompt"]
    with pytest.raises(ValueError, match=r"task\.kinds\.next needs 'prompt'"):
        task(kinds=kinds)
    from r1.errors import PluginError

    with pytest.raises(PluginError, match="task 'general'.*test_percent"):
        get_registry(autoload=False).build("task", {**to_plain(SHIPPED), "test_percent": 0})


def test_words_number_every_word_once_in_order_of_length():
    words = Words("abc", 1, 2)
    assert len(words) == 3 + 9
    assert [words[i] for i in range(len(words))] == ["a", "b", "c", "aa", "ab", "ac", "ba", "bb", "bc", "ca", "cb", "cc"]
    with pytest.raises(IndexError):
        words[len(words)]


@pytest.mark.parametrize("size", [0, 1, 7, 1000])
def test_distinct_indices_gives_every_index_once(size):
    import random

    drawn = list(distinct_indices(size, random.Random(0)))
    assert sorted(drawn) == list(range(size))


@pytest.mark.slow
def test_cold_start_sft_on_the_reference_responses_answers_held_out_prompts(tmp_path):
    """``python -m r1.run phase=sft task=general`` at its default length: the tiny default model learns to answer briefly.

    Held-out accuracy is the task's own exact check (the SFT log's ``val/accuracy`` uses the
    symbolic verifier, which accepts ``ba`` for ``ab``).
    """
    from hydra import compose, initialize_config_dir
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from r1.phases.validation import score_greedy
    from r1.run import run

    overrides = ["phase=sft", "task=general", "logger=none", "phase.val_every_steps=null", "phase.checkpoint.every_n_steps=null", "+trainer.enable_progress_bar=false"]
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose("config", overrides=[*overrides, f"paths.output_root={tmp_path}", f"paths.output_dir={tmp_path / 'run'}"])
    summary = run(cfg)
    model = AutoModelForCausalLM.from_pretrained(summary["hf_dir"]).eval()
    tokenizer = AutoTokenizer.from_pretrained(summary["hf_dir"])
    registry = get_registry(autoload=False)
    built, sampler = registry.build("task", cfg.task), registry.build("sampler", cfg.sampler)
    samples = built.samples("test", 200, seed=0)
    scores = score_greedy(model, tokenizer, sampler, samples, 16, verify=built.check)
    assert sum(scores["correct"]) / len(samples) >= 0.7, [c for c, ok in zip(scores["completions"], scores["correct"]) if not ok][:10]


def test_sft_and_distillation_score_the_tasks_held_out_prompts_with_its_checker():
    from dataclasses import replace

    from hydra import compose, initialize_config_dir

    from r1.phases.sft import read_sft_settings, validation_checker

    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose("config", overrides=["phase=sft", "task=general"])
    data = read_sft_settings(cfg)[1]
    built = task()
    verify = validation_checker(data, built)
    assert verify("<think></think><answer>DOG</answer>", "DOG") and not verify("<think></think><answer>dog</answer>", "DOG")
    assert validation_checker(replace(data, val_path="held_out.jsonl"), built) is None  # a dataset's prompts: the shared verifier
