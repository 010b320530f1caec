"""Scaling out: the ``trainer`` group's strategies, from one CPU to a GPU cluster.

Every ``trainer=`` option is a mapping of ``lightning.Trainer`` keyword arguments.
``strategy`` is either a Lightning strategy name (``auto``, ``ddp_...``,
``deepspeed_stage_2``) or a mapping ``{name: fsdp, ...}`` with FSDP's options. FSDP
cannot be named by a string alone: its wrapping and activation-checkpointing unit is the
model's decoder-layer class, known only once the model is built, so
:func:`build_strategy` takes the model and finds the class in it.

Why a subclass of Lightning's ``FSDPStrategy``: Lightning wraps the whole
LightningModule in one root FSDP unit and runs ``training_step`` inside that unit's
forward. r1's RL phases optimise manually, so their backward passes run *inside* the
root's forward, and FSDP's end-of-backward callback (queued only by the root's own
outputs) never runs: sharded gradients then silently accumulate across steps despite
``zero_grad``, and the units stay marked as mid-backward, so their weights cannot be
gathered for generation. :class:`ModelShardedFSDPStrategy` instead makes each model
inside the module (the policy, its frozen reference, a teacher) an FSDP root of its own,
the ordinary FSDP usage in which every forward/backward finalises itself.
"""

from __future__ import annotations

import importlib.util
import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

import torch
from torch import nn

from r1.errors import ConfigError
from r1.settings import to_plain

log = logging.getLogger(__name__)

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
"""The floating-point types a config may name, by name: the one table (model loading reads it too)."""
SHARDING = ("FULL_SHARD", "SHARD_GRAD_OP", "NO_SHARD", "HYBRID_SHARD")
# The dtype FSDP gathers weights in, by the trainer's `precision` (absent: fp32).
PARAM_DTYPES = {"bf16-mixed": "bfloat16", "bf16-true": "bfloat16", "16-mixed": "float16", "16-true": "float16"}
Models = nn.Module | Sequence[nn.Module]
# float16 autocast needs a gradient scaler, which Lightning runs on CUDA only; CPUs take fp32 or bf16.
CUDA_ONLY_PRECISIONS = ("16-mixed", "16", "16-true", "half")


def _as_list(models: Models | None) -> list[nn.Module]:
    if models is None:
        return []
    return [models] if isinstance(models, nn.Module) else list(models)


# ----- which modules are the transformer blocks ------------------------------------------------


def decoder_layer_classes(models: Models) -> set[type[nn.Module]]:
    """The classes of the repeated transformer blocks: FSDP's wrapping and checkpointing unit.

    Read from ``model._no_split_modules``, the block names transformers declares for each
    architecture (``DeepseekV3DecoderLayer``, ``Qwen3MoeDecoderLayer``, ``LlamaDecoderLayer``,
    ...), resolved to the classes present in the model, so every family works without a
    table to keep. A model without that attribute falls back to the class of the blocks
    in ``model.model.layers``.

    Raises:
        ConfigError: no block class was found (the model is not a decoder stack).
    """
    found: set[type[nn.Module]] = set()
    for model in _as_list(models):
        names = set(getattr(model, "_no_split_modules", None) or ())
        present = {type(m) for m in model.modules() if type(m).__name__ in names}
        found |= present or _repeated_block_class(model)
    if not found:
        kinds = ", ".join(type(m).__name__ for m in _as_list(models))
        raise ConfigError(f"could not find the decoder-layer class of {kinds} for FSDP; it declares no _no_split_modules and has no model.layers")
    return found


def _repeated_block_class(model: nn.Module) -> set[type[nn.Module]]:
    """The one class of the blocks in ``model.model.layers`` (or ``model.layers``), if any."""
    for path in ("model.layers", "layers"):
        layers: Any = model
        for part in path.split("."):
            layers = getattr(layers, part, None)
        if isinstance(layers, nn.ModuleList) and len(layers):
            classes = {type(unwrap(layer)) for layer in layers}
            if len(classes) == 1:
                return classes
    return set()


# ----- the strategy a trainer option describes -------------------------------------------------


