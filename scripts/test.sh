#!/usr/bin/env bash
# Runs every test: the Rust workspace (engine, protocol, server, benches helpers),
# then in clients/ts the TypeScript SDK (build, type-check, publint/attw, its
# tests against the real `goonline` binary) and the npm interop tests that drive
# that binary with unmodified y-websocket and Hocuspocus clients.
#
# Database tests run on SQLite always and on Postgres at TEST_DATABASE_URL
# (default: the local server, postgres://postgres@127.0.0.1:5432/test); each test
# creates and drops its own database.
set -euo pipefail
cd "$(dirname "$0")/.."

export TEST_DATABASE_URL="${TEST_DATABASE_URL:-${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}}"
# The Redis bus and multi-node tests (each under its own key prefix).
export TEST_REDIS_URL="${TEST_REDIS_URL:-${REDIS_URL:-redis://127.0.0.1:6379}}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

echo "== deployment files (Kubernetes, compose, workflow, Dockerfile, dashboard, backup round trip)"
bash scripts/validate-deploy.sh

echo "== Rust tests (Postgres at ${TEST_DATABASE_URL%%\?*})"
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --no-fail-fast
else
    cargo test --workspace --no-fail-fast
fi

echo "== TypeScript SDK (build, types, package lint, SDK tests) and npm interop tests against the real binary"
cargo build -p goonline-server --bin goonline
# Where cargo put it (a shared CARGO_TARGET_DIR is honoured).
TARGET_DIR="$(cd "${CARGO_TARGET_DIR:-target}" && pwd)"
(
    cd clients/ts
    npm ci --no-audit --no-fund --loglevel=error
    GOONLINE_BIN="$TARGET_DIR/debug/goonline" npm test
)
