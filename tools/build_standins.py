"""Build small stand-ins for Hugging Face chat models, offline, from config.

    python tools/build_standins.py OUT_DIR [--only NAME ...] [--seed N]
    python tools/build_standins.py OUT_DIR --only qwen3-dense-50m   # the 48.8 M-parameter one, on request only

r1 must work with any Hub chat model (``model=hf model.name_or_path=<folder>``),
but CI has no Hub access, and r1's default model (a byte-level tokenizer, its own
template, left padding, one eos) hides what a real checkpoint differs in. Each
stand-in is a saved Hugging Face folder that differs from the default the way a
real one does, at a few million randomly initialised parameters:

* a trained byte-level BPE tokenizer (Qwen's pre-tokenizer: digits split one by
  one, words and LaTeX commands merged), so tokens do not line up with characters;
  an NFC normalizer, as Qwen's tokenizer has, so text that is not NFC does not
  come back byte for byte (NFC text, i.e. nearly all text, round-trips exactly);
* a chat template of a real family: Qwen2.5/Qwen3 (``<|im_start|>role\\n``, no
  BOS, eos ``<|im_end|>``) or DeepSeek-R1-Distill (the template writes the BOS and
  the tokenizer adds another one unless ``add_special_tokens=False``, and the
  generation prompt ends in ``<think>\\n``, so completions start inside the
  think block);
* ``<think>``, ``</think>``, ``<answer>``, ``</answer>`` as ordinary added tokens
  (kept by ``skip_special_tokens=True``), as Qwen3 has ``<think>``;
* the tokenizer's default right padding, a pad token that is not the eos, a
  ``generation_config`` that samples by default (the families' published
  temperature/top-p/top-k) and, for Qwen, two eos ids;
* an embedding matrix padded past the tokenizer (``config.vocab_size`` >
  ``len(tokenizer)``, as in Qwen checkpoints); the padding rows are zero, so
  greedy decoding never picks them, though sampling rarely can (decoding drops
  them, as it does for real checkpoints);
* transformers' own ``Qwen3ForCausalLM`` and ``Qwen3MoeForCausalLM`` classes,
  tied embeddings, float32 weights.

The stand-ins (:data:`STANDINS`): ``qwen3-dense`` and ``qwen3-moe`` (Qwen
template) and ``qwen3-dense-think`` (the dense model with the R1-Distill
template), 1.4 M, 2.2 M and 1.4 M parameters. The same corpus and seed give
byte-identical folders, whatever the thread count. Building all three takes 1-4 s
on two shared CPU cores (training the tokenizer 0.3-0.9 s of it), after 2-4 s of
importing torch and transformers; about 20 MB on disk.

One more, ``qwen3-dense-50m``, is built only when named (``--only qwen3-dense-50m``):
``qwen3-dense`` (same tokenizer, template and generation defaults) at
:data:`SHAPE_50M`, 48.8 M parameters, under its own cap :data:`MAX_PARAMETERS_50M`.
It is big enough for its weights, gradients and optimizer states to outweigh the
framework's own memory, which a memory measurement needs
(``tools/bench_memory.py``), while a GRPO step still runs on a CPU. It adds about
200 MB on disk and a few seconds to a build, so a plain build leaves it out.

Two more, also only when named, are the realistic shapes of the speed comparisons
(``tools/compare_trl.sh --model dense|moe``, ``tools/realistic_standin.py``):
``qwen3-dense-25m`` (:data:`SHAPE_25M`, 25.2 M parameters) and ``qwen3-moe-25m``
(:data:`SHAPE_MOE_25M`, the same layers with 8 experts, 2 routed per token: 25.2 M
active of 81.8 M).

The tokenizer is trained on the math text shipped in the package (problems,
solutions and answers of the MATH-500, GSM8K, AIME 2024 and AMC 2023 test files,
about 1.4 MB), written as R1 completions (``<think>`` solution ``</think>``
``<answer>`` answer ``</answer>``). :data:`BPE_VOCAB` is about 3,000: enough
merges that common words, LaTeX command names and recurring phrases become single
tokens (2.6 bytes a token on this text, digits being one token each as in Qwen),
while the tied embedding matrix (3,072 x 128) stays about a quarter of the dense
model's parameters, as in Qwen3-0.6B, and the whole model well inside
:data:`MAX_PARAMETERS`.

``tokenizer_config.json`` names the family's class as its checkpoints do:
``Qwen2Tokenizer``, and ``LlamaTokenizerFast`` for R1-Distill, which transformers 5
loads as its generic fast tokenizer with a warning, as it loads the real one.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

REPO_ROOT = Path(__file__).resolve().parents[1]
BENCHMARK_DATA = REPO_ROOT / "r1" / "benchmarks" / "data"
CORPUS_BENCHMARKS = ("math500", "gsm8k", "aime24", "amc23")
"""Folders under :data:`BENCHMARK_DATA` whose ``test.jsonl`` the tokenizer is trained on, in this order."""

PRETOKENIZE_REGEX = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
"""Qwen2/Qwen3's split before byte-level BPE: one token per digit, letters with one leading space or punctuation."""

