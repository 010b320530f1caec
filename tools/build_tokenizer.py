"""Rebuild the tokenizer files shipped in r1/models/tiny_tokenizer/ (deterministic).

    python tools/build_tokenizer.py
"""

from __future__ import annotations

from r1.models.tokenizer import save_tiny_tokenizer

if __name__ == "__main__":
    print(f"wrote {save_tiny_tokenizer()}")
