#!/usr/bin/env bash
# Validates the deployment files without Docker or a cluster (run by
# scripts/test.sh, so by CI):
#
#   - deploy/k8s and deploy/restore manifests: kubernetes-validate --strict
#     against the newest Kubernetes it bundles and an older one still in use
#   - .github/workflows/*.yml: the GitHub workflow schema (check-jsonschema)
#   - docker-compose.yml: the Compose specification schema (check-jsonschema)
#   - Dockerfile: hadolint; shell scripts, and the scripts the backup and
#     restore Jobs run: shellcheck
#   - deploy/validate/checks.py: the files against each other and the server
#     (flags, variables, probe routes, the balancer, the dashboard's metrics)
#   - the backup round trip on Postgres: the CronJob's own script dumps a
#     database migrated to the current schema, its retention step deletes
#     only old dumps, and the restore Job's own script restores the dump into
#     an empty database whose rows equal the source's
#
# The tools are pinned in deploy/validate/requirements.txt and installed into
# target/deploy-venv (reused while that file is unchanged). Any problem, or a
# failed install, makes this exit non-zero; nothing is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=target/deploy-venv
REQUIREMENTS=deploy/validate/requirements.txt
# The newest Kubernetes kubernetes-validate bundles, and an older one that
# managed clusters still run.
K8S_VERSIONS=(1.37.0 1.30.0)

checks=0
failures=0
failed_step=0
fail() {
    echo "FAIL: $*" >&2
    # Counted once per step, however many of its parts failed.
    if ((failed_step != checks)); then
        failures=$((failures + 1))
        failed_step=$checks
    fi
}
step() {
    checks=$((checks + 1))
    echo "-- $*"
}

# Creates or refreshes the venv. Every command is checked explicitly: errexit
# does not apply inside a function called as a condition.
install_tools() {
    mkdir -p target || return 1
    # Two runs at once must not build the same venv together.
    exec 9>target/deploy-venv.lock || return 1
    flock 9 || return 1
    local want
    want="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)" || return 1
    if [[ -x "$VENV/bin/python" && "$(cat "$VENV/.requirements.sha256" 2>/dev/null)" == "$want" ]]; then
        return 0
    fi
    echo "installing the validation tools into $VENV"
    rm -rf "$VENV" || return 1
    python3 -m venv "$VENV" || return 1
    # --no-deps: exactly the pinned set; pip check proves it is complete.
    "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-input --no-deps \
        -r "$REQUIREMENTS" || return 1
    "$VENV/bin/pip" check --disable-pip-version-check || return 1
    echo "$want" >"$VENV/.requirements.sha256" || return 1
}

if ! install_tools; then
    echo "FAIL: could not install the validation tools ($REQUIREMENTS) into $VENV" >&2
    exit 1
fi
BIN="$VENV/bin"
CHECKS=(env PYTHONDONTWRITEBYTECODE=1 "$BIN/python" deploy/validate/checks.py)