BPE_VOCAB = 3050
"""Tokens the BPE trainer learns (256 byte tokens + merges); the styles' added tokens come after."""
BPE_MIN_FREQUENCY = 2
EMBEDDING_MULTIPLE = 128
"""``config.vocab_size`` is ``len(tokenizer)`` rounded up to this, as Qwen pads 151,665 tokens to 151,936 rows."""

TEMPLATE_TAGS = ("<think>", "</think>", "<answer>", "</answer>")
MAX_PARAMETERS = 5_000_000
MAX_POSITIONS = 2048

SHAPE: dict[str, Any] = {
    "hidden_size": 128,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,  # grouped-query attention, as every Qwen3 size has
    "head_dim": 32,
    "intermediate_size": 512,  # the dense MLP; in the MoE only layers listed in mlp_only_layers use it
    "max_position_embeddings": MAX_POSITIONS,
    "rms_norm_eps": 1e-6,
    "rope_parameters": {"rope_type": "default", "rope_theta": 1_000_000.0},
    "tie_word_embeddings": True,
    "initializer_range": 0.02,
    "dtype": "float32",
}
"""What both architectures share: a Qwen3 block at 1/8 of Qwen3-0.6B's width (1,024), four layers instead of 28."""

SHAPE_50M: dict[str, Any] = {
    **SHAPE,
    "hidden_size": 512,
    "num_hidden_layers": 12,
    "num_attention_heads": 8,
    "num_key_value_heads": 4,
    "head_dim": 64,
    "intermediate_size": 2048,
}
"""``qwen3-dense-50m``: half Qwen3-0.6B's width (1,024) and head size (128), 12 layers instead of 28: 47.2 M parameters in the
layers, 1.6 M in the tied embedding."""

MAX_PARAMETERS_50M = 55_000_000
"""The cap for ``qwen3-dense-50m`` (about 50 M, not the small stand-ins' :data:`MAX_PARAMETERS`)."""

SHAPE_25M: dict[str, Any] = {**SHAPE_50M, "num_hidden_layers": 6}
"""``qwen3-dense-25m``: ``qwen3-dense-50m``'s layer, six of them: 23.6 M parameters in the layers, 1.6 M in the embedding.
The realistic shape of ``tools/compare_trl.sh --model dense``: big enough that arithmetic, not framework
overhead, sets a GRPO step's time, small enough that five alternating runs fit in minutes on two cores."""

SHAPE_MOE_25M: dict[str, Any] = {**SHAPE_25M, "num_experts": 8, "num_experts_per_tok": 2, "moe_intermediate_size": 1024}
"""``qwen3-moe-25m``: ``qwen3-dense-25m`` with each MLP made 8 experts of half its width, 2 routed per token, so a
token meets the same MLP arithmetic (2 x 1,024 = 2,048): 25.2 M active parameters of 81.8 M."""

MAX_PARAMETERS_25M = 30_000_000
"""The cap for ``qwen3-dense-25m``."""

MAX_PARAMETERS_MOE_25M = 90_000_000
"""The cap for ``qwen3-moe-25m``: all its experts count, though a token uses two of eight."""

MOE: dict[str, Any] = {
    "num_experts": 8,
    "num_experts_per_tok": 2,
    "moe_intermediate_size": 128,
    "decoder_sparse_step": 1,
    "mlp_only_layers": [],
    "norm_topk_prob": True,
    "output_router_logits": False,
    "router_aux_loss_coef": 0.001,
}


# ----------------------------------------------------------------------------- chat styles

