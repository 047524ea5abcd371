# Functions for benches/compare.sh (sourced; not run on its own): cleanup,
# the JSON records the script writes itself, starting and stopping servers, one
# loadgen run with its time limit, and throwaway Postgres databases. They use the
# settings and state variables compare.sh defines before sourcing this file.
# shellcheck shell=bash
# shellcheck disable=SC2154,SC2034  # settings come from, and state goes back to, compare.sh
say() { printf '%s\n' "$*"; }
note() { printf '   %s\n' "$*"; }

# alive PID: the process exists and is neither a zombie waiting to be reaped nor
# dying (a status file that cannot be read counts as gone: it is being reaped).
alive() {
    local state
    state=$(sed -n 's/^State:[[:space:]]*\([A-Za-z]\).*/\1/p' "/proc/$1/status" 2>/dev/null) || return 1
    [[ -n $state && $state != Z && $state != X ]]
}

# stop_pid PID: SIGTERM, wait up to 10 s, then SIGKILL; reap it.
stop_pid() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        alive "$pid" || break
        sleep 0.1
    done
    if alive "$pid"; then
        note "pid $pid still running 10 s after SIGTERM: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

psql_admin() {
    psql -X -q -v ON_ERROR_STOP=1 -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres "$@"
}

drop_db() {
    psql_admin -c "drop database if exists \"$1\" with (force)" >/dev/null 2>&1 ||
        note "could not drop Postgres database $1"
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    trap '' PIPE # a closed terminal or pipe must not stop the cleanup half way
    if [[ -n $LOADGEN_PID ]]; then
        stop_pid "$LOADGEN_PID"
        LOADGEN_PID=""
    fi
    if [[ -n $SERVER_PID ]]; then
        stop_pid "$SERVER_PID"
        SERVER_PID=""
    fi
    if [[ -n $CURRENT_DB ]]; then
        drop_db "$CURRENT_DB"
        CURRENT_DB=""
    fi
    if [[ $KEEP_TMP == 1 ]]; then
        say "scratch directory kept: $TMP" || true
    else
        rm -rf "$TMP"
    fi
    exit "$rc"
}

# --- JSON for the records this script writes itself ------------------------------

