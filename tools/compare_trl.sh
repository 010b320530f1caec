#!/usr/bin/env bash
# Time r1's GRPO step beside TRL's GRPOTrainer on the same model folder and settings.
#
#   bash tools/compare_trl.sh MODEL_DIR [--group-size 8] [--prompts-per-step 4] [--max-new-tokens 64]
#        [--steps 12] [--warmup 2] [--threads N] [--seed 0] [--repeats R] [-- hydra overrides for r1 only ...]
#
# Prints three JSON lines: r1's (tools/bench_grpo.py), TRL's (tools/bench_trl_grpo.py), and a
# summary whose "speedup" is TRL's s/step over r1's (> 1 means r1 is faster; both spans run from
# generation to the optimizer step). With --repeats R > 1 the two runs alternate R times and the
# summary uses the medians; speedup_paired_median is the median of each adjacent pair's ratio.
# r1 runs with reward=accuracy, the reward the TRL side uses.
#
# TRL runs in its own virtual environment ($TRL_VENV, default .trl-venv at the repository root),
# created on first use with the same torch (2.13.0, the CPU build on this machine's disk) and the
# same transformers as r1's. trl is a benchmark peer, not a dependency of r1.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TRL_VENV="${TRL_VENV:-$ROOT/.trl-venv}"
TRL_SPEC="${TRL_SPEC:-trl==1.16.*}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0}"   # never unpinned: that pulls a multi-GB CUDA build
if [[ -n "${R1_PYTHON:-}" ]]; then :
elif [[ -x "$ROOT/.venv/bin/python" ]]; then R1_PYTHON="$ROOT/.venv/bin/python"
else R1_PYTHON="$(command -v python3)"; fi

usage() { sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

MODEL="" G=8 P=4 NEW=64 STEPS=12 WARMUP=2 THREADS="" REPEATS=1 SEED=0
OVERRIDES=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h|--help) usage 0 ;;
    --model) MODEL="$2"; shift 2 ;;
    --group-size) G="$2"; shift 2 ;;
    --prompts-per-step) P="$2"; shift 2 ;;
    --max-new-tokens) NEW="$2"; shift 2 ;;
    --steps) STEPS="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    --repeats) REPEATS="$2"; shift 2 ;;
    --seed) SEED="$2"; shift 2 ;;
    --) shift; OVERRIDES=("$@"); break ;;
    -*) echo "unknown option $1" >&2; usage 2 ;;
    *) if [[ -z "$MODEL" ]]; then MODEL="$1"; shift; else echo "unexpected argument $1" >&2; usage 2; fi ;;
  esac
done
[[ -n "$MODEL" ]] || { echo "give the model folder (an HF save_pretrained folder with its tokenizer)" >&2; usage 2; }
[[ -d "$MODEL" ]] || { echo "no such model folder: $MODEL" >&2; exit 2; }
MODEL="$(cd "$MODEL" && pwd)"

# --- the TRL environment -------------------------------------------------------------------------
if ! "$TRL_VENV/bin/python" -c "import trl" >/dev/null 2>&1; then
  TRANSFORMERS_VERSION="$("$R1_PYTHON" -c 'import transformers; print(transformers.__version__)' 2>/dev/null || true)"
  echo "[compare_trl] creating $TRL_VENV ($TRL_SPEC, $TORCH_SPEC, transformers ${TRANSFORMERS_VERSION:-latest})" >&2
  BASE_PYTHON="${TRL_BASE_PYTHON:-$("$R1_PYTHON" -c 'import sys; print(sys._base_executable)')}"
  "$BASE_PYTHON" -m venv "$TRL_VENV"
  if ! "$TRL_VENV/bin/pip" install -q "$TORCH_SPEC" "$TRL_SPEC" \
      ${TRANSFORMERS_VERSION:+"transformers==$TRANSFORMERS_VERSION"} >"$TRL_VENV/install.log" 2>&1; then
    echo "[compare_trl] pip install failed; the end of $TRL_VENV/install.log:" >&2; tail -n 25 "$TRL_VENV/install.log" >&2; exit 1
  fi
fi

