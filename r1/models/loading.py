"""Load a policy and its tokenizer: the tiny built-in model, a local folder or a Hub id.

Every phase calls :func:`load_model` with its ``model`` config node; the rest of
r1 only sees a ``PreTrainedModel`` and a tokenizer.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from r1.errors import ConfigError, DataError
from r1.models.fast import use_fast_experts
from r1.scale import DTYPES


def load_tokenizer(name_or_path: str | None):
    """The tokenizer at ``name_or_path``, or r1's shipped tokenizer when it is None."""
    from r1.models.tokenizer import load_tiny_tokenizer

    if name_or_path is None:
        return load_tiny_tokenizer()
    from transformers import AutoTokenizer

    _check_reachable(name_or_path, "tokenizer")
    try:
        tokenizer = AutoTokenizer.from_pretrained(name_or_path)
    except (OSError, ValueError) as error:
        raise DataError(f"could not load tokenizer '{name_or_path}': {_first_line(error)}") from error
    if tokenizer.pad_token is None:
        # Batched generation and padding need a pad token; many base models ship none.
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_pretrained(name_or_path: str, dtype: str = "auto", attn_implementation: str | None = None, trust_remote_code: bool = False):
    """``AutoModelForCausalLM.from_pretrained`` with one-line errors for the usual mistakes."""
    from transformers import AutoModelForCausalLM

    _check_reachable(name_or_path, "model")
    kwargs: dict[str, Any] = {"trust_remote_code": trust_remote_code}
    if dtype != "auto":
        if dtype not in DTYPES:
            raise ConfigError(f"model.dtype '{dtype}' is not one of: auto, {', '.join(DTYPES)}")
        kwargs["dtype"] = DTYPES[dtype]
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    try:
        return AutoModelForCausalLM.from_pretrained(name_or_path, **kwargs)
    except (OSError, ValueError) as error:
        raise DataError(f"could not load model '{name_or_path}': {_first_line(error)}") from error


def load_model(cfg: Mapping[str, Any]):
    """Build or load the model a ``model`` config node describes; returns ``(model, tokenizer)``.

    ``name_or_path: null`` builds ``architecture`` (a ``_target_`` node, e.g. the tiny MoE)
    with the vocabulary of the tokenizer; anything else is loaded with transformers.
    """
    tokenizer = load_tokenizer(cfg.get("tokenizer") or cfg.get("name_or_path"))
    name_or_path = cfg.get("name_or_path")
    if name_or_path:
        model = load_pretrained(
            str(name_or_path),
            dtype=cfg.get("dtype", "auto"),
            attn_implementation=cfg.get("attn_implementation"),
            trust_remote_code=bool(cfg.get("trust_remote_code", False)),
        )
    else:
        architecture = cfg.get("architecture")
        if not architecture or "_target_" not in architecture:
            raise ConfigError("model.name_or_path is null and model.architecture has no _target_; set one of them (e.g. model=tiny_moe)")
        from hydra.utils import instantiate

        model = instantiate(
            architecture,
            vocab_size=len(tokenizer),
            pad_token_id=tokenizer.pad_token_id,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
        dtype = cfg.get("dtype", "float32")
        if dtype not in ("auto", "float32"):
            model = model.to(DTYPES[dtype])
    if getattr(model.generation_config, "pad_token_id", None) is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return use_fast_experts(model), tokenizer


def _check_reachable(name_or_path: str, what: str) -> None:
    """Fail early, in one line, on a local path that does not exist.

    Something that looks like a path (starts with ``.``, ``/``, ``~`` or has more than one
    ``/``) must exist; ``org/name`` is treated as a Hub id and left to transformers.
    """
    looks_local = name_or_path.startswith((".", "/", "~")) or name_or_path.count("/") > 1 or os.sep == "\\" and "\\" in name_or_path
    if looks_local and not Path(name_or_path).expanduser().exists():
        raise DataError(f"{what} path '{name_or_path}' does not exist; give a saved Hugging Face folder (e.g. outputs/sft/.../hf) or a Hub id")


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
