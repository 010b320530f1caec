"""r1-vllm: the ``vllm`` rollout sampler for r1, as a separately installed plugin."""

__version__ = "0.1.0"
