#!/usr/bin/env bash
# A/B of two goonline builds on the fan-out hot path, alternating rounds on one
# machine in one run: 1 writer at 100 edits/s, 1000 readers, 10 s, y-websocket and
# native, each build with its own loadgen. Prints medians and the head/base ratios.
#
#   A_BIN=/path/old/goonline A_LOADGEN=/path/old/goonline-loadgen \
#   B_BIN=target/release/goonline B_LOADGEN=target/release/goonline-loadgen \
#   B_FLAGS=--allow-anonymous-docs ROUNDS=3 bash benches/ab-fanout.sh
set -euo pipefail
: "${A_BIN:?old goonline binary}" "${A_LOADGEN:?old goonline-loadgen}"
: "${B_BIN:?new goonline binary}" "${B_LOADGEN:?new goonline-loadgen}"
A_FLAGS=${A_FLAGS:-}
B_FLAGS=${B_FLAGS:-}
ROUNDS=${ROUNDS:-3}
OUT=${OUT:-$(mktemp /tmp/ab-fanout-XXXX.jsonl)}

run() { # label bin loadgen flags
    local label=$1 bin=$2 lg=$3 flags=$4 dir pid addr dialect url
    dir=$(mktemp -d)
    # shellcheck disable=SC2086
    GOONLINE_LOG=warn "$bin" serve --listen 127.0.0.1:0 --data-dir "$dir" $flags \
        >"$dir/out" 2>"$dir/err" &
    pid=$!
    for _ in $(seq 100); do grep -q listening "$dir/out" 2>/dev/null && break; sleep 0.1; done
    addr=$(sed -n 's/.*http:\/\///p' "$dir/out")
    for dialect in yws native; do
        [[ $dialect == yws ]] && url="ws://$addr/y" || url="ws://$addr/v1/ws"
        "$lg" fanout --url "$url" --dialect "$dialect" --target "$label" --server-pid "$pid" \
            --readers 1000 --rate 100 --duration 10 --out "$OUT" >/dev/null
    done
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    rm -rf "$dir"
}

for _ in $(seq "$ROUNDS"); do
    run A "$A_BIN" "$A_LOADGEN" "$A_FLAGS"
    run B "$B_BIN" "$B_LOADGEN" "$B_FLAGS"
done

python3 - "$OUT" <<'PY'
import json, statistics as st, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def med(t, d, f):
    return st.median(f(r) for r in rows if r["target"] == t and r["dialect"] == d)
print(f"records: {sys.argv[1]}")
print("dialect  metric               A        B      B/A")
for d in ("yws", "native"):
    for name, f in (("server µs/delivery", lambda r: r["server_cpu_us_per_delivery"]),
                    ("p50 ms", lambda r: r["latency_ms"]["p50"]),
                    ("p99 ms", lambda r: r["latency_ms"]["p99"]),
                    ("server RSS MB", lambda r: r["server_rss_kb"] / 1024)):
        a, b = med("A", d, f), med("B", d, f)
        print(f"{d:8} {name:18} {a:8.3f} {b:8.3f} {b / a:6.3f}")
PY
