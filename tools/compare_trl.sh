#!/usr/bin/env bash
# Time r1's GRPO step beside TRL's GRPOTrainer on the same model folder and settings.
#
#   bash tools/compare_trl.sh MODEL_DIR [--group-size 8] [--prompts-per-step 4] [--max-new-tokens 64]
#        [--steps 12] [--warmup 2] [--threads N] [--seed 0] [--repeats R] [--prompts arithmetic|gsm8k]
#        [--target 0.67] [-- hydra overrides for r1 only ...]
#   bash tools/compare_trl.sh --model dense     # the realistic shapes: a 25 M-parameter Qwen3, briefly SFT-trained
#   bash tools/compare_trl.sh --model moe       # (tools/realistic_standin.py), GSM8K prompts, 256 new tokens,
#                                               # 4 steps (1 warm-up), 5 alternating repeats; flags still override
#
# Prints r1's (tools/bench_grpo.py) and TRL's (tools/bench_trl_grpo.py) JSON line per repeat, then a
# summary whose "speedup" is TRL's s/step over r1's (> 1 means r1 is faster; both spans run from
# generation to the optimizer step) and "r1_over_trl" its inverse, r1's time as a share of TRL's. With
# --repeats R > 1 the two runs alternate R times and the summary uses the medians; the *_paired_median
# figures are the medians of each adjacent pair's ratio. "target_met": both ways of pairing keep r1 at or
# under --target of TRL's time. r1 runs with reward=accuracy, the reward the TRL side uses.
#
# TRL runs in its own virtual environment, made on first use (tools/trl_env.sh).
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/trl_env.sh"  # ROOT, R1_PYTHON, TRL_VENV, ensure_trl_venv, run_one

usage() { sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

# Empty = the default of the model's kind: a folder (the tiny shape) or a realistic preset (dense, moe).
MODEL="" G="" P="" NEW="" STEPS="" WARMUP="" THREADS="" REPEATS="" SEED=0 PROMPTS="" TARGET=0.67
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
    --prompts) PROMPTS="$2"; shift 2 ;;
    --target) TARGET="$2"; shift 2 ;;
    --) shift; OVERRIDES=("$@"); break ;;
    -*) echo "unknown option $1" >&2; usage 2 ;;
    *) if [[ -z "$MODEL" ]]; then MODEL="$1"; shift; else echo "unexpected argument $1" >&2; usage 2; fi ;;
  esac
done
[[ -n "$MODEL" ]] || { echo "give the model folder (an HF save_pretrained folder with its tokenizer), or --model dense|moe" >&2; usage 2; }
GEN_REPEATS=5  # r1's line also times its sampler against generate on one batch (cheap at the tiny shape)
if [[ "$MODEL" == dense || "$MODEL" == moe ]]; then
  # the realistic shape: completions of up to 256 tokens whose lengths vary (a briefly SFT-trained stand-in)
  PRESET="$MODEL"
  MODEL="$(cd "$ROOT/tools" && "$R1_PYTHON" realistic_standin.py "$PRESET" | tail -n 1)" || { echo "[compare_trl] could not build the $PRESET stand-in" >&2; exit 1; }
  : "${G:=8}" "${P:=4}" "${NEW:=256}" "${STEPS:=4}" "${WARMUP:=1}" "${REPEATS:=5}" "${PROMPTS:=gsm8k}"
  GEN_REPEATS=0  # tools/bench_sampler.py --model $PRESET measures generation alone
fi
: "${G:=8}" "${P:=4}" "${NEW:=64}" "${STEPS:=12}" "${WARMUP:=2}" "${REPEATS:=1}" "${PROMPTS:=arithmetic}"
[[ -d "$MODEL" ]] || { echo "no such model folder: $MODEL (give a folder, or --model dense|moe)" >&2; exit 2; }
MODEL="$(cd "$MODEL" && pwd)"

ensure_trl_venv compare_trl

# --- the runs --------------------------------------------------------------------------------------
LOGS="$(mktemp -d "${TMPDIR:-/tmp}/compare_trl.XXXXXX")"
COMMON=(--model "$MODEL" --group-size "$G" --prompts-per-step "$P" --max-new-tokens "$NEW" --steps "$STEPS" --warmup "$WARMUP" --prompts "$PROMPTS")
[[ -n "$THREADS" ]] && COMMON+=(--threads "$THREADS")

