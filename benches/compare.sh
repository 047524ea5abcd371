#!/usr/bin/env bash
# Side-by-side comparison of GoOnline with the raw WebSocket floor, Hocuspocus and
# @y/websocket-server, driven by goonline-loadgen (see benches/README.md).
#
#   bash benches/compare.sh                  # default set, under 15 minutes on 2 cores
#   FULL=1 bash benches/compare.sh           # the whole fan-out grid (much longer)
#   ONLY="fanout idle" bash benches/compare.sh
#   DRY_RUN=1 ONLY=fanout bash benches/compare.sh   # start/stop servers, print loadgen commands
#
# Every run gets a fresh server process on a fresh ephemeral port. Results are
# appended, one JSON line per run, to benches/results/latest.jsonl (truncated at
# the start), then rendered by `goonline-loadgen report` into benches/RESULTS.md.
#
# Environment (defaults in brackets):
#   ONLY            scenarios to run, space or comma separated
#                   [fanout rooms idle presence writers durable coldload]
#   TARGETS         targets to run, where a scenario has them
#                   [goonline floor hocuspocus y-websocket-server]
#   FULL=1          fan-out over readers {10,100,1000,5000} x rates {10,100,1000,4000}
#   FANOUT_CELLS    fan-out cells as READERS:RATE, e.g. "1000:10 1000:100"
#                   [1000:10 1000:100 1000:1000 1000:4000 10:100 100:100 5000:100]
#   DURATION        overrides every scenario's duration (seconds)
#   FANOUT_DURATION [5]  ROOMS_DURATION [15]  PRESENCE_DURATION [20]
#   WRITERS_DURATION [15]  DURABLE_DURATION [5]
#   ROOMS_DOCS [1000]  ROOMS_PER_DOC [10]  ROOMS_RATE [1]
#   IDLE_CONNECTIONS ["1000 10000"]
#   PRESENCE_CLIENTS [500]  PRESENCE_RATE [10]
#   WRITERS [50]  WRITERS_RATE [20]  WRITERS_READERS [200]
#   DURABLE_WRITERS [32]
#   COLDLOAD_UPDATES ["10000 100000"]
#   TIMEOUT_SLACK   seconds a run may take past its duration before it is killed [60]
#   PAUSE           seconds of quiet between runs [1]
#   PG_HOST [127.0.0.1]  PG_PORT [5432]  PG_USER [postgres]   (Postgres runs are
#                   skipped with a note when it is unreachable; NO_PG=1 skips them)
#   RESULTS_JSONL [benches/results/latest.jsonl]  REPORT_MD [benches/RESULTS.md]
#   DRY_RUN=1       start and stop the servers but only print the loadgen commands
#                   (results go to a scratch file; RESULTS.md is not touched)
#   SKIP_BUILD=1    use the binaries and benches/peers/node_modules as they are
#   KEEP_TMP=1      keep the scratch directory (server and loadgen logs)
#   LOADGEN_BIN     the load generator [target/release/goonline-loadgen] (a stand-in for tests)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

# --- settings -----------------------------------------------------------------

ALL_SCENARIOS="fanout rooms idle presence writers durable coldload"
ALL_TARGETS="goonline floor hocuspocus y-websocket-server"

