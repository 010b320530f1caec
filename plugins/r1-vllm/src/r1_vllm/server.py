"""Server mode: a vLLM engine in another process (or on other GPUs, another machine), fed weights over the wire.

Start the engine first, then point training at it::

    python -m r1_vllm.server --host 127.0.0.1 --port 8123     # the engine's process
    python -m r1.run phase=grpo sampler=vllm sampler.mode=server sampler.server=127.0.0.1:8123

The server starts with no model. The trainer's first rollout sends the policy's Hugging
Face folder (config, tokenizer, weights) and the engine options; the server builds its
engine from them. After each policy update the trainer sends the new weights as
safetensors bytes, and the engine reloads them in place. So the engine always samples
from the policy being trained, as in colocated mode, at the cost of one weight transfer
per rollout. One trainer at a time; a new trainer's folder replaces the engine.

The wire is :mod:`multiprocessing.connection` (length-prefixed messages on a TCP socket,
with an HMAC handshake on a shared key, ``R1_VLLM_KEY`` in both processes' environment).
Messages are pickled, so the key is what keeps a stranger from sending code: bind to
loopback (the default) or a private network, and set your own key.
"""

from __future__ import annotations

import argparse
import os
import pickle
import shutil
import sys
import tempfile
from collections.abc import Sequence
from multiprocessing.connection import Client, Connection, Listener
from pathlib import Path
from typing import Any

import torch

from r1.errors import ConfigError
from r1_vllm.rollout import Completion
from r1_vllm.weights import weights_from_bytes, weights_to_bytes

KEY_VARIABLE = "R1_VLLM_KEY"
DEFAULT_KEY = "r1-vllm-local"
"""The handshake key when ``R1_VLLM_KEY`` is unset: enough on loopback, not beyond it."""


def server_key() -> bytes:
    """The shared handshake key, from the environment."""
    return os.environ.get(KEY_VARIABLE, DEFAULT_KEY).encode()


def parse_address(address: str) -> tuple[str, int]:
    """``"host:port"`` as a socket address; a malformed one is a ``ValueError`` naming the form."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"a server address is host:port (e.g. 127.0.0.1:8123), not {address!r}")
    return host, int(port)


def folder_files(folder: str) -> dict[str, bytes]:
    """Every file of a saved model folder (flat, as ``save_pretrained`` writes), by name."""
    return {path.name: path.read_bytes() for path in Path(folder).iterdir() if path.is_file()}


def _send(conn: Connection, message: Any) -> None:
    # plain pickle: torch registers shared-memory reductions with multiprocessing's own pickler,
    # which cannot cross to an unrelated process; tensors travel as safetensors bytes anyway
    conn.send_bytes(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))


def _receive(conn: Connection) -> Any:
    return pickle.loads(conn.recv_bytes())


class RemoteEngine:
    """The engine interface of :class:`r1_vllm.engine.LocalEngine`, served by :func:`serve` elsewhere.

    Args:
        address: the server's ``host:port``.
        folder: the policy's saved folder, sent once to build the server's engine.
        options, in_process, kv_cache_gib, cpu_kv_cache_gib: the engine's construction arguments, as for a local one.
    """

    def __init__(
        self, address: str, folder: str, options: dict[str, Any], in_process: bool, kv_cache_gib: float | None, cpu_kv_cache_gib: float
    ) -> None:
        host, port = parse_address(address)
        try:
            self.conn = Client((host, port), authkey=server_key())
        except ConnectionRefusedError:
            raise ConfigError(
                f"no vLLM server at {address}: start one with `python -m r1_vllm.server --host {host} --port {port}`, "
                "or use sampler.mode=colocate"
            ) from None
        self._call("init", {"files": folder_files(folder), "options": options, "in_process": in_process, "kv_cache_gib": kv_cache_gib,
            "cpu_kv_cache_gib": cpu_kv_cache_gib,
        })

    def _call(self, command: str, payload: Any) -> Any:
        _send(self.conn, (command, payload))
        status, result = _receive(self.conn)
        if status != "ok":
            raise RuntimeError(f"the vLLM server failed on {command}: {result}")
        return result

    def generate(self, prompt_ids: Sequence[Sequence[int]], params: dict[str, Any]) -> list[list[Completion]]:
        return self._call("generate", {"prompt_ids": [list(p) for p in prompt_ids], "params": params})

    def load_weights(self, weights: list[tuple[str, torch.Tensor]]) -> int:
        return self._call("load_weights", weights_to_bytes(weights))

    def score(self, prompt_ids: Sequence[Sequence[int]], completion_ids: Sequence[Sequence[int]]) -> list[list[float]]:
        return self._call("score", {"prompt_ids": [list(p) for p in prompt_ids], "completion_ids": [list(c) for c in completion_ids]})

    def close(self) -> None:
        try:
            _send(self.conn, ("bye", None))
        finally:
            self.conn.close()


class _Session:
    """What the server holds for its trainer: the model folder and the engine built from it."""

    def __init__(self) -> None:
        self.folder: str | None = None
        self.engine: Any = None

    def handle(self, command: str, payload: Any) -> Any:
        if command == "init":
            self.reset()
            self.folder = tempfile.mkdtemp(prefix="r1-vllm-server-")
            for name, data in payload["files"].items():
                Path(self.folder, Path(name).name).write_bytes(data)
            from r1_vllm.engine import LocalEngine

            self.engine = LocalEngine(self.folder, payload["options"], payload["in_process"], payload["kv_cache_gib"], payload["cpu_kv_cache_gib"])
            return "ready"
        if self.engine is None:
            raise RuntimeError(f"{command} before init: the trainer sends its model first")
        if command == "generate":
            return self.engine.generate(payload["prompt_ids"], payload["params"])
        if command == "load_weights":
            return self.engine.load_weights(weights_from_bytes(payload))
        if command == "score":
            return self.engine.score(payload["prompt_ids"], payload["completion_ids"])
        raise RuntimeError(f"unknown command {command!r}")

    def reset(self) -> None:
        if self.engine is not None:
            self.engine.close()
            self.engine = None
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None


def serve(host: str, port: int, max_sessions: int | None = None) -> None:
    """Serve trainers one after another, forever (or for ``max_sessions`` connections)."""
    if os.environ.get(KEY_VARIABLE) is None and host not in ("127.0.0.1", "localhost", "::1"):
        sys.exit(f"r1_vllm.server: set {KEY_VARIABLE} (the same in the trainer's environment) before listening on {host}")
    session = _Session()
    served = 0
    with Listener((host, port), authkey=server_key()) as listener:
        print(f"r1_vllm.server: listening on {host}:{port}", flush=True)
        while max_sessions is None or served < max_sessions:
            with listener.accept() as conn:
                served += 1
                while True:
                    try:
                        command, payload = _receive(conn)
                    except EOFError:
                        break
                    if command == "bye":
                        break
                    try:
                        result = ("ok", session.handle(command, payload))
                    except Exception as error:  # the trainer gets the reason; the server stays up
                        result = ("error", f"{type(error).__name__}: {error}")
                    _send(conn, result)
    session.reset()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m r1_vllm.server", description="A vLLM engine that r1's sampler=vllm sampler.mode=server trains against.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only)")
    parser.add_argument("--port", type=int, default=8123)
    parser.add_argument("--max-sessions", type=int, default=None, help="exit after this many trainers (default: serve forever)")
    args = parser.parse_args(argv)
    serve(args.host, args.port, args.max_sessions)


if __name__ == "__main__":
    main()
