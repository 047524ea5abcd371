#!/usr/bin/env bash
# Cross-node delivery (issue 7): the same load on one node and on three nodes
# sharing Postgres and Redis, where the writer is on node 1 and every reader on
# nodes 2 and 3 (so every delivery crosses the bus). Doc updates (y-websocket
# fan-out: one writer, N readers) and topic events (chat fan-out to N
# subscribers). See benches/README.md, Part 5.
#
#   bash benches/cluster.sh           # ~4 min on 2 cores
#
# Environment (defaults in brackets):
#   PAIRS [2]  READERS [300]  RATE (per second) [50]  DURATION (s) [10]
#   SUBSCRIBERS [300]  PG [postgres://postgres@127.0.0.1:5432]
#   REDIS [redis://127.0.0.1:6379]  SKIP_BUILD=1  KEEP_TMP=1
#   RESULTS_JSONL [benches/results/cluster.jsonl]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

PAIRS=${PAIRS:-2}
READERS=${READERS:-300}
SUBSCRIBERS=${SUBSCRIBERS:-300}
RATE=${RATE:-50}
DURATION=${DURATION:-10}
PG=${PG:-postgres://postgres@127.0.0.1:5432}
REDIS=${REDIS:-redis://127.0.0.1:6379}
RESULTS_JSONL=${RESULTS_JSONL:-benches/results/cluster.jsonl}
GOONLINE=target/release/goonline
LOADGEN=target/release/goonline-loadgen
# One user holds every subscriber socket; limits are raised so the run
# measures delivery, not abuse protection.
FLAGS=(--max-connections-per-user 5000 --max-frames-per-sec 100000
    --heartbeat-secs 600 --chat-sends-per-10s 1000000 --allow-anonymous-docs)

while read -r var; do unset "$var"; done < <(compgen -e | grep '^GOONLINE_' || true)
if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    cargo build --release -q -p goonline-server -p goonline-loadgen
fi
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/goonline-cluster.XXXXXX")
PIDS=() DBS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    for d in "${DBS[@]}"; do psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $d" >/dev/null 2>&1 || true; done
    [[ ${KEEP_TMP:-0} == 1 ]] && echo "kept $TMP" || rm -rf "$TMP"
}
trap cleanup EXIT
mkdir -p "$(dirname "$RESULTS_JSONL")"
: >"$RESULTS_JSONL"

fresh_db() {
    local name="goonline_bench_$RANDOM$RANDOM"
    psql "$PG/postgres" -qc "CREATE DATABASE $name" >/dev/null
    DBS+=("$name")
    echo "$PG/$name"
}

# start_node NAME DB_URL [EXTRA...]: starts a node, sets ADDR.
start_node() {
    local name=$1 db=$2
    shift 2
    mkdir -p "$TMP/$name"
    "$GOONLINE" serve --listen 127.0.0.1:0 --data-dir "$TMP/$name" --database-url "$db" \
        "${FLAGS[@]}" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
    PIDS+=($!)
    local i
    for ((i = 0; i < 100; i++)); do
        ADDR=$(sed -n 's#^listening on http://##p' "$TMP/$name.out" | head -n1)
        [[ -n $ADDR ]] && curl -fs "http://$ADDR/readyz" >/dev/null && return 0
        sleep 0.1
    done
    echo "node $name did not become ready:" >&2
    tail -n 20 "$TMP/$name.err" >&2
    exit 1
}

stop_nodes() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    PIDS=()
}

# run_pair LABEL N: N=1 everything on one node; N=3 writer on node 1, readers on 2 and 3.
run_layout() {
    local label=$1 n=$2 db prefix
    db=$(fresh_db)
    prefix="bench$RANDOM"
    local -a cluster=()
    ((n > 1)) && cluster=(--redis-url "$REDIS" --redis-prefix "$prefix"
        --jwt-secret "bench-secret-shared-by-every-node-$prefix-0123456789")
    local addrs=()
    for ((k = 1; k <= n; k++)); do
        start_node "$label-$k" "$db" "${cluster[@]}"
        addrs+=("$ADDR")
    done
    local writer=${addrs[0]} readers_y readers_n
    if ((n > 1)); then
        readers_y="ws://${addrs[1]}/y,ws://${addrs[2]}/y"
        readers_n="ws://${addrs[1]}/v1/ws,ws://${addrs[2]}/v1/ws"
    else
        readers_y="ws://$writer/y"
        readers_n="ws://$writer/v1/ws"
    fi
    echo "== $label: doc fan-out, $READERS readers, $RATE edits/s for $DURATION s" >&2
    "$LOADGEN" fanout --url "ws://$writer/y" --reader-urls "$readers_y" --dialect yws \
        --target "$label" --readers "$READERS" --rate "$RATE" --duration "$DURATION" \
        --out "$RESULTS_JSONL" >/dev/null
    echo "== $label: topic fan-out, $SUBSCRIBERS subscribers, $RATE messages/s for $DURATION s" >&2
    "$LOADGEN" topics-fanout --url "ws://$writer/v1/ws" --subscriber-urls "$readers_n" \
        --label "$label" --subscribers "$SUBSCRIBERS" --rate "$RATE" --duration "$DURATION" \
        --out "$RESULTS_JSONL" >/dev/null
    if grep -qE 'ERROR' "$TMP"/"$label"-*.err; then
        echo "   server errors:" >&2
        grep -hE 'ERROR' "$TMP"/"$label"-*.err | tail -n 5 >&2
    fi
    stop_nodes
}

for ((p = 1; p <= PAIRS; p++)); do
    if ((p % 2)); then
        run_layout 1-node 1
        run_layout 3-nodes 3
    else
        run_layout 3-nodes 3
        run_layout 1-node 1
    fi
done
# p50 / p99 of each run, then the medians' ratios (3 nodes ÷ 1 node).
python3 - "$RESULTS_JSONL" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def lat(r):
    l = r.get("latency_ms") or r.get("latency") or {}
    return l.get("p50"), l.get("p99")
rows = {}
for r in runs:
    key = (r.get("scenario"), r.get("target"))
    rows.setdefault(key, []).append(lat(r))
print("| scenario | layout | runs | p50 ms (each) | p99 ms (each) |")
print("| --- | --- | --- | --- | --- |")
for (sc, tg), ls in sorted(rows.items()):
    print(f"| {sc} | {tg} | {len(ls)} | {' / '.join(str(a) for a, _ in ls)} | {' / '.join(str(b) for _, b in ls)} |")
print()
for sc in sorted({k[0] for k in rows}):
    one, three = rows.get((sc, "1-node")), rows.get((sc, "3-nodes"))
    if one and three:
        m = lambda ls, i: statistics.median(x[i] for x in ls if x[i] is not None)
        print(f"{sc}: 3 nodes ÷ 1 node, median p50 {m(three,0)/m(one,0):.2f}×, median p99 {m(three,1)/m(one,1):.2f}×")
PY
