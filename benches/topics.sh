#!/usr/bin/env bash
# Topic benchmarks (issue 5): chat fan-out to many subscribers of one channel,
# GoOnline against the raw WebSocket floor, and replay of a long history over
# the socket against the REST door. See benches/README.md, "Topics".
#
#   bash benches/topics.sh                 # everything (~6 min on 2 cores)
#   ONLY=fanout bash benches/topics.sh     # or ONLY=replay
#   NO_PG=1 bash benches/topics.sh         # replay on SQLite only
#
# Every run gets a fresh server on a fresh ephemeral port (and a fresh SQLite
# directory or Postgres database). Records go to benches/results/topics.jsonl
# (truncated at the start); the tables are printed and written to
# benches/results/topics.md by `goonline-loadgen topics-report`.
#
# Environment (defaults in brackets):
#   ONLY            fanout, replay or both ["fanout replay"]
#   PAIRS           fan-out runs of each server, GoOnline and floor alternating [3]
#   SUBSCRIBERS [1000]  RATE (messages/s) [50]  DURATION (s) [10]  BODY_BYTES [100]
#   WRITERS         writer connections the messages are spread over [1]
#   REPLAY_EVENTS [100000]  REPLAY_ROUNDS [3]  REPLAY_LIMIT (REST page) [500]
#   SEED_SOCKETS [8]
#   TIMEOUT_SLACK   seconds a run may take past its expected length [120]
#   PAUSE           seconds of quiet between runs [1]
#   NO_PG=1, PG_HOST [127.0.0.1], PG_PORT [5432], PG_USER [postgres]
#   RESULTS_JSONL [benches/results/topics.jsonl]  REPORT_MD [benches/results/topics.md]
#   SKIP_BUILD=1    use the binaries as they are
#   KEEP_TMP=1      keep the scratch directory (server and loadgen logs)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