manifests=(deploy/k8s/*.yaml deploy/restore/*.yaml)
for version in "${K8S_VERSIONS[@]}"; do
    step "Kubernetes manifests, strict, against $version"
    if ! out="$("$BIN/kubernetes-validate" --strict --quiet -k "$version" "${manifests[@]}" 2>&1)" ||
        grep -qE '^(WARN|ERROR)' <<<"$out"; then
        # A kind without a schema is only a warning to the tool; here it fails.
        fail "kubernetes-validate $version:"$'\n'"$out"
    fi
done

step "GitHub workflow schema"
"$BIN/check-jsonschema" --builtin-schema vendor.github-workflows .github/workflows/*.yml ||
    fail "check-jsonschema: .github/workflows"

step "Compose specification schema"
"$BIN/check-jsonschema" --builtin-schema vendor.compose-spec docker-compose.yml ||
    fail "check-jsonschema: docker-compose.yml"

step "Dockerfile (hadolint)"
"$BIN/hadolint" Dockerfile || fail "hadolint: Dockerfile"

step "Shell scripts (shellcheck)"
job_scripts="$(mktemp -d)"
trap 'rm -rf "$job_scripts"' EXIT
"${CHECKS[@]}" scripts "$job_scripts" || fail "could not extract the Jobs' scripts"
"$BIN/shellcheck" scripts/*.sh .ci/run || fail "shellcheck: scripts"
"$BIN/shellcheck" --shell=sh "$job_scripts"/*.sh || fail "shellcheck: scripts in deploy/ Jobs"

step "Deployment files against each other and the server"
"${CHECKS[@]}" static || fail "deploy/validate/checks.py static"

# ------------------------------------------------------------------------
# The backup round trip: the CronJob's and the restore Job's own scripts.

pg() { PGOPTIONS='-c client_min_messages=warning' psql "$1" -v ON_ERROR_STOP=1 -qAt "${@:2}"; }

# One digest per table, over every row in a fixed order.
table_digests() {
    local url="$1" table
    for table in doc_updates doc_snapshots doc_heads topics topic_events goonline_migrations; do
        printf '%s %s\n' "$table" "$(pg "$url" -c \
            "SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM $table t")"
    done
}

backup_round_trip() {
    local base server tag src dst dir
    base="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
    base="${base%%\?*}"
    server="${base%/*}"
    tag="deploy_validate_$$_${RANDOM}"
    src="$server/${tag}_src"
    dst="$server/${tag}_dst"
    dir="$(mktemp -d)"
    # shellcheck disable=SC2064 # expand now: these are this run's names
    trap "rm -rf '$dir' '$job_scripts'; pg '$base' -c 'DROP DATABASE IF EXISTS ${tag}_src' -c 'DROP DATABASE IF EXISTS ${tag}_dst' || true" EXIT

    pg "$base" -c "CREATE DATABASE ${tag}_src" -c "CREATE DATABASE ${tag}_dst" || return 1
    # The schema as the server builds it: every migration in order, each in
    # one transaction, recorded in goonline_migrations (engine/src/sql_store.rs).
    pg "$src" -c "CREATE TABLE goonline_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)" || return 1
    local f name
    for f in migrations/postgres/*.sql; do
        name="$(basename "$f" .sql)"
        pg "$src" -1 -f "$f" -c "INSERT INTO goonline_migrations VALUES (${name%%_*}, '$name', 0)" ||
            { echo "migration $f failed" >&2; return 1; }
    done
    pg "$src" <<'SQL' || return 1
INSERT INTO doc_updates (doc, seq, data, created_at)
    SELECT 'biz/b/ws/w/doc' || (g % 23), g, decode(md5(g::text), 'hex'), 1700000000000 + g
    FROM generate_series(1, 500) g;
INSERT INTO doc_snapshots (doc, seq, data, updated_at)
    SELECT 'biz/b/ws/w/doc' || g, 0, decode(md5('s' || g), 'hex'), 1700000000000 FROM generate_series(0, 22) g;
INSERT INTO doc_heads (doc, seq)
    SELECT doc, max(seq) FROM doc_updates GROUP BY doc
    ON CONFLICT (doc) DO UPDATE SET seq = excluded.seq;
INSERT INTO topics (name, kind, last_seq, first_seq, created_at)
    SELECT 'chat/' || g, 'chat', 40, 1, 1700000000000 FROM generate_series(1, 9) g;
INSERT INTO topic_events (topic, seq, at, data, subject)
    SELECT 'chat/' || t, s, 1700000000000 + s, '{"n":' || s || '}', CASE WHEN s % 3 = 0 THEN 'm' || s END
    FROM generate_series(1, 9) t, generate_series(1, 40) s;
SQL
    # The partitioned tables are what is being backed up.
    [[ "$(pg "$src" -c "SELECT count(*) FROM pg_inherits WHERE inhparent = 'doc_updates'::regclass")" == 16 ]] ||
        { echo "doc_updates is not in 16 partitions after the migrations" >&2; return 1; }

    # Retention: a dump older than RETENTION_DAYS goes, a recent one stays.
    touch -d '20 days ago' "$dir/goonline-20000101T000000Z.dump"
    touch -d '3 days ago' "$dir/goonline-recent.dump"
    local backup restore
    backup="$("${CHECKS[@]}" script 81-backup-cronjob.yaml)" || return 1
    restore="$("${CHECKS[@]}" script pg-restore-job.yaml)" || return 1
    DATABASE_URL="$src" BACKUP_DIR="$dir" RETENTION_DAYS=14 sh -c "$backup" ||
        { echo "the CronJob's script failed" >&2; return 1; }
    [[ ! -e "$dir/goonline-20000101T000000Z.dump" ]] || { echo "retention kept an old dump" >&2; return 1; }
    [[ -e "$dir/goonline-recent.dump" ]] || { echo "retention deleted a recent dump" >&2; return 1; }
    local dumps=("$dir"/goonline-2*Z.dump)
    [[ ${#dumps[@]} == 1 && -s "${dumps[0]}" ]] || { echo "expected one new dump, got: ${dumps[*]}" >&2; return 1; }
    ! compgen -G "$dir/*.partial" >/dev/null || { echo "a .partial file was left behind" >&2; return 1; }

    RESTORE_DATABASE_URL="$dst" BACKUP_DIR="$dir" DUMP_FILE="$(basename "${dumps[0]}")" sh -c "$restore" ||
        { echo "the restore Job's script failed" >&2; return 1; }
    local want got
    want="$(table_digests "$src")" || return 1
    got="$(table_digests "$dst")" || return 1
    if [[ "$want" != "$got" ]]; then
        echo "restored rows differ from the source:" >&2
        diff <(echo "$want") <(echo "$got") >&2 || true
        return 1
    fi
    [[ "$(pg "$dst" -c "SELECT relkind FROM pg_class WHERE oid = 'topic_events'::regclass")" == p ]] ||
        { echo "topic_events is not partitioned after the restore" >&2; return 1; }
    # A second restore into the now non-empty database must refuse.
    if RESTORE_DATABASE_URL="$dst" BACKUP_DIR="$dir" DUMP_FILE="$(basename "${dumps[0]}")" \
        sh -c "$restore" 2>/dev/null; then
        echo "the restore Job restored into a database that was not empty" >&2
        return 1
    fi
    echo "backup round trip: $(wc -l <<<"$want") tables equal after dump and restore"
}

step "Backup round trip on Postgres (pg_dump CronJob, restore Job)"
backup_round_trip || fail "backup round trip"

echo "validate-deploy: $((checks - failures)) passed, $failures failed"
((failures == 0))