QWEN_TEMPLATE = (
    "{%- set ns = namespace(last_user=-1) %}"
    "{%- for message in messages %}{%- if message['role'] == 'user' %}{%- set ns.last_user = loop.index0 %}{%- endif %}{%- endfor %}"
    "{%- for message in messages %}"
    "{%- if message['role'] == 'assistant' %}"
    "{%- set content = message['content'] %}"
    # Like Qwen3: reasoning of turns before the last user message is dropped.
    "{%- if loop.index0 < ns.last_user and '</think>' in content %}{%- set content = content.split('</think>')[-1].lstrip('\\n') %}{%- endif %}"
    "{{- '<|im_start|>assistant\\n' + content + '<|im_end|>\\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}"
    "{%- if enable_thinking is defined and enable_thinking is false %}{{- '<think>\\n\\n</think>\\n\\n' }}{%- endif %}"
    "{%- endif %}"
)
"""Qwen2.5/Qwen3's shape without tools; no default system message (Qwen3 has none); ``enable_thinking=False`` as Qwen3."""

R1_DISTILL_TEMPLATE = (
    "{%- set ns = namespace(system='') %}"
    "{%- for message in messages %}{%- if message['role'] == 'system' %}{%- set ns.system = message['content'] %}{%- endif %}{%- endfor %}"
    "{{- bos_token + ns.system }}"
    "{%- for message in messages %}"
    "{%- if message['role'] == 'user' %}{{- '<｜User｜>' + message['content'] }}"
    "{%- elif message['role'] == 'assistant' %}"
    "{%- set content = message['content'] %}"
    # Like DeepSeek-R1-Distill: the reasoning of every assistant turn is dropped.
    "{%- if '</think>' in content %}{%- set content = content.split('</think>')[-1] %}{%- endif %}"
    "{{- '<｜Assistant｜>' + content + eos_token }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<｜Assistant｜><think>\\n' }}{%- endif %}"
)
"""DeepSeek-R1-Distill's shape: BOS written by the template, system text bare after it, the think prefill."""


class ChatStyle(NamedTuple):
    """How one model family's tokenizer and generation defaults look.

    (Named tuples rather than dataclasses keep the file loadable with importlib
    from its path, without registering it in ``sys.modules``.)
    """

    specials: tuple[str, ...]
    """Special added tokens, in id order (after the BPE vocabulary)."""
    bos: str | None
    eos: str
    pad: str
    chat_template: str
    tokenizer_class: str
    """What ``tokenizer_config.json`` names, as the family's Hub checkpoints do."""
    add_bos_token: bool
    """Whether the tokenizer's post-processor prepends ``bos`` when ``add_special_tokens=True``."""
    config_bos: str
    """The token ``config.bos_token_id`` names (Qwen3 names ``<|endoftext|>`` though its tokenizer has no BOS)."""
    generation_eos: tuple[str, ...]
    sampling: dict[str, Any]
    """The family's published ``generation_config`` sampling defaults."""
    tokenizer_config: dict[str, Any]
    """Entries of the family's ``tokenizer_config.json`` that its tokenizer class reads on loading."""


STYLES: dict[str, ChatStyle] = {
    "qwen": ChatStyle(
        specials=("<|endoftext|>", "<|im_start|>", "<|im_end|>"),
        bos=None,
        eos="<|im_end|>",
        pad="<|endoftext|>",
        chat_template=QWEN_TEMPLATE,
        tokenizer_class="Qwen2Tokenizer",
        add_bos_token=False,
        config_bos="<|endoftext|>",
        generation_eos=("<|im_end|>", "<|endoftext|>"),
        sampling={"do_sample": True, "temperature": 0.6, "top_k": 20, "top_p": 0.95},
        tokenizer_config={"unk_token": None},  # Qwen2Tokenizer would otherwise make <|endoftext|> the unk token
    ),
    "r1_distill": ChatStyle(
        specials=("<｜end▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>", "<｜begin▁of▁sentence｜>", "<｜▁pad▁｜>"),
        bos="<｜begin▁of▁sentence｜>",
        eos="<｜end▁of▁sentence｜>",
        pad="<｜▁pad▁｜>",
        chat_template=R1_DISTILL_TEMPLATE,
        tokenizer_class="LlamaTokenizerFast",
        add_bos_token=True,
        config_bos="<｜begin▁of▁sentence｜>",
        generation_eos=("<｜end▁of▁sentence｜>",),
        sampling={"do_sample": True, "temperature": 0.6, "top_p": 0.95},
        tokenizer_config={"add_bos_token": True, "add_eos_token": False},
    ),
}


class StandIn(NamedTuple):
    architecture: str
    """``dense`` (``Qwen3ForCausalLM``) or ``moe`` (``Qwen3MoeForCausalLM``)."""
    style: str
    """A key of :data:`STYLES`."""
    shape: Mapping[str, Any] = SHAPE
    """The model's size (:data:`SHAPE`, or one of the larger shapes below it)."""
    max_parameters: int = MAX_PARAMETERS
    """Building refuses a model with more parameters than this."""
    default: bool = True
    """Built when no names are given; False = only when named."""


