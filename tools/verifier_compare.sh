#!/usr/bin/env bash
# Score r1's answer verifier beside math-verify on the labelled real-world corpus (tests/data/).
#
#   bash tools/verifier_compare.sh [--repeats R] [--timeout S] [--show-failures]
#
# Runs tools/bench_verifier.py --corpus-only --table with a Python that can import both r1 (from
# this checkout: r1.math needs only sympy) and math-verify, and prints a per-kind table, the two
# side by side: the share of pairs each judges as labelled, and pairs per second; then one JSON line
# (corpus/speedup is r1's pairs/s over math-verify's).
#
# math-verify runs in its own virtual environment ($MV_VENV, default tools/.mv-venv), created on
# first use from PyPI ($MV_SPEC, default math-verify==0.9.0) with the same sympy as r1's venv.
# math-verify is a benchmark peer, not a dependency of r1.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MV_VENV="${MV_VENV:-$ROOT/tools/.mv-venv}"
MV_SPEC="${MV_SPEC:-math-verify==0.9.0}"
if [[ -n "${R1_PYTHON:-}" ]]; then :
elif [[ -x "$ROOT/.venv/bin/python" ]]; then R1_PYTHON="$ROOT/.venv/bin/python"
else R1_PYTHON="$(command -v python3)"; fi

usage() { sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

ARGS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h|--help) usage 0 ;;
    --repeats|--timeout) ARGS+=("$1" "$2"); shift 2 ;;
    --show-failures) ARGS+=("$1"); shift ;;
    *) echo "unknown option $1" >&2; usage 2 ;;
  esac
done

# --- the math-verify environment ------------------------------------------------------------------
if ! "$MV_VENV/bin/python" -c "import math_verify" >/dev/null 2>&1; then
  SYMPY_VERSION="$("$R1_PYTHON" -c 'import sympy; print(sympy.__version__)' 2>/dev/null || true)"
  echo "[verifier_compare] creating $MV_VENV ($MV_SPEC, sympy ${SYMPY_VERSION:-latest})" >&2
  BASE_PYTHON="${MV_BASE_PYTHON:-$("$R1_PYTHON" -c 'import sys; print(sys._base_executable)')}"
  "$BASE_PYTHON" -m venv "$MV_VENV"
  if ! "$MV_VENV/bin/pip" install -q "$MV_SPEC" ${SYMPY_VERSION:+"sympy==$SYMPY_VERSION"} \
      >"$MV_VENV/install.log" 2>&1; then
    echo "[verifier_compare] pip install failed; the end of $MV_VENV/install.log:" >&2
    tail -n 25 "$MV_VENV/install.log" >&2; exit 1
  fi
fi

# --- the run -----------------------------------------------------------------------------------------
cd "$ROOT"
exec "$MV_VENV/bin/python" tools/bench_verifier.py --corpus-only --table "${ARGS[@]}"