def build_strategy(trainer_cfg: Mapping[str, Any], model: Models | None = None):
    """The ``strategy`` argument of ``lightning.Trainer`` for a ``trainer`` config node.

    A string is returned as it is (Lightning resolves it) once what it needs is known to
    be installed; ``{name: fsdp, ...}`` becomes a :class:`ModelShardedFSDPStrategy` for
    ``model``. The accelerator is checked too, so a missing GPU or package is one line.

    Args:
        trainer_cfg: the ``trainer`` node (``cfg.trainer``), a DictConfig or a plain dict.
        model: the built model(s) to shard: the policy; for distillation [student, teacher].

    Raises:
        ConfigError: an unknown strategy, a missing package, or no GPU for a GPU option.
    """
    options = dict(to_plain(trainer_cfg) or {})
    strategy = options.get("strategy", "auto")
    if isinstance(strategy, str) and strategy.startswith("deepspeed") and importlib.util.find_spec("deepspeed") is None:
        raise ConfigError(f"trainer strategy '{strategy}' needs DeepSpeed, which is not installed: pip install deepspeed")
    check_accelerator(options)
    if isinstance(strategy, str):
        return strategy
    if not isinstance(strategy, Mapping) or "name" not in strategy:
        raise ConfigError(f"trainer.strategy must be a Lightning strategy name or a mapping with a 'name' key; got {strategy!r}")
    strategy = dict(strategy)
    name = strategy.pop("name")
    if name != "fsdp":
        raise ConfigError(f"unknown trainer.strategy.name '{name}'; choose: fsdp (or give a Lightning strategy name as a string)")
    return fsdp_strategy(model, precision=options.get("precision"), **strategy)


def check_accelerator(trainer_options: Mapping[str, Any]) -> None:
    """Fail in one line when the option asks for a GPU this machine does not have, or a precision its CPU cannot train in."""
    accelerator = str(trainer_options.get("accelerator", "auto"))
    if accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        raise ConfigError(f"trainer.accelerator={accelerator} needs a CUDA GPU, and torch sees none; use trainer=cpu (or trainer=ddp for CPU processes)")
    on_cpu = accelerator == "cpu" or (accelerator == "auto" and not torch.cuda.is_available())
    precision = str(trainer_options.get("precision", "32-true"))
    if on_cpu and precision in CUDA_ONLY_PRECISIONS:
        raise ConfigError(
            f"trainer.precision={precision} (float16 with loss scaling) needs a CUDA GPU; on CPU use 32-true, bf16-mixed or bf16-true"
        )


def fsdp_strategy(
    model: Models | None,
    sharding_strategy: str = "FULL_SHARD",
    cpu_offload: bool = False,
    activation_checkpointing: bool = True,
    state_dict_type: str = "sharded",
    mixed_precision: Mapping[str, str] | None = None,
    precision: str | None = None,
    **fsdp_kwargs: Any,
):
    """An FSDP strategy that shards ``model`` per decoder layer (``conf/trainer/fsdp.yaml`` documents each option).

    Args:
        model: the model(s) to shard, each becoming an FSDP root with its decoder layers
            as units; ``None`` falls back to Lightning's behaviour (one unit for the whole
            LightningModule), with a warning, and is not fit for manual optimisation.
        sharding_strategy: ``FULL_SHARD`` (ZeRO-3), ``SHARD_GRAD_OP`` (ZeRO-2), ``NO_SHARD``, ``HYBRID_SHARD``.
        cpu_offload: keep sharded parameters in CPU memory between uses.
        activation_checkpointing: recompute each decoder layer's activations in backward
            (forward passes must then use ``use_cache=False``, or the KV cache grows again
            during recomputation).
        state_dict_type: ``sharded`` (each rank writes its shard) or ``full`` (gathered on rank 0).
        mixed_precision: FSDP's ``reduce_dtype``/``buffer_dtype`` (and ``param_dtype``) by name;
            ``param_dtype`` defaults to the one ``precision`` implies. ``None`` keeps
            Lightning's choice (everything in the precision's dtype, RoPE buffers too).
        precision: the trainer's ``precision`` (``bf16-mixed`` → weights gathered in bf16;
            ``32-true`` → fp32), so the dtype is stated once in YAML.
        fsdp_kwargs: passed on to ``FullyShardedDataParallel`` (e.g. ``limit_all_gathers``).
    """
    if state_dict_type not in ("sharded", "full"):
        raise ConfigError(f"trainer.strategy.state_dict_type '{state_dict_type}' is not one of: sharded, full")
    sharding = str(sharding_strategy).upper()
    if sharding not in SHARDING:
        raise ConfigError(f"trainer.strategy.sharding_strategy '{sharding_strategy}' is not one of: {', '.join(SHARDING)}")
    kwargs: dict[str, Any] = dict(fsdp_kwargs)
    models = _as_list(model)
    if models:
        layers = decoder_layer_classes(models)
        kwargs["auto_wrap_policy"] = set(layers)
        if activation_checkpointing:
            kwargs["activation_checkpointing_policy"] = set(layers)
    else:
        log.warning("FSDP without the model: the whole LightningModule becomes one FSDP unit; pass model= to build_trainer")
    if mixed_precision:
        dtypes = dict(mixed_precision)
        dtypes.setdefault("param_dtype", PARAM_DTYPES.get(str(precision)))
        kwargs["mixed_precision"] = _mixed_precision(dtypes)
    return ModelShardedFSDPStrategy(
        model_classes={type(unwrap(m)) for m in models},
        sharding_strategy=sharding,
        cpu_offload=bool(cpu_offload),
        state_dict_type=state_dict_type,
        **kwargs,
    )