R1_LINES=() TRL_LINES=()
for ((i = 1; i <= REPEATS; i++)); do
  # paths.output_dir: bench_grpo composes the config outside a Hydra run, where ${hydra:runtime.output_dir}
  # cannot resolve; give it a folder (harmless when bench_grpo sets one itself).
  mkdir -p "$LOGS/r1-out-$i"
  # reward=accuracy: the TRL side's reward is the exact answer match only (r1's default, hybrid, adds format
  # and language terms that change what the policy learns, and so how long its completions get).
  R1_LINES+=("$(cd "$ROOT" && run_one compare_trl r1 "$LOGS/r1-$i" "$R1_PYTHON" tools/bench_grpo.py "${COMMON[@]}" --generation-repeats "$GEN_REPEATS" --write-prompts "$LOGS/prompts-$i.jsonl" \
    "paths.output_dir=$LOGS/r1-out-$i" reward=accuracy "seed=$SEED" "${OVERRIDES[@]}")")
  echo "${R1_LINES[-1]}"
  TRL_LINES+=("$(cd "$ROOT" && run_one compare_trl trl "$LOGS/trl-$i" "$TRL_VENV/bin/python" tools/bench_trl_grpo.py "${COMMON[@]}" --seed "$SEED" \
    --prompts-file "$LOGS/prompts-$i.jsonl")")
  echo "${TRL_LINES[-1]}"
done

# --- the summary -----------------------------------------------------------------------------------
printf '%s\n' "${R1_LINES[@]}" >"$LOGS/r1.jsonl"
printf '%s\n' "${TRL_LINES[@]}" >"$LOGS/trl.jsonl"
"$R1_PYTHON" - "$LOGS" "$TARGET" <<'EOF'
import json, statistics, sys
from pathlib import Path
logs, target = Path(sys.argv[1]), float(sys.argv[2])
r1 = [json.loads(line) for line in (logs / "r1.jsonl").read_text().splitlines()]
trl = [json.loads(line) for line in (logs / "trl.jsonl").read_text().splitlines()]
r1_s = statistics.median(x["s_per_step_inner"] for x in r1)  # generation -> optimizer step, over the same steps as TRL's
r1_wall = statistics.median(x["s_per_step"] for x in r1)
trl_s = statistics.median(x["trl_s_per_step"] for x in trl)
trl_inner = statistics.median(x["trl_s_per_step_inner"] for x in trl)
paired = statistics.median(t["trl_s_per_step_inner"] / r["s_per_step_inner"] for r, t in zip(r1, trl))
paired_share = statistics.median(r["s_per_step_inner"] / t["trl_s_per_step_inner"] for r, t in zip(r1, trl))
def split_medians(lines):
    keys = lines[0].get("split") or {}
    return {k: round(statistics.median(x["split"][k] for x in lines), 4) for k in keys}
r1_len = statistics.median(x.get("completion_length_mean") or 0 for x in r1)
trl_len = statistics.median(x.get("completion_length_mean") or 0 for x in trl)
summary = {
    # r1's time/step_s spans generate -> optimizer step inside training_step; TRL's "inner" time spans the same
    # (on_step_begin -> on_step_end). TRL's full loop adds its batch fetch and per-step logging.
    "r1_s_per_step": round(r1_s, 4),
    "r1_s_per_step_wall": round(r1_wall, 4),        # step to step: adds Lightning's loop between steps
    "trl_s_per_step_inner": round(trl_inner, 4),
    "trl_s_per_step_full_loop": round(trl_s, 4),
    "speedup": round(trl_inner / r1_s, 2),          # like for like; > 1: r1 is faster per step
    # each r1 run against the TRL run right after it: steadier when the machine's speed drifts
    "speedup_paired_median": round(paired, 2),
    "speedup_vs_trl_full_loop": round(trl_s / r1_wall, 2),  # both step to step
    "r1_over_trl": round(r1_s / trl_inner, 3),      # r1's time as a share of TRL's (the realistic target: <= 0.67)
    "r1_over_trl_paired_median": round(paired_share, 3),
    "target": target,
    "target_met": max(r1_s / trl_inner, paired_share) <= target,  # both ways of pairing the runs must agree
    "r1_split": split_medians(r1),                   # seconds per step: generate, score, train (reference pass included)
    "trl_split": split_medians(trl),                 # generate, reward, no-grad log-probs, policy forward, the rest
    "r1_completion_length_mean": r1_len,            # the work per step differs when these differ
    "trl_completion_length_mean": trl_len,
    "repeats": len(r1),
    "prompts": r1[0].get("prompts"),
    "max_new_tokens": r1[0]["max_new_tokens"],
    "trl_version": trl[0].get("trl_version"),
    "logs": str(logs),
}
if r1_len and trl_len:
    # per generated token, for runs whose completions came out of different lengths
    summary["speedup_per_completion_token"] = round((trl_inner / trl_len) / (r1_s / r1_len), 2)
print(json.dumps(summary))
EOF