ONLY=${ONLY:-$ALL_SCENARIOS}
ONLY=${ONLY//,/ }
TARGETS=${TARGETS:-$ALL_TARGETS}
TARGETS=${TARGETS//,/ }
FULL=${FULL:-0}
DRY_RUN=${DRY_RUN:-0}
SKIP_BUILD=${SKIP_BUILD:-0}
KEEP_TMP=${KEEP_TMP:-0}
NO_PG=${NO_PG:-0}

if [[ $FULL == 1 ]]; then
    default_cells=""
    for r in 10 100 1000 5000; do
        for q in 10 100 1000 4000; do default_cells+="$r:$q "; done
    done
else
    default_cells="1000:10 1000:100 1000:1000 1000:4000 10:100 100:100 5000:100"
fi
FANOUT_CELLS=${FANOUT_CELLS:-$default_cells}
FANOUT_DURATION=${FANOUT_DURATION:-${DURATION:-5}}
ROOMS_DURATION=${ROOMS_DURATION:-${DURATION:-15}}
ROOMS_DOCS=${ROOMS_DOCS:-1000}
ROOMS_PER_DOC=${ROOMS_PER_DOC:-10}
ROOMS_RATE=${ROOMS_RATE:-1}
IDLE_CONNECTIONS=${IDLE_CONNECTIONS:-1000 10000}
PRESENCE_DURATION=${PRESENCE_DURATION:-${DURATION:-20}}
PRESENCE_CLIENTS=${PRESENCE_CLIENTS:-500}
PRESENCE_RATE=${PRESENCE_RATE:-10}
WRITERS_DURATION=${WRITERS_DURATION:-${DURATION:-15}}
WRITERS=${WRITERS:-50}
WRITERS_RATE=${WRITERS_RATE:-20}
WRITERS_READERS=${WRITERS_READERS:-200}
DURABLE_DURATION=${DURABLE_DURATION:-${DURATION:-5}}
DURABLE_WRITERS=${DURABLE_WRITERS:-32}
COLDLOAD_UPDATES=${COLDLOAD_UPDATES:-10000 100000}
TIMEOUT_SLACK=${TIMEOUT_SLACK:-60}
PAUSE=${PAUSE:-1}
PG_HOST=${PG_HOST:-127.0.0.1}
PG_PORT=${PG_PORT:-5432}
PG_USER=${PG_USER:-postgres}
RESULTS_JSONL=${RESULTS_JSONL:-benches/results/latest.jsonl}
REPORT_MD=${REPORT_MD:-benches/RESULTS.md}

GOONLINE_BIN=target/release/goonline
FLOOR_BIN=target/release/goonline-floor
LOADGEN_BIN=${LOADGEN_BIN:-target/release/goonline-loadgen}
PEERS_DIR=benches/peers

for s in $ONLY; do
    [[ " $ALL_SCENARIOS " == *" $s "* ]] || { echo "compare.sh: unknown scenario '$s' (known: $ALL_SCENARIOS)" >&2; exit 2; }
done
for t in $TARGETS; do
    [[ " $ALL_TARGETS " == *" $t "* ]] || { echo "compare.sh: unknown target '$t' (known: $ALL_TARGETS)" >&2; exit 2; }
done

# The servers take GOONLINE_* from the environment as flag defaults: a stray
# GOONLINE_DATABASE_URL would silently move the SQLite runs to Postgres.
while read -r var; do unset "$var"; done < <(compgen -e | grep '^GOONLINE_' || true)

# --- state and cleanup ----------------------------------------------------------

TMP=$(mktemp -d "${TMPDIR:-/tmp}/goonline-compare.XXXXXX")
mkdir -p "$TMP/logs"
SERVER_PID=""      # the one server running now, if any
LOADGEN_PID=""     # the `timeout` wrapping the loadgen running now, if any
CURRENT_DB=""      # the Postgres database in use now, if any
RUN_SEQ=0
RUNS=0
FAILED_RUNS=0
PG_OK=0

# shellcheck source=benches/compare-lib.sh
source "$ROOT/benches/compare-lib.sh"

trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
MACHINE="$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(nproc) cores, $(awk '/^MemTotal:/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo) GB"

# --- scenarios ----------------------------------------------------------------------------

scenario_fanout() {
    local cell readers rate target dialect variant label
    for cell in $FANOUT_CELLS; do
        readers=${cell%%:*}
        rate=${cell##*:}
        local -a variants=()
        for target in $TARGETS; do
            variants+=("$target:$(dialect_for "$target")")
            if [[ $target == goonline && $readers == 1000 ]]; then
                variants+=("goonline:hocus")
            fi
        done
        for variant in "${variants[@]}"; do
            target=${variant%%:*}
            dialect=${variant##*:}
            label=$target
            [[ $dialect == "$(dialect_for "$target")" ]] || label+=" dialect=$dialect"
            progress "fanout $label readers=$readers rate=$rate"
            case_run fanout "$target" "$dialect" $((FANOUT_DURATION + TIMEOUT_SLACK)) \
                --readers "$readers" --rate "$rate" --duration "$FANOUT_DURATION"
        done
    done
}

scenario_rooms() {
    local target
    for target in $TARGETS; do
        [[ $target == floor ]] && continue
        progress "rooms $target docs=$ROOMS_DOCS per-doc=$ROOMS_PER_DOC rate-per-doc=$ROOMS_RATE"
        case_run rooms "$target" "$(dialect_for "$target")" $((ROOMS_DURATION + 2 * TIMEOUT_SLACK)) \
            --docs "$ROOMS_DOCS" --per-doc "$ROOMS_PER_DOC" --rate-per-doc "$ROOMS_RATE" \
            --duration "$ROOMS_DURATION"
    done
}

scenario_idle() {
    local n target
    for n in $IDLE_CONNECTIONS; do
        for target in $TARGETS; do
            progress "idle $target connections=$n"
            case_run idle "$target" "$(dialect_for "$target")" $((2 * TIMEOUT_SLACK)) \
                --connections "$n"
        done
    done
}

scenario_presence() {
    local mode target
    for mode in on off; do
        for target in $TARGETS; do
            [[ $target == floor ]] && continue
            progress "presence $target presence=$mode clients=$PRESENCE_CLIENTS rate=$PRESENCE_RATE"
            case_run presence "$target" "$(dialect_for "$target")" $((PRESENCE_DURATION + TIMEOUT_SLACK)) \
                --clients "$PRESENCE_CLIENTS" --rate "$PRESENCE_RATE" --presence "$mode" \
                --duration "$PRESENCE_DURATION"
        done
    done
}

scenario_writers() {
    local target
    for target in $TARGETS; do
        [[ $target == floor ]] && continue
        progress "writers $target writers=$WRITERS rate-per-writer=$WRITERS_RATE readers=$WRITERS_READERS"
        case_run writers "$target" "$(dialect_for "$target")" $((WRITERS_DURATION + TIMEOUT_SLACK)) \
            --writers "$WRITERS" --rate-per-writer "$WRITERS_RATE" --readers "$WRITERS_READERS" \
            --duration "$WRITERS_DURATION"
    done
}

scenario_durable() {
    wanted_target goonline || return 0
    progress "durable goonline backend=sqlite writers=$DURABLE_WRITERS"
    DURABLE_BACKEND=sqlite case_run durable goonline native $((DURABLE_DURATION + TIMEOUT_SLACK)) \
        --writers "$DURABLE_WRITERS" --duration "$DURABLE_DURATION" --backend sqlite
    if [[ $PG_OK == 1 ]]; then
        progress "durable goonline backend=postgres writers=$DURABLE_WRITERS"
        new_db
        note "database $CURRENT_DB"
        DURABLE_BACKEND=postgres case_run durable goonline native $((DURABLE_DURATION + TIMEOUT_SLACK)) \
            --server --database-url "$DB_URL" -- \
            --writers "$DURABLE_WRITERS" --duration "$DURABLE_DURATION" --backend postgres
        end_db
    else
        note "durable on Postgres skipped (unreachable)"
    fi
}

scenario_coldload() {
    wanted_target goonline || return 0
    local n backend url
    for n in $COLDLOAD_UPDATES; do
        for backend in sqlite postgres; do
            if [[ $backend == postgres && $PG_OK != 1 ]]; then
                note "coldload updates=$n on Postgres skipped (unreachable)"
                continue
            fi
            progress "coldload goonline backend=$backend updates=$n"
            RUNS=$((RUNS + 1))
            RUN_SEQ=$((RUN_SEQ + 1))
            if [[ $backend == postgres ]]; then
                new_db
                note "database $CURRENT_DB"
                url=$DB_URL
            else
                mkdir -p "$TMP/cold-$RUN_SEQ"
                url="sqlite://$TMP/cold-$RUN_SEQ/goonline.db?mode=rwc"
            fi
            # The loadgen starts and stops goonline itself: no --url, --server-pid,
            # --target or --dialect (it has none of them); it appends two records
            # (variant log_N and snapshot).
            loadgen coldload goonline native "$backend" $((5 * TIMEOUT_SLACK)) coldload \
                --out "$RESULTS_FILE" --goonline-bin "$GOONLINE_BIN" --database-url "$url" \
                --updates "$n" --backend "$backend"
            end_db
            sleep "$PAUSE"
        done
    done
}

# --- main -----------------------------------------------------------------------------------

START=$SECONDS
say "== compare.sh: scenarios: $ONLY; targets: $TARGETS$([[ $DRY_RUN == 1 ]] && echo '; DRY RUN')"

if [[ $SKIP_BUILD != 1 ]]; then
    say "== build"
    if [[ $DRY_RUN == 1 ]]; then
        cargo build --release -p goonline-server
        cargo build --release -p goonline-loadgen ||
            say "note: goonline-loadgen does not build (yet): dry run goes on without it"
    else
        cargo build --release -p goonline-server -p goonline-loadgen
    fi
    say "== npm ci in $PEERS_DIR"
    if ! (cd "$PEERS_DIR" && npm ci --no-audit --no-fund >"$TMP/logs/npm-ci.log" 2>&1); then
        cat "$TMP/logs/npm-ci.log" >&2
        exit 1
    fi
    grep -E "EBADENGINE +(package|required):" "$TMP/logs/npm-ci.log" | sed "s/^npm warn EBADENGINE */note (engines): /" || true
fi
[[ -x $GOONLINE_BIN ]] || { echo "compare.sh: $GOONLINE_BIN missing" >&2; exit 1; }
if [[ $DRY_RUN != 1 ]]; then
    [[ -x $LOADGEN_BIN ]] || { echo "compare.sh: $LOADGEN_BIN missing" >&2; exit 1; }
    if wanted_target floor; then
        [[ -x $FLOOR_BIN ]] || { echo "compare.sh: $FLOOR_BIN missing" >&2; exit 1; }
    fi
fi

peer_version() {
    node -p "require('./$PEERS_DIR/node_modules/$1/package.json').version" 2>/dev/null || echo unknown
}
NODE_VERSION=$(node --version)
PEER_VERSIONS="hocuspocus=$(peer_version @hocuspocus/server) y-websocket-server=$(peer_version @y/websocket-server) node=${NODE_VERSION#v}"
export PEER_VERSIONS
say "peers: $PEER_VERSIONS"

hard=$(ulimit -Hn)
[[ $hard == unlimited ]] && hard=1048576
ulimit -n "$hard"
say "open files: $(ulimit -n)"
if (($(ulimit -n) < 20000)); then
    say "note: fewer than 20,000 open files allowed: the 10,000-connection runs may fail"
fi

pg_probe

if [[ $DRY_RUN == 1 ]]; then
    RESULTS_FILE="$TMP/results.jsonl"
else
    RESULTS_FILE=$RESULTS_JSONL
    mkdir -p "$(dirname "$RESULTS_FILE")"
fi
: >"$RESULTS_FILE"

for s in $ALL_SCENARIOS; do
    [[ " $ONLY " == *" $s "* ]] || continue
    "scenario_$s"
done

say "== report"
if [[ $DRY_RUN == 1 ]]; then
    printf '   $ PEER_VERSIONS=%q %q report %q > %q\n' "$PEER_VERSIONS" "$LOADGEN_BIN" "$RESULTS_JSONL" "$REPORT_MD"
else
    if timeout 120 "$LOADGEN_BIN" report "$RESULTS_FILE" >"$TMP/report.md"; then
        mv "$TMP/report.md" "$REPORT_MD"
        say "wrote $REPORT_MD and $RESULTS_FILE"
    else
        say "report failed; raw results in $RESULTS_FILE" >&2
    fi
fi

elapsed=$((SECONDS - START))
say "== done: $RUNS runs ($FAILED_RUNS with errors) in $((elapsed / 60)) min $((elapsed % 60)) s"
