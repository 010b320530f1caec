# Shared by tools/compare_trl.sh and tools/compare_trl_sft.sh (sourced, not run): which Pythons run r1
# and TRL, TRL's virtual environment made on first use, and running one benchmark process.
#
# TRL runs in its own virtual environment ($TRL_VENV, default .trl-venv at the repository root), created
# with the same torch (2.13.0, the CPU build on this machine's disk) and the same transformers as r1's.
# trl is a benchmark peer, not a dependency of r1. TRL_SPEC, TORCH_SPEC and R1_PYTHON change what is
# installed and which Python runs r1's side.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TRL_VENV="${TRL_VENV:-$ROOT/.trl-venv}"
TRL_SPEC="${TRL_SPEC:-trl==1.16.*}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0}"   # never unpinned: that pulls a multi-GB CUDA build
if [[ -n "${R1_PYTHON:-}" ]]; then :
elif [[ -x "$ROOT/.venv/bin/python" ]]; then R1_PYTHON="$ROOT/.venv/bin/python"
else R1_PYTHON="$(command -v python3)"; fi

ensure_trl_venv() {  # tag: make $TRL_VENV unless it already imports trl
  local tag="$1"
  "$TRL_VENV/bin/python" -c "import trl" >/dev/null 2>&1 && return 0
  local version base
  version="$("$R1_PYTHON" -c 'import transformers; print(transformers.__version__)' 2>/dev/null || true)"
  echo "[$tag] creating $TRL_VENV ($TRL_SPEC, $TORCH_SPEC, transformers ${version:-latest})" >&2
  base="${TRL_BASE_PYTHON:-$("$R1_PYTHON" -c 'import sys; print(sys._base_executable)')}"
  "$base" -m venv "$TRL_VENV"
  if ! "$TRL_VENV/bin/pip" install -q "$TORCH_SPEC" "$TRL_SPEC" ${version:+"transformers==$version"} >"$TRL_VENV/install.log" 2>&1; then
    echo "[$tag] pip install failed; the end of $TRL_VENV/install.log:" >&2; tail -n 25 "$TRL_VENV/install.log" >&2; exit 1
  fi
}

run_one() {  # tag name log command...: the command's last stdout line (its JSON), or exit with the log's tail
  local tag="$1" name="$2" log="$3"; shift 3
  if ! "$@" >"$log.out" 2>"$log.err"; then
    echo "[$tag] $name failed; the end of $log.err:" >&2; tail -n 25 "$log.err" >&2; exit 1
  fi
  tail -n 1 "$log.out"
}
