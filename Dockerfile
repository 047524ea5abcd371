# syntax=docker/dockerfile:1.7
#
# The `goonline` server image: built in a Rust image with cargo's registry and
# target directory kept in BuildKit cache mounts (a rebuild after a source
# change recompiles only the workspace crates), then copied alone into a slim
# Debian runtime that runs it as an unprivileged user.
#
#   docker build -t goonline .
#   docker run -p 8080:8080 -v goonline-data:/data goonline
#
# See docs/deploy.md for compose, Kubernetes, TLS and backups.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=trixie

FROM rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS builder
WORKDIR /src
COPY . .
# The cache mounts vanish after this step, so the binary is copied out of the
# target directory inside it.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked -p goonline-server --bin goonline \
    && install -D -m 0755 target/release/goonline /out/goonline

FROM debian:${DEBIAN_RELEASE}-slim AS runtime
# ca-certificates: webhooks and OpenID Connect call HTTPS endpoints verified
# against the system roots. curl: the HEALTHCHECK below. Not pinned to exact
# versions: the release's security updates replace them, and pinned versions
# disappear from the archive.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 goonline \
    && useradd --system --uid 10001 --gid goonline --home-dir /data --shell /usr/sbin/nologin goonline \
    && install -d -o goonline -g goonline -m 0700 /data
COPY --from=builder /out/goonline /usr/local/bin/goonline

# The embedded SQLite store and the generated token secret live here when no
# --database-url / --jwt-secret is given.
ENV GOONLINE_DATA_DIR=/data
VOLUME ["/data"]
WORKDIR /data
USER 10001:10001
EXPOSE 8080

# Readiness, not mere liveness: a node whose store is unreachable or that is
# draining reports unhealthy. A node serving TLS (--tls-cert) needs this
# overridden with https:// and --insecure or its CA.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["curl", "--fail", "--silent", "--show-error", "--max-time", "2", "http://127.0.0.1:8080/readyz"]

# The server handles SIGTERM itself (drain, then exit 0), so it runs as PID 1.
STOPSIGNAL SIGTERM
ENTRYPOINT ["goonline"]
CMD ["serve", "--listen", "0.0.0.0:8080", "--data-dir", "/data"]
