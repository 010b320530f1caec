"""Load a policy and its tokenizer: the tiny built-in model, a local folder or a Hub id.

Every phase calls :func:`load_model` with its ``model`` config node; the rest of
r1 only sees a ``PreTrainedModel`` and a tokenizer.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from safetensors import SafetensorError

from r1.errors import ConfigError, DataError
from r1.models.fast import use_fast_experts
from r1.scale import DTYPES


def load_tokenizer(name_or_path: str | None):
    """The tokenizer at ``name_or_path``, or r1's shipped tokenizer when it is None."""
    from r1.models.tokenizer import load_tiny_tokenizer

    if name_or_path is None:
        return load_tiny_tokenizer()
    from transformers import AutoTokenizer

    check_reachable(name_or_path, "tokenizer")
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

    check_reachable(name_or_path, "model")
    check_model_folder(name_or_path)
    kwargs: dict[str, Any] = {"trust_remote_code": trust_remote_code}
    if dtype != "auto":
        if dtype not in DTYPES:
            raise ConfigError(f"model.dtype '{dtype}' is not one of: auto, {', '.join(DTYPES)}")
        kwargs["dtype"] = DTYPES[dtype]
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    try:
        return AutoModelForCausalLM.from_pretrained(name_or_path, **kwargs)
    except (OSError, ValueError, SafetensorError) as error:
        raise DataError(f"could not load model '{name_or_path}': {_first_line(error)}") from error


def load_model(cfg: Mapping[str, Any]):
    """Build or load the model a ``model`` config node describes; returns ``(model, tokenizer)``.

    ``name_or_path: null`` builds ``architecture`` (a ``_target_`` node, e.g. the tiny MoE)
    with the vocabulary of the tokenizer; anything else is loaded with transformers.
    """
    from r1.models.lora import adapter_base, is_adapter_folder, load_adapter_folder

    name_or_path = cfg.get("name_or_path")
    if name_or_path:
        check_model_folder(str(name_or_path))  # before the tokenizer: a broken model folder is named as such
    tokenizer = load_tokenizer(cfg.get("tokenizer") or cfg.get("name_or_path"))
    if name_or_path:
        adapter = str(name_or_path) if is_adapter_folder(str(name_or_path)) else None
        model = load_pretrained(
            adapter_base(adapter) if adapter else str(name_or_path),
            dtype=cfg.get("dtype", "auto"),
            attn_implementation=cfg.get("attn_implementation"),
            trust_remote_code=bool(cfg.get("trust_remote_code", False)),
        )
        if adapter:  # a LoRA run exported without merging: its base model, the adapter merged in
            model = load_adapter_folder(model, adapter)
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


def check_model_folder(name_or_path: str) -> None:
    """A one-line :class:`DataError` when a local ``name_or_path`` is a file, or a model folder that is not whole."""
    local = Path(name_or_path).expanduser()
    if local.is_file():
        raise DataError(f"model.name_or_path '{name_or_path}' is a file; give the folder that holds config.json and the weights (e.g. {local.parent})")
    if local.is_dir() and (problem := hf_folder_problem(local)) is not None:
        raise DataError(f"model '{name_or_path}' cannot be loaded: {problem}; save the model again or give another folder")


def check_reachable(name_or_path: str, what: str) -> None:
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


# ----------------------------------------------------------------------------- checking a saved folder

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".h5", ".msgpack")
"""Files of a Hugging Face folder that hold weights (safetensors, torch, TensorFlow, Flax)."""

SAFETENSORS_HEADER_BYTES = 8
"""A safetensors file starts with its header's length as a little-endian u64."""

FINGERPRINT_READ_LIMIT = 1 << 20
"""Files up to this size are hashed whole in :func:`weights_fingerprint`; larger ones by size, time and header."""


