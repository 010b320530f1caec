#!/usr/bin/env bash
# SFT tokens/s: r1 (padded and packed batches, tools/bench_sft_packing.py) beside TRL's SFTTrainer
# (without and with its own packing, tools/bench_trl_sft.py) on the same model, examples and length.
#
#   bash tools/compare_trl_sft.sh --model dense          # the untrained 25 M Qwen3 stand-in, GSM8K solutions
#   bash tools/compare_trl_sft.sh --model moe            # its MoE (25 M active of 82 M)
#   bash tools/compare_trl_sft.sh --model MODEL_DIR [--batch-size 16] [--max-length 384] [--steps 3]
#        [--warmup 1] [--repeats 5] [--examples 512] [--threads N]
#
# Each repeat runs r1 (both arms in one process, alternating), then TRL unpacked, then TRL packed, each in
# a fresh process; the runs alternate so a machine whose speed drifts slows all alike. Prints each run's
# JSON line, then a summary: each arm's median tokens/s and the paired medians (same repeat) of r1 packed
# over TRL unpacked (target >= 1.5) and over TRL packed (target >= 1.0). TRL's environment: tools/trl_env.sh.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/trl_env.sh"  # ROOT, R1_PYTHON, TRL_VENV, ensure_trl_venv, run_one

usage() { sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

MODEL="" BATCH=16 MAXLEN=384 STEPS=3 WARMUP=1 REPEATS=5 EXAMPLES=512 THREADS=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h|--help) usage 0 ;;
    --model) MODEL="$2"; shift 2 ;;
    --batch-size) BATCH="$2"; shift 2 ;;
    --max-length) MAXLEN="$2"; shift 2 ;;
    --steps) STEPS="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --repeats) REPEATS="$2"; shift 2 ;;
    --examples) EXAMPLES="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; usage 2 ;;
  esac
done
[[ -n "$MODEL" ]] || { echo "give --model dense, moe or a model folder" >&2; usage 2; }
if [[ "$MODEL" == dense || "$MODEL" == moe ]]; then
  FOLDER="$(cd "$ROOT/tools" && "$R1_PYTHON" realistic_standin.py "$MODEL" --print-base | tail -n 1)" || { echo "[compare_trl_sft] could not build the $MODEL stand-in" >&2; exit 1; }
else
  [[ -d "$MODEL" ]] || { echo "no such model folder: $MODEL (give a folder, or --model dense|moe)" >&2; exit 2; }
  FOLDER="$(cd "$MODEL" && pwd)"; MODEL="$FOLDER"
fi
ensure_trl_venv compare_trl_sft

LOGS="$(mktemp -d "${TMPDIR:-/tmp}/compare_trl_sft.XXXXXX")"
EXAMPLES_FILE="$LOGS/examples.jsonl"
THREAD_ARGS=(); [[ -n "$THREADS" ]] && THREAD_ARGS=(--threads "$THREADS")
: >"$LOGS/runs.jsonl"
for ((i = 1; i <= REPEATS; i++)); do
  line="$(cd "$ROOT/tools" && run_one compare_trl_sft r1 "$LOGS/r1-$i" "$R1_PYTHON" bench_sft_packing.py --model "$MODEL" --data gsm8k \
    --max-length "$MAXLEN" --batch-size "$BATCH" --steps "$STEPS" --warmup "$WARMUP" --repeats 1 --examples "$EXAMPLES" \
    --seed "$i" --write-examples "$EXAMPLES_FILE" "${THREAD_ARGS[@]}")"
  echo "$line"; echo "$line" >>"$LOGS/runs.jsonl"
  for packing in false true; do
    line="$(cd "$ROOT/tools" && run_one compare_trl_sft "trl packing=$packing" "$LOGS/trl-$packing-$i" "$TRL_VENV/bin/python" bench_trl_sft.py \
      --model "$FOLDER" --examples "$EXAMPLES_FILE" --packing "$packing" --batch-size "$BATCH" --max-length "$MAXLEN" \
      --steps "$STEPS" --warmup "$WARMUP" --seed "$i" "${THREAD_ARGS[@]}")"
    echo "$line"; echo "$line" >>"$LOGS/runs.jsonl"
  done
done

"$R1_PYTHON" - "$LOGS/runs.jsonl" <<'PY'
import json, statistics, sys
lines = [json.loads(line) for line in open(sys.argv[1])]
r1 = [x for x in lines if "tokens_per_s_median" in x]
trl = {side: [x for x in lines if x.get("side") == side] for side in ("trl-padded", "trl-packed")}
arms = {"r1-padded": [x["tokens_per_s_median"]["padded"] for x in r1], "r1-packed": [x["tokens_per_s_median"]["packed"] for x in r1],
        **{side: [x["tokens_per_s"] for x in runs] for side, runs in trl.items()}}
paired = lambda a, b: round(statistics.median(x / y for x, y in zip(arms[a], arms[b])), 3)  # noqa: E731
over_unpacked, over_packed = paired("r1-packed", "trl-padded"), paired("r1-packed", "trl-packed")
print(json.dumps({
    "tokens_per_s_median": {arm: round(statistics.median(values), 1) for arm, values in arms.items()},
    "r1_packed_over_trl_unpacked_paired_median": over_unpacked,   # target >= 1.5
    "r1_packed_over_trl_packed_paired_median": over_packed,       # target >= 1.0
    "r1_packed_over_r1_padded_paired_median": paired("r1-packed", "r1-padded"),
    "targets_met": over_unpacked >= 1.5 and over_packed >= 1.0,
    "padding_share_r1_padded": r1[0]["padding_share"]["padded"],
    "examples_tokens_mean": r1[0]["examples_tokens_mean"],
    "repeats": len(r1),
    "trl_version": trl["trl-padded"][0]["trl_version"],
    "logs": sys.argv[1],
}))
PY