def _strategy_base() -> type:
    from lightning.pytorch.strategies import FSDPStrategy

    return FSDPStrategy


class ModelShardedFSDPStrategy(_strategy_base()):  # type: ignore[misc]
    """Lightning's ``FSDPStrategy``, with each model in the LightningModule as its own FSDP root.

    The module docstring says why. Everything else (process groups, precision, sharded
    checkpoints, which work on any module tree holding FSDP units) is Lightning's.
    The LightningModule itself stays unwrapped, so ``training_step`` is called directly.

    Args:
        model_classes: classes of the modules to shard (the policy's class, the teacher's);
            empty = Lightning's own wrapping.
        kwargs: ``FSDPStrategy``'s arguments.
    """

    def __init__(self, model_classes: set[type[nn.Module]] = frozenset(), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model_classes = set(model_classes)

    def _setup_model(self, model: nn.Module) -> nn.Module:
        if not self.model_classes:
            return super()._setup_model(model)
        shard_models(
            model, self.model_classes, device=self.root_device,
            checkpoint_policy=self._activation_checkpointing_kwargs.get("auto_wrap_policy"),
            cpu_offload=self.cpu_offload, mixed_precision=self.mixed_precision_config,
            sharding_strategy=self.sharding_strategy, **self.kwargs,
        )
        return model


def shard_models(module: nn.Module, model_classes: set[type[nn.Module]], device: torch.device, checkpoint_policy: Any = None, **fsdp_kwargs: Any) -> list[nn.Module]:
    """Make each outermost module of ``model_classes`` inside ``module`` an FSDP root, in place.

    Args:
        module: the LightningModule (or any container) holding the models.
        model_classes: which modules become roots (the policy's class, a teacher's).
        device: where the shards live (``cuda:<local rank>``, or ``cpu`` with gloo for tests).
        checkpoint_policy: an FSDP wrap policy picking the modules to checkpoint, or None.
        fsdp_kwargs: ``FullyShardedDataParallel`` arguments (``auto_wrap_policy``, ``sharding_strategy``, ...).

    Returns:
        The new FSDP roots.
    """
    from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import apply_activation_checkpointing, checkpoint_wrapper
    from torch.distributed.fsdp import FullyShardedDataParallel

    slots = _slots_of(module, tuple(model_classes))
    if not slots:
        raise ConfigError(f"none of {sorted(c.__name__ for c in model_classes)} is inside {type(module).__name__}; FSDP has nothing to shard")
    roots = []
    for parent, name, child in slots:
        roots.append(FullyShardedDataParallel(child, device_id=device, **fsdp_kwargs))
        setattr(parent, name, roots[-1])
    if checkpoint_policy is not None:
        apply_activation_checkpointing(module, checkpoint_wrapper_fn=checkpoint_wrapper, auto_wrap_policy=checkpoint_policy)
    return roots


def _slots_of(model: nn.Module, classes: tuple[type[nn.Module], ...]) -> list[tuple[nn.Module, str, nn.Module]]:
    """``(parent, attribute, child)`` for each outermost module of ``classes`` under ``model``."""
    slots, stack = [], [model]
    while stack:
        parent = stack.pop()
        for name, child in parent.named_children():
            if isinstance(child, classes):
                slots.append((parent, name, child))
            else:
                stack.append(child)
    return slots


def _mixed_precision(dtypes: Mapping[str, str]):
    from torch.distributed.fsdp import MixedPrecision

    unknown = set(dtypes) - {"param_dtype", "reduce_dtype", "buffer_dtype"}
    if unknown:
        raise ConfigError(f"trainer.strategy.mixed_precision has unknown keys {sorted(unknown)}; use param_dtype, reduce_dtype, buffer_dtype")
    try:
        return MixedPrecision(**{key: DTYPES[str(value)] for key, value in dtypes.items() if value is not None})
    except KeyError as error:
        raise ConfigError(f"trainer.strategy.mixed_precision dtype {error} is not one of: {', '.join(DTYPES)}") from None


# ----- working with sharded models -------------------------------------------------------------


def _wrapper_classes() -> tuple[type[nn.Module], ...]:
    """(FSDP, activation-checkpoint wrapper); empty when torch has no distributed support."""
    if not torch.distributed.is_available():
        return ()
    from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import CheckpointWrapper
    from torch.distributed.fsdp import FullyShardedDataParallel

    return (FullyShardedDataParallel, CheckpointWrapper)


def unwrap(module: nn.Module) -> nn.Module:
    """The module inside any FSDP / activation-checkpoint wrappers around ``module``."""
    wrappers = _wrapper_classes()
    while wrappers and isinstance(module, wrappers):
        module = module._fsdp_wrapped_module if isinstance(module, wrappers[0]) else module._checkpoint_wrapped_module
    return module


def peft_inner(model: nn.Module) -> nn.Module:
    """The transformers model inside a peft (LoRA) wrapper (its ``get_base_model()``); any other module unchanged.

    Its class decides what ``forward`` takes and which flags apply; the wrapper passes keywords through.
    """
    get_base_model = getattr(model, "get_base_model", None)
    return get_base_model() if callable(get_base_model) else model


def fsdp_units(module: nn.Module) -> list[nn.Module]:
    """The FSDP units in ``module`` (itself included), outermost first."""
    wrappers = _wrapper_classes()
    return [m for m in module.modules() if isinstance(m, wrappers[0])] if wrappers else []


def recomputes_activations(model: nn.Module) -> bool:
    """Whether backward re-runs some of ``model``'s layers (activation checkpointing, FSDP's or transformers')."""
    # transformers >= 5.x names the flag is_activation_checkpointing (the old name still warns);
    # a peft (LoRA) model carries the flag on the transformers model inside it
    inner = peft_inner(model)
    flag = "is_activation_checkpointing" if hasattr(type(inner), "is_activation_checkpointing") else "is_gradient_checkpointing"
    if getattr(inner, flag, False):
        return True
    wrappers = _wrapper_classes()
    return bool(wrappers) and any(isinstance(m, wrappers[1]) for m in model.modules())


def is_sharded(units: Sequence[nn.Module]) -> bool:
    """Whether any unit keeps only a shard of its weights (FSDP picks NO_SHARD on one rank)."""
    from torch.distributed.fsdp import ShardingStrategy

    return any(getattr(unit, "sharding_strategy", ShardingStrategy.NO_SHARD) != ShardingStrategy.NO_SHARD for unit in units)


@contextmanager
def generation_context(model: nn.Module, strategy: Any = None) -> Iterator[nn.Module]:
    """The model to generate with: plain modules holding full weights, for the duration of the block.

    Samplers call the model token by token with a KV cache. Under FSDP each call would
    gather every layer again, and FSDP forbids starting a forward inside
    ``summon_full_params``. So when the weights are sharded this gathers them once
    (``summon_full_params(writeback=False)``: one full copy of the model per GPU while the
    block lasts) and yields the model with its FSDP and checkpoint wrappers swapped out
    for the modules they wrap, put back on exit: generation is then ordinary PyTorch.
    Unsharded FSDP (one GPU) needs only the unwrapping; other strategies get ``model`` as
    it is. Every rank must enter together (gathering is a collective). Inside the block,
    ``save_pretrained`` writes full weights with their usual names.

    Args:
        model: the model as the LightningModule holds it (an FSDP root, or plain).
        strategy: the trainer's strategy, to catch a model left inside Lightning's own root unit.
    """
    units = fsdp_units(model)
    if not units:
        root = getattr(strategy, "model", None)
        if root is not None and is_sharded(fsdp_units(root)):
            raise RuntimeError("generation needs the policy's full weights, but Lightning's root FSDP unit holds them; build the strategy with the model (build_trainer(cfg, model=...))")
        yield model
        return
    with ExitStack() as stack:
        if is_sharded(units):
            from torch.distributed.fsdp import FullyShardedDataParallel

            stack.enter_context(FullyShardedDataParallel.summon_full_params(model, recurse=True, writeback=False))
        yield stack.enter_context(_without_wrappers(model))


@contextmanager
def _without_wrappers(model: nn.Module) -> Iterator[nn.Module]:
    """Temporarily replace every wrapper inside ``model`` by the module it wraps."""
    wrappers = _wrapper_classes()
    inner = unwrap(model)
    swaps = [
        (parent, name, child)
        for parent in inner.modules()
        if not isinstance(parent, wrappers)
        for name, child in parent.named_children()
        if isinstance(child, wrappers)
    ]
    try:
        for parent, name, child in swaps:
            setattr(parent, name, unwrap(child))
        yield inner
    finally:
        for parent, name, child in reversed(swaps):
            setattr(parent, name, child)


def outermost_units(module: nn.Module) -> list[nn.Module]:
    """The FSDP roots in ``module``: units not inside another unit."""
    wrappers = _wrapper_classes()
    if not wrappers:
        return []
    return [module] if isinstance(module, wrappers[0]) else [child for _, _, child in _slots_of(module, wrappers[:1])]


def clip_gradients(module: Any, optimizer: Any, max_norm: float) -> float | None:
    """Clip gradients by their global norm; returns the norm before clipping when it is known.

    Under FSDP each rank holds a shard of every gradient, so the norm needs a collective:
    ``FullyShardedDataParallel.clip_grad_norm_`` on each root (Lightning refuses norm
    clipping under FSDP). Without FSDP it is ``torch.nn.utils.clip_grad_norm_`` over the
    optimizer's parameters, or Lightning's ``module.clip_gradients`` under fp16 loss scaling,
    which must unscale the gradients first (Lightning refuses fused optimizers there).

    Args:
        module: the LightningModule (or any module) holding the trained model(s).
        optimizer: the optimizer whose parameters are clipped without FSDP (None: all of ``module``'s).
        max_norm: the largest allowed global norm.
    """
    trained = [root for root in outermost_units(module) if any(p.requires_grad for p in root.parameters())]
    if not trained:
        trainer = getattr(module, "_trainer", None)
        if getattr(getattr(trainer, "precision_plugin", None), "scaler", None) is not None:
            # fp16 loss scaling: Lightning unscales the gradients before clipping them
            try:
                module.clip_gradients(optimizer, gradient_clip_val=max_norm, gradient_clip_algorithm="norm")
            except RuntimeError as error:
                if "fused" not in str(error):
                    raise
                raise ConfigError("gradient clipping under 16-mixed precision needs an optimizer that unscales outside its step: set phase.optimizer.fused=false (or phase.max_grad_norm=null)") from None
            return None
        params = module.parameters() if optimizer is None else (p for group in optimizer.param_groups for p in group["params"])
        return float(torch.nn.utils.clip_grad_norm_([p for p in params if p.grad is not None], max_norm))
    if len(trained) == 1:
        return float(trained[0].clip_grad_norm_(max_norm))
    norms = torch.stack([root.clip_grad_norm_(math.inf).float() for root in trained])  # measures only
    total = float(norms.norm())
    scale = max_norm / (total + 1e-6)
    if scale < 1.0:
        for root in trained:
            for p in root.parameters():
                if p.grad is not None:
                    p.grad.mul_(scale)
    return total