def hf_folder_problem(folder: str | Path) -> str | None:
    """What is wrong with a saved Hugging Face model folder, or None when it is whole. Reads no tensor.

    ``config.json`` must parse; a sharded model's index must name shards that exist; every
    safetensors file must be exactly as long as its header says (a truncated copy is
    shorter); other weight files (older formats, which carry no length to check) must at
    least not be empty.
    """
    import json

    from r1.models.lora import ADAPTER_CONFIG, is_adapter_folder

    folder = Path(folder)
    if is_adapter_folder(folder):  # a LoRA adapter alone (model.lora.merge_on_export=false): its own config, its weights
        try:
            json.loads((folder / ADAPTER_CONFIG).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            return f"its {ADAPTER_CONFIG} does not parse ({_first_line(error)})"
    else:
        try:
            json.loads((folder / "config.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            return f"{folder} has no config.json"
        except (OSError, ValueError) as error:
            return f"its config.json does not parse ({_first_line(error)})"
    for index in folder.glob("*.index.json"):
        try:
            shards = set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values())
        except (OSError, ValueError, KeyError, AttributeError) as error:
            return f"its {index.name} does not parse ({_first_line(error)})"
        missing = sorted(name for name in shards if not (folder / name).is_file())
        if missing:
            return f"{index.name} names {missing[0]}, which is missing"
    weights = sorted(path for path in folder.iterdir() if path.suffix in WEIGHT_SUFFIXES and path.is_file())
    if not weights:
        return f"{folder} holds no weights (*.safetensors, pytorch_model.bin, ...)"
    for path in weights:
        if path.suffix == ".safetensors":
            problem = safetensors_problem(path)
        else:
            problem = "is empty" if path.stat().st_size == 0 else None
        if problem is not None:
            return f"{path.name} {problem}"
    return None


def safetensors_problem(path: Path) -> str | None:
    """Why a ``.safetensors`` file is not whole (truncated, or no safetensors file), or None."""
    import json

    size = path.stat().st_size
    try:
        with open(path, "rb") as handle:
            length = int.from_bytes(handle.read(SAFETENSORS_HEADER_BYTES), "little")
            if size < SAFETENSORS_HEADER_BYTES or length > size - SAFETENSORS_HEADER_BYTES:
                return f"is cut off ({size} bytes, shorter than its own header)"
            header = json.loads(handle.read(length))
        end = max((int(entry["data_offsets"][1]) for key, entry in header.items() if key != "__metadata__"), default=0)
    except (OSError, ValueError, KeyError, TypeError, IndexError) as error:
        return f"is not a safetensors file ({_first_line(error)})"
    expected = SAFETENSORS_HEADER_BYTES + length + end
    if size != expected:
        return f"is cut off ({size} of its {expected} bytes)" if size < expected else f"has {size - expected} bytes more than its header describes"
    return None


def weights_fingerprint(name_or_path: str | None) -> dict[str, Any] | None:
    """What identifies the weights at a local model folder, so that new weights under the same path are told apart.

    For each file of the folder: its size and modification time, and for files up to
    :data:`FINGERPRINT_READ_LIMIT` (config, tokenizer, index) a hash of the contents; for
    larger safetensors files also a hash of their header (names, shapes and offsets of the
    tensors). Saving new weights changes the time (and usually more), copying a folder
    without keeping times changes it too (a safe miss: a new run, never a mix). None for a
    Hub id or an unset path (the config names those fully).
    """
    import hashlib

    if not name_or_path:
        return None
    folder = Path(str(name_or_path)).expanduser()
    if not folder.is_dir():
        return None
    files: dict[str, Any] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
        stat = path.stat()
        entry: dict[str, Any] = {"bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns}
        if stat.st_size <= FINGERPRINT_READ_LIMIT:
            entry["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
        elif path.suffix == ".safetensors":
            with open(path, "rb") as handle:
                length = int.from_bytes(handle.read(SAFETENSORS_HEADER_BYTES), "little")
                entry["header_sha256"] = hashlib.sha256(handle.read(min(length, stat.st_size))).hexdigest()
        files[str(path.relative_to(folder))] = entry
    return files