STANDINS: dict[str, StandIn] = {
    "qwen3-dense": StandIn("dense", "qwen"),
    "qwen3-moe": StandIn("moe", "qwen"),
    "qwen3-dense-think": StandIn("dense", "r1_distill"),
    "qwen3-dense-50m": StandIn("dense", "qwen", SHAPE_50M, MAX_PARAMETERS_50M, default=False),
    "qwen3-dense-25m": StandIn("dense", "qwen", SHAPE_25M, MAX_PARAMETERS_25M, default=False),
    "qwen3-moe-25m": StandIn("moe", "qwen", SHAPE_MOE_25M, MAX_PARAMETERS_MOE_25M, default=False),
}


# ----------------------------------------------------------------------------- tokenizer


def corpus_texts(data_dir: Path = BENCHMARK_DATA) -> Iterator[str]:
    """Each benchmark record as an R1 completion: problem, ``<think>`` solution ``</think>``, ``<answer>`` answer ``</answer>``.

    MATH-500 and AIME have ``problem``/``solution``/``answer``; GSM8K has
    ``question`` and a worked ``answer`` ending in ``#### N``; AMC has ``problem``
    and a numeric ``answer`` only.
    """
    for name in CORPUS_BENCHMARKS:
        with open(data_dir / name / "test.jsonl", encoding="utf-8") as handle:
            for line in handle:
                if not line.strip():
                    continue
                record = json.loads(line)
                problem = record.get("problem") or record["question"]
                answer = record["answer"]
                solution = record.get("solution", "")
                if isinstance(answer, str) and "####" in answer:  # GSM8K: the answer field is the worked solution
                    solution, _, answer = answer.rpartition("####")
                if isinstance(answer, float):
                    answer = format(answer, "g")
                yield f"{problem}\n<think>\n{str(solution).strip()}\n</think>\n<answer>{str(answer).strip()}</answer>"


def train_bpe(data_dir: Path = BENCHMARK_DATA):
    """The shared byte-level BPE (a ``tokenizers.Tokenizer`` with no added tokens), trained deterministically.

    The same files give the same merges; :data:`TEMPLATE_TAGS` are plain text here
    and become added tokens per style.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    core = Tokenizer(models.BPE())
    core.normalizer = normalizers.NFC()
    core.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=BPE_VOCAB,
        min_frequency=BPE_MIN_FREQUENCY,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(list(corpus_texts(data_dir)), trainer=trainer)
    return core


def build_tokenizer(bpe_json: str, style: ChatStyle):
    """The BPE (serialised by :func:`train_bpe`) dressed as one family's ``PreTrainedTokenizerFast``."""
    from tokenizers import AddedToken, Tokenizer
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer.from_str(bpe_json)
    core.add_special_tokens([AddedToken(token, special=True, normalized=False) for token in style.specials])
    core.add_tokens([AddedToken(token, special=False, normalized=False) for token in TEMPLATE_TAGS])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token=style.bos,
        eos_token=style.eos,
        pad_token=style.pad,
        add_bos_token=style.add_bos_token,
        add_eos_token=False,
        clean_up_tokenization_spaces=False,
        model_max_length=MAX_POSITIONS,
    )
    tokenizer.chat_template = style.chat_template
    return tokenizer


