#!/usr/bin/env bash
# A/B of two goonline builds on the durable-write path (acknowledged updates/s:
# 32 writers, 64 in flight each, 10 s), alternating rounds on one machine in
# one run, on SQLite and on Postgres (a fresh data dir or database per run).
# Prints each run and the B/A ratio of the medians.
#
#   A_BIN=/path/old/goonline B_BIN=target/release/goonline \
#   LOADGEN=target/release/goonline-loadgen ROUNDS=3 bash benches/ab-durable.sh
set -euo pipefail
: "${A_BIN:?old goonline binary}" "${B_BIN:?new goonline binary}"
LOADGEN=${LOADGEN:-target/release/goonline-loadgen}
ROUNDS=${ROUNDS:-3}
PG=${PG:-postgres://postgres@127.0.0.1:5432}
OUT=${OUT:-$(mktemp /tmp/ab-durable-XXXX.jsonl)}
while read -r var; do unset "$var"; done < <(compgen -e | grep '^GOONLINE_' || true)

run() { # label bin backend
    local label=$1 bin=$2 backend=$3 dir pid addr db="" url
    dir=$(mktemp -d)
    local -a store=(--data-dir "$dir")
    if [[ $backend == postgres ]]; then
        db="goonline_ab_$RANDOM$RANDOM"
        psql "$PG/postgres" -qc "CREATE DATABASE $db" >/dev/null
        store+=(--database-url "$PG/$db")
    fi
    "$bin" serve --listen 127.0.0.1:0 "${store[@]}" --allow-anonymous-docs \
        --max-frames-per-sec 1000000 >"$dir/out" 2>"$dir/err" &
    pid=$!
    for _ in $(seq 100); do grep -q listening "$dir/out" 2>/dev/null && break; sleep 0.1; done
    addr=$(sed -n 's/.*http:\/\///p' "$dir/out")
    url="ws://$addr/v1/ws"
    "$LOADGEN" durable --url "$url" --dialect native --target "$label" --server-pid "$pid" \
        --backend "$backend" --duration 10 --out "$OUT" >/dev/null
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    [[ -n $db ]] && psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $db" >/dev/null
    rm -rf "$dir"
}

for backend in sqlite postgres; do
    for ((i = 1; i <= ROUNDS; i++)); do
        if ((i % 2)); then
            run A "$A_BIN" "$backend"
            run B "$B_BIN" "$backend"
        else
            run B "$B_BIN" "$backend"
            run A "$A_BIN" "$backend"
        fi
    done
done
python3 - "$OUT" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
rows = {}
for r in runs:
    backend = r.get("params", {}).get("backend") or r.get("backend")
    rate = r.get("acked_per_sec") or r.get("updates_per_sec") or r.get("deliveries_per_sec")
    p99 = (r.get("ack_latency_ms") or r.get("latency_ms") or {}).get("p99")
    rows.setdefault((backend, r["target"]), []).append((rate, p99))
for (b, t), v in sorted(rows.items()):
    print(f"{b} {t}: acked/s {[round(x[0]) for x in v if x[0]]}  ack p99 ms {[x[1] for x in v]}")
for b in sorted({k[0] for k in rows}):
    a, n = rows.get((b, "A")), rows.get((b, "B"))
    if a and n:
        ma = statistics.median(x[0] for x in a)
        mb = statistics.median(x[0] for x in n)
        print(f"{b}: B/A acknowledged updates/s (medians) = {mb / ma:.2f}")
PY
echo "records: $OUT"