ONLY=${ONLY:-fanout replay}
ONLY=${ONLY//,/ }
PAIRS=${PAIRS:-3}
SUBSCRIBERS=${SUBSCRIBERS:-1000}
RATE=${RATE:-50}
DURATION=${DURATION:-10}
BODY_BYTES=${BODY_BYTES:-100}
WRITERS=${WRITERS:-1}
REPLAY_EVENTS=${REPLAY_EVENTS:-100000}
REPLAY_ROUNDS=${REPLAY_ROUNDS:-3}
REPLAY_LIMIT=${REPLAY_LIMIT:-500}
SEED_SOCKETS=${SEED_SOCKETS:-8}
TIMEOUT_SLACK=${TIMEOUT_SLACK:-120}
PAUSE=${PAUSE:-1}
NO_PG=${NO_PG:-0}
PG_HOST=${PG_HOST:-127.0.0.1}
PG_PORT=${PG_PORT:-5432}
PG_USER=${PG_USER:-postgres}
RESULTS_JSONL=${RESULTS_JSONL:-benches/results/topics.jsonl}
REPORT_MD=${REPORT_MD:-benches/results/topics.md}
SKIP_BUILD=${SKIP_BUILD:-0}
KEEP_TMP=${KEEP_TMP:-0}
DRY_RUN=0

GOONLINE_BIN=target/release/goonline
FLOOR_BIN=target/release/goonline-floor
LOADGEN_BIN=target/release/goonline-loadgen
PEERS_DIR=benches/peers
# One user holds every subscriber socket; the writer sends 50 messages/s and the
# seeders thousands: the per-connection, per-user and chat-send limits are raised
# so that they measure the server, not its abuse protection.
GOONLINE_FLAGS=(--max-connections-per-user 2000 --max-frames-per-sec 100000
    --heartbeat-secs 600 --chat-sends-per-10s 1000000)

# The servers take GOONLINE_* from the environment as flag defaults.
while read -r var; do unset "$var"; done < <(compgen -e | grep '^GOONLINE_' || true)

TMP=$(mktemp -d "${TMPDIR:-/tmp}/goonline-topics.XXXXXX")
mkdir -p "$TMP/logs"
SERVER_PID="" LOADGEN_PID="" CURRENT_DB="" RUN_SEQ=0 RUNS=0 FAILED_RUNS=0 PG_OK=0

# shellcheck source=benches/compare-lib.sh
source "$ROOT/benches/compare-lib.sh"

trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
MACHINE="$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(nproc) cores, $(awk '/^MemTotal:/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo) GB"

# server_warnings: what the server logged at warn level or above during the run.
server_warnings() {
    local n
    n=$(grep -c -E 'WARN|ERROR' "$SERVER_ERR_LOG" 2>/dev/null || true)
    if ((${n:-0} > 0)); then
        note "server logged $n warning/error lines; the last ones:"
        grep -E 'WARN|ERROR' "$SERVER_ERR_LOG" | tail -n 5 | cut -c1-300 | sed 's/^/     | /'
    fi
}

# run_one SCENARIO TARGET BACKEND LIMIT [--server ARGS... --] FLAGS...
run_one() {
    local scenario=$1 target=$2 backend=$3 limit=$4
    shift 4
    local -a server_args=()
    if [[ ${1:-} == --server ]]; then
        shift
        while [[ $1 != -- ]]; do
            server_args+=("$1")
            shift
        done
        shift
    fi
    RUNS=$((RUNS + 1))
    if [[ $target == goonline ]]; then
        server_args=("${GOONLINE_FLAGS[@]}" "${server_args[@]}")
    fi
    if ! start_server "$target" "${server_args[@]}"; then
        note "$START_ERROR"
        error_record "$scenario" "$target" native "$backend" "server did not start: $START_ERROR" "$@"
        FAILED_RUNS=$((FAILED_RUNS + 1))
        return 0
    fi
    note "$target pid $SERVER_PID on $SERVER_ADDR"
    local url="ws://$SERVER_ADDR"
    [[ $target == goonline ]] && url+=/v1/ws
    loadgen "$scenario" "$target" native "$backend" "$limit" "$scenario" \
        --url "$url" --server-pid "$SERVER_PID" --out "$RESULTS_FILE" "$@"
    [[ $target == goonline ]] && server_warnings
    stop_server
    sleep "$PAUSE"
}

fanout_one() {
    local target=$1
    progress "topics-fanout $target subscribers=$SUBSCRIBERS rate=$RATE writers=$WRITERS duration=$DURATION"
    run_one topics-fanout "$target" "" $((DURATION + TIMEOUT_SLACK)) \
        --target "$target" --subscribers "$SUBSCRIBERS" --rate "$RATE" --writers "$WRITERS" \
        --duration "$DURATION" --body-bytes "$BODY_BYTES"
}

scenario_fanout() {
    local i
    for ((i = 1; i <= PAIRS; i++)); do
        # Alternate which server goes first, so neither always runs on a warmer machine.
        if ((i % 2)); then
            fanout_one goonline
            fanout_one floor
        else
            fanout_one floor
            fanout_one goonline
        fi
    done
}

scenario_replay() {
    local backend
    for backend in sqlite postgres; do
        local -a server=()
        if [[ $backend == postgres ]]; then
            if [[ $PG_OK != 1 ]]; then
                note "topics-replay on Postgres skipped (unreachable or NO_PG=1)"
                continue
            fi
            new_db
            note "database $CURRENT_DB"
            server=(--server --database-url "$DB_URL" --)
        fi
        progress "topics-replay goonline backend=$backend events=$REPLAY_EVENTS rounds=$REPLAY_ROUNDS"
        run_one topics-replay goonline "$backend" $((5 * TIMEOUT_SLACK + REPLAY_EVENTS / 200)) \
            "${server[@]}" --backend "$backend" --events "$REPLAY_EVENTS" \
            --rounds "$REPLAY_ROUNDS" --limit "$REPLAY_LIMIT" --body-bytes "$BODY_BYTES" \
            --seed-sockets "$SEED_SOCKETS"
        end_db
    done
}

START=$SECONDS
say "== topics.sh: $ONLY"
if [[ $SKIP_BUILD != 1 ]]; then
    say "== build"
    cargo build --release -p goonline-server -p goonline-loadgen
fi
for bin in "$GOONLINE_BIN" "$FLOOR_BIN" "$LOADGEN_BIN"; do
    [[ -x $bin ]] || { echo "topics.sh: $bin missing" >&2; exit 1; }
done
hard=$(ulimit -Hn)
[[ $hard == unlimited ]] && hard=1048576
ulimit -n "$hard"
say "open files: $(ulimit -n)"
if [[ " $ONLY " == *" replay "* ]]; then
    pg_probe
fi

RESULTS_FILE=$RESULTS_JSONL
mkdir -p "$(dirname "$RESULTS_FILE")"
: >"$RESULTS_FILE"
for s in fanout replay; do
    [[ " $ONLY " == *" $s "* ]] || continue
    "scenario_$s"
done

say "== report"
if timeout 60 "$LOADGEN_BIN" topics-report "$RESULTS_FILE" >"$TMP/report.md"; then
    mv "$TMP/report.md" "$REPORT_MD"
    cat "$REPORT_MD"
    say "wrote $REPORT_MD and $RESULTS_FILE"
else
    say "report failed; raw results in $RESULTS_FILE" >&2
fi
elapsed=$((SECONDS - START))
say "== done: $RUNS runs ($FAILED_RUNS with errors) in $((elapsed / 60)) min $((elapsed % 60)) s"