json_str() {
    local s=$1
    s=${s//\\/\\\\}
    s=${s//\"/\\\"}
    s=$(printf '%s' "$s" | tr '\000-\037' ' ')
    printf '"%s"' "$s"
}

# params_json --flag value ...: the scenario's flags as a JSON object
# (`--per-doc 10` -> "per_doc": 10), without the common flags, paths and URLs.
params_json() {
    local out="" sep="" key val
    while (($# >= 2)); do
        key=${1#--}
        key=${key//-/_}
        val=$2
        shift 2
        case $key in url | target | dialect | server_pid | out | goonline_bin | database_url | backend) continue ;; esac
        if [[ $val =~ ^-?[0-9]+(\.[0-9]+)?$ ]]; then
            out+="$sep\"$key\":$val"
        else
            out+="$sep\"$key\":$(json_str "$val")"
        fi
        sep=","
    done
    printf '{%s}' "$out"
}

# The same description the loadgen puts in "machine", for the records written here.

# error_record SCENARIO TARGET DIALECT BACKEND MESSAGE FLAGS...: append one record
# for a run that produced none (server did not start, loadgen timed out or failed).
error_record() {
    local scenario=$1 target=$2 dialect=$3 backend=$4 message=$5
    shift 5
    local line
    line="{\"scenario\":$(json_str "$scenario"),\"target\":$(json_str "$target"),\"dialect\":$(json_str "$dialect")"
    line+=",\"params\":$(params_json "$@"),\"ok\":false"
    [[ -n $backend ]] && line+=",\"backend\":$(json_str "$backend")"
    line+=",\"machine\":$(json_str "$MACHINE"),\"at\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\""
    line+=",\"error\":$(json_str "$message")}"
    printf '%s\n' "$line" >>"$RESULTS_FILE"
    note "recorded error: $message"
}

# --- servers ------------------------------------------------------------------------

# start_server TARGET [goonline flags...]: start a fresh server on an ephemeral
# port and wait (30 s at most) for its `listening on http://ADDR` line.
# Sets SERVER_PID and SERVER_ADDR (host:port); on failure sets START_ERROR.
start_server() {
    local target=$1
    shift
    RUN_SEQ=$((RUN_SEQ + 1))
    local out="$TMP/logs/$RUN_SEQ-$target.out" err="$TMP/logs/$RUN_SEQ-$target.err"
    SERVER_ADDR=""
    START_ERROR=""
    case $target in
        goonline)
            # Benchmarks use plain document names (no tokens), as the peers do.
            GOONLINE_LOG=warn "$GOONLINE_BIN" serve --listen 127.0.0.1:0 \
                --data-dir "$TMP/gol-$RUN_SEQ" --allow-anonymous-docs "$@" >"$out" 2>"$err" &
            ;;
        floor)
            "$FLOOR_BIN" --listen 127.0.0.1:0 >"$out" 2>"$err" &
            ;;
        hocuspocus)
            node "$PEERS_DIR/hocuspocus.mjs" 0 >"$out" 2>"$err" &
            ;;
        y-websocket-server)
            node "$PEERS_DIR/y-websocket-server.mjs" 0 >"$out" 2>"$err" &
            ;;
    esac
    SERVER_PID=$!
    local deadline=$((SECONDS + 30)) line=""
    while :; do
        if line=$(grep -m1 '^listening on http://' "$out" 2>/dev/null); then
            break
        fi
        if ! alive "$SERVER_PID"; then
            wait "$SERVER_PID" 2>/dev/null || true
            SERVER_PID=""
            START_ERROR="$target exited before listening: $(tail -n 3 "$err" | paste -sd ' ' -)"
            return 1
        fi
        if ((SECONDS >= deadline)); then
            stop_pid "$SERVER_PID"
            SERVER_PID=""
            START_ERROR="$target printed no 'listening on' line within 30 s"
            return 1
        fi
        sleep 0.05
    done
    SERVER_ADDR=${line#listening on http://}
    SERVER_ADDR=${SERVER_ADDR%%[[:space:]]*}
    SERVER_ERR_LOG=$err
    if ! [[ ${SERVER_ADDR##*:} =~ ^[0-9]+$ ]]; then
        stop_pid "$SERVER_PID"
        SERVER_PID=""
        START_ERROR="$target: cannot parse '$line'"
        return 1
    fi
}

stop_server() {
    [[ -n $SERVER_PID ]] || return 0
    if ! alive "$SERVER_PID"; then
        note "the server had exited by itself during the run; its last log lines:"
        tail -n 5 "$SERVER_ERR_LOG" | sed 's/^/     | /'
    fi
    stop_pid "$SERVER_PID"
    SERVER_PID=""
}

# url_for TARGET DIALECT: where the loadgen connects (see benches/README.md).
url_for() {
    case "$1/$2" in
        goonline/yws) echo "ws://$SERVER_ADDR/y" ;;
        goonline/hocus) echo "ws://$SERVER_ADDR/hocuspocus" ;;
        goonline/native) echo "ws://$SERVER_ADDR/v1/ws" ;;
        */*) echo "ws://$SERVER_ADDR" ;;
    esac
}

dialect_for() {
    case $1 in
        hocuspocus) echo hocus ;;
        *) echo yws ;;
    esac
}

wanted_target() { [[ " $TARGETS " == *" $1 "* ]]; }

# --- one loadgen run ------------------------------------------------------------------

# loadgen SCENARIO TARGET DIALECT BACKEND TIMEOUT ARGS...: run the loadgen under
# a hard timeout; make sure the run leaves one record in the results.
loadgen() {
    local scenario=$1 target=$2 dialect=$3 backend=$4 limit=$5
    shift 5
    local -a cmd=("$LOADGEN_BIN" "$@")
    if [[ $DRY_RUN == 1 ]]; then
        printf '   $'
        printf ' %q' "${cmd[@]}"
        printf '\n'
        return 0
    fi
    local err="$TMP/logs/$RUN_SEQ-loadgen-$scenario.err" before after rc=0 t0=$SECONDS
    before=$(wc -l <"$RESULTS_FILE")
    timeout --kill-after=10 "$limit" "${cmd[@]}" >/dev/null 2>"$err" &
    LOADGEN_PID=$!
    wait "$LOADGEN_PID" || rc=$?
    LOADGEN_PID=""
    after=$(wc -l <"$RESULTS_FILE")
    sed 's/^/   | /' "$err" | tail -n 8
    local -a flags=("${@:2}")
    if ((after == before)); then
        local msg
        case $rc in
            124 | 137) msg="loadgen killed after the ${limit} s limit" ;;
            0) msg="loadgen exited 0 without writing a record" ;;
            *) msg="loadgen exited with status $rc: $(grep -v '^[[:space:]]*$' "$err" | tail -n 1)" ;;
        esac
        error_record "$scenario" "$target" "$dialect" "$backend" "$msg" "${flags[@]}"
        FAILED_RUNS=$((FAILED_RUNS + 1))
    elif ((rc != 0)); then
        note "loadgen exited with status $rc (its record is kept)"
        FAILED_RUNS=$((FAILED_RUNS + 1))
    fi
    note "took $((SECONDS - t0)) s"
}

# case_run SCENARIO TARGET DIALECT TIMEOUT [--server ARGS... --] FLAGS...: one run
# against a fresh server. Everything after the optional --server ... -- block is
# passed to the scenario subcommand.
case_run() {
    local scenario=$1 target=$2 dialect=$3 limit=$4
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
    local backend=""
    [[ $scenario == durable ]] && backend=${DURABLE_BACKEND:-sqlite}
    RUNS=$((RUNS + 1))
    if [[ $target == floor && ! -x $FLOOR_BIN && $DRY_RUN == 1 ]]; then
        note "(dry run: $FLOOR_BIN is not built; skipped)"
        return 0
    fi
    if ! start_server "$target" "${server_args[@]}"; then
        note "$START_ERROR"
        error_record "$scenario" "$target" "$dialect" "$backend" "server did not start: $START_ERROR" "$@"
        FAILED_RUNS=$((FAILED_RUNS + 1))
        return 0
    fi
    note "$target pid $SERVER_PID on $SERVER_ADDR"
    local url
    url=$(url_for "$target" "$dialect")
    loadgen "$scenario" "$target" "$dialect" "$backend" "$limit" "$scenario" \
        --url "$url" --target "$target" --dialect "$dialect" \
        --server-pid "$SERVER_PID" --out "$RESULTS_FILE" "$@"
    stop_server
    sleep "$PAUSE"
}

progress() { say "== $*"; }

# --- Postgres ---------------------------------------------------------------------------

pg_probe() {
    if [[ $NO_PG == 1 ]]; then
        say "note: NO_PG=1: Postgres runs skipped"
        return 0
    fi
    if ! command -v psql >/dev/null; then
        say "note: psql not found: Postgres runs skipped"
        return 0
    fi
    if psql_admin -Atc 'select 1' >/dev/null 2>&1; then
        PG_OK=1
        say "Postgres at $PG_HOST:$PG_PORT (user $PG_USER): $(psql_admin -Atc 'show server_version')"
    else
        say "note: Postgres at $PG_HOST:$PG_PORT (user $PG_USER) unreachable: Postgres runs skipped"
    fi
}

# new_db: create a fresh database, set CURRENT_DB and DB_URL.
new_db() {
    CURRENT_DB="goonline_bench_$$_$RUN_SEQ"
    psql_admin -c "create database \"$CURRENT_DB\"" >/dev/null
    DB_URL="postgres://$PG_USER@$PG_HOST:$PG_PORT/$CURRENT_DB"
}

end_db() {
    [[ -n $CURRENT_DB ]] || return 0
    drop_db "$CURRENT_DB"
    CURRENT_DB=""
}

