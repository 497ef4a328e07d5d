#!/usr/bin/env bash
# Successive halving against the exhaustive sweep of the same space on real FILUSDT
# candles (/work/shared/data/candles, see its PROVENANCE.md): candle·runs evaluated, the
# share of the exhaustive top 1 % (by the objective) that halving keeps to the full window,
# and wall time. Figures in docs/sweeps.md ("Successive halving", "Measured").
#
#   docs/halving_measure.sh [WORKDIR] [WINDOW] [SIZE]
#
# WINDOW contiguous (default): the gap-free 2023-08..2023-11 window; all: the 21 monthly
# files, gaps between months included. SIZE full (default): 10,000 combinations (25 spacings
# × 8 leverages × 5 sizes × 10 widths); small: 1,000 (one width, grid_count = 30), for the
# 21 months, whose exhaustive 10,000 runs take over an hour on 2 cores. Bybit model, eta = 3
# from 3 days (5 rungs over 4 months, 7 over the 21 months' calendar span).
# Needs a release build (cargo build --release) and python3 with pyarrow.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
bin="$here/target/release/gridsweep"
work="${1:-/tmp/gridsweep-halving}"
window="${2:-contiguous}"
size="${3:-full}"
case "$size" in
  full) widths='[10, 16, 20, 26, 30, 36, 40, 50, 60, 80]  # 10 → 10,000 runs' ;;
  small) widths='[30]  # 1 → 1,000 runs' ;;
  *) echo "SIZE must be full or small" >&2; exit 2 ;;
esac
csv=/work/shared/data/candles/binance-usdm-1m
mkdir -p "$work"
data="$work/FILUSDT-21m.parquet"
[ -f "$data" ] || "$bin" import -o "$data" "$csv"/FILUSDT-1m-*.csv >/dev/null
case "$window" in
  contiguous) range='start = "2023-08-01"
end = "2023-12-01"' ;;
  all) range='' ;;
  *) echo "WINDOW must be contiguous or all" >&2; exit 2 ;;
esac
space="symbol = \"FILUSDT\"
candles = [\"$data\"]
$range
tiers = \"builtin\"

[params]
model = \"bybit\"
initial_balance = 10000
wind_down_mode = \"close_all\"

[axes]
grid_step = { start = 0.2, stop = 1.4, step = 0.05 }   # 25
leverage = [1, 2, 3, 5, 8, 12, 20, 30]                # 8
amount = [\"x0.002\", \"x0.004\", \"x0.008\", \"x0.015\", \"x0.03\"]  # 5
grid_count = $widths
"
printf 'name = "fil_grid_%s"\n%s' "$window" "$space" >"$work/grid-$window.toml"
printf 'name = "fil_halving_%s"\n%s\n[search]\nmethod = "halving"\neta = 3\nmin_window = "3d"\nobjective = "calmar_ratio"\nprobes = 0.02\nseed = 1\n' \
  "$window" "$space" >"$work/halving-$window.toml"
for kind in grid halving; do
  rm -f "$work/$kind-$window.parquet"
  /usr/bin/time -f "$kind wall %e s" "$bin" sweep "$work/$kind-$window.toml" --json \
    -o "$work/$kind-$window.parquet" >"$work/$kind-$window.json"
done
python3 - "$work" "$window" <<'PY'
import json, math, sys
import pyarrow.parquet as pq
work, window = sys.argv[1], sys.argv[2]
g = pq.read_table(f"{work}/grid-{window}.parquet", columns=["run_id", "calmar_ratio", "status"]).to_pylist()
h = pq.read_table(f"{work}/halving-{window}.parquet", columns=["run_id", "status", "rung"]).to_pylist()
hj = json.load(open(f"{work}/halving-{window}.json"))
gj = json.load(open(f"{work}/grid-{window}.json"))
key = lambda r: r["calmar_ratio"] if r["calmar_ratio"] is not None else -math.inf
ok = [r for r in g if r["status"] == "ok"]
top = sorted(ok, key=lambda r: (-key(r), r["run_id"]))[: math.ceil(len(g) / 100)]
full = {r["run_id"] for r in h if r["status"] == "ok"}
kept = sum(r["run_id"] in full for r in top)
ev, ex = hj["candle_runs_evaluated"], hj["candle_runs_exhaustive"]
print(json.dumps({
    "window": window, "runs": len(g),
    "candle_runs_evaluated": ev, "candle_runs_exhaustive": ex, "reduction": round(ex / ev, 2),
    "top1pct": len(top), "top1pct_kept": kept, "share_kept": round(kept / len(top), 3),
    "full_window_runs": len(full), "probes": hj["halving"]["probes"],
    "grid_wall_s": round(gj["elapsed_s"], 1), "halving_wall_s": round(hj["elapsed_s"], 1),
    "halving_peak_rss_kib": hj["peak_rss_kib"], "grid_peak_rss_kib": gj["peak_rss_kib"],
    "rungs": [{k: r[k] for k in ("rung", "runs", "kept", "spearman", "widened")} for r in hj["halving"]["rungs"]],
}, indent=1))
PY