# --- the runs --------------------------------------------------------------------------------------
LOGS="$(mktemp -d "${TMPDIR:-/tmp}/compare_trl.XXXXXX")"
COMMON=(--model "$MODEL" --group-size "$G" --prompts-per-step "$P" --max-new-tokens "$NEW" --steps "$STEPS" --warmup "$WARMUP")
[[ -n "$THREADS" ]] && COMMON+=(--threads "$THREADS")

run_one() {  # name log command...: the command's last stdout line (its JSON), or exit with the log's tail
  local name="$1" log="$2"; shift 2
  if ! "$@" >"$log.out" 2>"$log.err"; then
    echo "[compare_trl] $name failed; the end of $log.err:" >&2; tail -n 25 "$log.err" >&2; exit 1
  fi
  tail -n 1 "$log.out"
}

R1_LINES=() TRL_LINES=()
for ((i = 1; i <= REPEATS; i++)); do
  # paths.output_dir: bench_grpo composes the config outside a Hydra run, where ${hydra:runtime.output_dir}
  # cannot resolve; give it a folder (harmless when bench_grpo sets one itself).
  mkdir -p "$LOGS/r1-out-$i"
  # reward=accuracy: the TRL side's reward is the exact answer match only (r1's default, hybrid, adds format
  # and language terms that change what the policy learns, and so how long its completions get).
  R1_LINES+=("$(cd "$ROOT" && run_one r1 "$LOGS/r1-$i" "$R1_PYTHON" tools/bench_grpo.py "${COMMON[@]}" \
    "paths.output_dir=$LOGS/r1-out-$i" reward=accuracy "seed=$SEED" "${OVERRIDES[@]}")")
  echo "${R1_LINES[-1]}"
  TRL_LINES+=("$(cd "$ROOT" && run_one trl "$LOGS/trl-$i" "$TRL_VENV/bin/python" tools/bench_trl_grpo.py "${COMMON[@]}" --seed "$SEED")")
  echo "${TRL_LINES[-1]}"
done

# --- the summary -----------------------------------------------------------------------------------
printf '%s\n' "${R1_LINES[@]}" >"$LOGS/r1.jsonl"
printf '%s\n' "${TRL_LINES[@]}" >"$LOGS/trl.jsonl"
"$R1_PYTHON" - "$LOGS" <<'EOF'
import json, statistics, sys
from pathlib import Path
logs = Path(sys.argv[1])
r1 = [json.loads(line) for line in (logs / "r1.jsonl").read_text().splitlines()]
trl = [json.loads(line) for line in (logs / "trl.jsonl").read_text().splitlines()]
r1_s = statistics.median(x["s_per_step"] for x in r1)
trl_s = statistics.median(x["trl_s_per_step"] for x in trl)
trl_inner = statistics.median(x["trl_s_per_step_inner"] for x in trl)
paired = statistics.median(t["trl_s_per_step_inner"] / r["s_per_step"] for r, t in zip(r1, trl))
r1_len = statistics.median(x.get("completion_length_mean") or 0 for x in r1)
trl_len = statistics.median(x.get("completion_length_mean") or 0 for x in trl)
summary = {
    # r1's time/step_s spans generate -> optimizer step inside training_step; TRL's "inner" time spans the same
    # (on_step_begin -> on_step_end). TRL's full loop adds its batch fetch and per-step logging.
    "r1_s_per_step": round(r1_s, 4),
    "trl_s_per_step_inner": round(trl_inner, 4),
    "trl_s_per_step_full_loop": round(trl_s, 4),
    "speedup": round(trl_inner / r1_s, 2),          # like for like; > 1: r1 is faster per step
    # each r1 run against the TRL run right after it: steadier when the machine's speed drifts
    "speedup_paired_median": round(paired, 2),
    "speedup_vs_trl_full_loop": round(trl_s / r1_s, 2),
    "goal_2x_met": min(trl_inner / r1_s, paired) >= 2.0,  # both ways of pairing the runs must agree
    "r1_completion_length_mean": r1_len,            # the work per step differs when these differ
    "trl_completion_length_mean": trl_len,
    "repeats": len(r1),
    "trl_version": trl[0].get("trl_version"),
    "logs": str(logs),
}
if r1_len and trl_len:
    # per generated token, for runs whose completions came out of different lengths
    summary["speedup_per_completion_token"] = round((trl_inner / trl_len) / (r1_s / r1_len), 2)
print(json.dumps(summary))
EOF
