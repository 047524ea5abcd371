#!/usr/bin/env bash
# The TypeScript SDK against the unmodified Yjs providers (issue 8): the same
# goonline release server, the same run, three clients — @goonline/client,
# @hocuspocus/provider and y-websocket. See benches/README.md, "Part 6".
#
#   bash benches/sdk.sh            # 5 runs (~1 min)
#
# Environment (defaults in brackets):
#   RUNS [5]  BENCH_DOCS [200]  BENCH_EDITS [2000]  BENCH_TIMEOUT_MS [20000]
#   SKIP_BUILD=1   use target/release/goonline and clients/ts/dist as they are
# The server runs with --max-frames-per-sec 100000 and --session-queue 8192: the
# peers send one frame per edit (and Hocuspocus gets one SyncStatus back for
# each), so the server's protections would close them (4430 over the frame
# budget, 4429 when 2,000 acks overflow a 1,024-message queue while the
# provider's loop is not reading), which is not what is measured here. Writes benches/results/sdk-providers.jsonl and
# benches/results/sdk-providers.md.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${RUNS:-5}
if [[ -z "${SKIP_BUILD:-}" ]]; then
    cargo build --release -p goonline-server --bin goonline --manifest-path "$ROOT/Cargo.toml"
    (cd "$ROOT/clients/ts" && npm ci --no-audit --no-fund --loglevel=error && npm run build)
fi
TARGET_DIR="$(cd "${CARGO_TARGET_DIR:-$ROOT/target}" && pwd)"
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/goonline-sdk-bench.XXXXXX")
cleanup() {
    if [[ -n "${SERVER_PID:-}" ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$SCRATCH"
}
trap cleanup EXIT

"$TARGET_DIR/release/goonline" serve --listen 127.0.0.1:0 --data-dir "$SCRATCH" \
    --allow-anonymous-docs --max-frames-per-sec 100000 --session-queue 8192 >"$SCRATCH/out" 2>"$SCRATCH/err" &
SERVER_PID=$!
for _ in $(seq 1 100); do
    grep -q '^listening on' "$SCRATCH/out" 2>/dev/null && break
    sleep 0.1
done
PORT=$(sed -n 's/^listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$SCRATCH/out")
[[ -n "$PORT" ]] || { cat "$SCRATCH/err"; exit 1; }

mkdir -p "$ROOT/benches/results"
(cd "$ROOT/clients/ts" && node bench/providers.mjs "ws://127.0.0.1:$PORT" "$RUNS") 2>"$SCRATCH/bench.err" | tee "$SCRATCH/bench.out"
grep '^{' "$SCRATCH/bench.out" >"$ROOT/benches/results/sdk-providers.jsonl"
sed -n '/^| measurement/,$p' "$SCRATCH/bench.out" >"$ROOT/benches/results/sdk-providers.md"
