#!/usr/bin/env bash
# GPU check of r1's trainer strategies and samplers: a few GRPO steps per configuration
# (trainer=gpu, trainer=fsdp on one GPU, the tiny MoE and a hidden-1024 variant, LoRA and
# gradient checkpointing at hidden 1024, and
# sampler=vllm when vLLM is installed, with the train/inference mismatch), one JSON line each
# with tokens/s/GPU, peak GPU memory and the sampler/trainer log-prob gap (tools/gpu_check.py). Needs no network; finishes in under 5 minutes on an H200.
# A failing configuration is reported (ok: false, with the error) and the next one runs;
# the exit status is non-zero if any failed.
#
#   bash tools/gpu_check.sh                     # all configurations
#   bash tools/gpu_check.sh --only fsdp-tiny    # some of them
#   bash tools/gpu_check.sh --accelerator cpu   # check the script itself on a CPU machine
#
# Wheels a bare GPU image lacks (its python3 is 3.12 with torch, lightning, pluggy, sympy,
# tokenizers and transformers 5.17; r1 is developed against transformers 5.24). Fetch them
# once, in the repository root (.whl/ is git-ignored), then carry .whl to the machine:
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#     -d .whl hydra-core==1.3.8 omegaconf==2.3.1 transformers==5.24.0 peft==0.21.2 accelerate psutil
#   python3 -m pip wheel --no-deps -w .whl antlr4-python3-runtime==4.9.3   # PyPI has only its sdist; this builds the pure-Python wheel
# (datasets and wandb are not needed: the check runs with logger=none.)
set -uo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if [ -d .whl ] && compgen -G ".whl/*.whl" > /dev/null; then
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        || { echo '{"config": "setup", "ok": false, "error": "installing .whl/*.whl failed"}'; exit 1; }
    export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
# r1 itself runs from this checkout; the vLLM plugin is installed only where vLLM is.
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if "$PYTHON" -c "import vllm" 2> /dev/null; then
    "$PYTHON" -m pip install -q --no-deps --no-build-isolation --target /tmp/site-r1-vllm ./plugins/r1-vllm \
        && export PYTHONPATH="/tmp/site-r1-vllm:$PYTHONPATH"
fi
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false WANDB_MODE=disabled

"$PYTHON" - <<'EOF'
import json, torch
import lightning, transformers
print(json.dumps({"config": "environment", "torch": torch.__version__, "cuda": torch.version.cuda,
                  "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
                  "lightning": lightning.__version__, "transformers": transformers.__version__}), flush=True)
EOF
exec "$PYTHON" tools/gpu_check.py "$@"