def save_tokenizer(tokenizer, folder: Path, style: ChatStyle) -> None:
    """``save_pretrained``, then name the family's tokenizer class as its Hub checkpoints do."""
    tokenizer.save_pretrained(str(folder))
    config_path = folder / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config.update(style.tokenizer_config, tokenizer_class=style.tokenizer_class)
    config_path.write_text(json.dumps(config, indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")


# ----------------------------------------------------------------------------- model


def model_config(architecture: str, tokenizer, style: ChatStyle, shape: Mapping[str, Any] = SHAPE):
    """The Qwen3 (dense or MoE) config for ``tokenizer`` at ``shape``, and the transformers class that builds it."""
    from transformers import Qwen3Config, Qwen3ForCausalLM, Qwen3MoeConfig, Qwen3MoeForCausalLM

    ids = {
        "vocab_size": -(-len(tokenizer) // EMBEDDING_MULTIPLE) * EMBEDDING_MULTIPLE,
        "bos_token_id": tokenizer.convert_tokens_to_ids(style.config_bos),
        "eos_token_id": tokenizer.eos_token_id,
    }
    if architecture == "dense":
        return Qwen3Config(**shape, **ids), Qwen3ForCausalLM
    if architecture == "moe":
        return Qwen3MoeConfig(**{**MOE, **shape}, **ids), Qwen3MoeForCausalLM  # a shape may size the experts
    raise ValueError(f"unknown architecture '{architecture}'; use dense or moe")


def config_parameter_count(config, model_class) -> int:
    """Parameters ``model_class(config)`` would have, counted on the meta device (no weights allocated or initialised)."""
    import torch

    with torch.device("meta"):
        return parameter_count(model_class(config))


def build_model(architecture: str, tokenizer, style: ChatStyle, seed: int, shape: Mapping[str, Any] = SHAPE):
    """A randomly initialised Qwen3 (dense or MoE) for ``tokenizer`` at ``shape``; ``seed`` fixes the weights.

    The global torch RNG is left as it was.
    """
    import torch
    from transformers import GenerationConfig

    vocab = len(tokenizer)
    config, model_class = model_config(architecture, tokenizer, style, shape)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = model_class(config)
    with torch.no_grad():  # rows past the tokenizer: logit 0, below the best real token for any hidden state in practice
        model.get_input_embeddings().weight[vocab:] = 0.0
    eos_ids = [tokenizer.convert_tokens_to_ids(token) for token in style.generation_eos]
    model.generation_config = GenerationConfig(
        bos_token_id=config.bos_token_id,
        eos_token_id=eos_ids if len(eos_ids) > 1 else eos_ids[0],
        pad_token_id=tokenizer.pad_token_id,
        **style.sampling,
    )
    return model.to(torch.float32).eval()


def parameter_count(model) -> int:
    """Distinct parameters (tied embeddings counted once)."""
    return sum(parameter.numel() for parameter in model.parameters())


def saved_parameter_count(folder: Path) -> int:
    """Parameters in a saved folder's safetensors files, read from their headers (tied weights are stored once)."""
    total = 0
    for path in sorted(Path(folder).glob("*.safetensors")):
        with open(path, "rb") as handle:
            header = json.loads(handle.read(int.from_bytes(handle.read(8), "little")))
        for key, entry in header.items():
            if key != "__metadata__":
                total += math.prod(entry["shape"])
    return total


# ----------------------------------------------------------------------------- building


def build_standins(out_dir: Path, names: Sequence[str] | None = None, seed: int = 0) -> dict[str, Path]:
    """Build the named stand-ins (the :data:`STANDINS` built by default when None) under ``out_dir``; returns each one's folder."""
    names = [name for name, spec in STANDINS.items() if spec.default] if names is None else list(names)
    unknown = [name for name in names if name not in STANDINS]
    if unknown:
        raise ValueError(f"unknown stand-in '{unknown[0]}'; choose from: {', '.join(STANDINS)}")
    bpe_json = train_bpe().to_str()
    out_dir = Path(out_dir)
    folders: dict[str, Path] = {}
    for name in names:
        spec = STANDINS[name]
        style = STYLES[spec.style]
        tokenizer = build_tokenizer(bpe_json, style)
        model = build_model(spec.architecture, tokenizer, style, seed, spec.shape)
        count = parameter_count(model)
        if count > spec.max_parameters:
            raise ValueError(f"stand-in '{name}' has {count:,} parameters, over {spec.max_parameters:,}; shrink its shape")
        folder = out_dir / name
        folder.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(str(folder))
        save_tokenizer(tokenizer, folder, style)
        folders[name] = folder
    return folders


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build small offline stand-ins for Hugging Face chat models.")
    parser.add_argument("out_dir", type=Path, help="folder to write one subfolder per stand-in into")
    defaults = [name for name, spec in STANDINS.items() if spec.default]
    parser.add_argument(
        "--only", nargs="+", choices=list(STANDINS), metavar="NAME",
        help=f"build only these ({', '.join(STANDINS)}; default: {', '.join(defaults)})",
    )
    parser.add_argument("--seed", type=int, default=0, help="weights seed (same seed, same weights)")
    args = parser.parse_args(argv)
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # one bar per saved file says nothing here
    start = time.perf_counter()
    folders = build_standins(args.out_dir, args.only, args.seed)
    for name, folder in folders.items():
        print(f"{name}: {folder} ({saved_parameter_count(folder):,} parameters)")
    print(f"built {len(folders)} stand-in(s) in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
