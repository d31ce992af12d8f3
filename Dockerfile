# The duxue image that deploy/ runs: the `duxue` binary on a slim Debian — glibc, /bin/sh for
# the pods' command, CA certificates for HTTPS targets (rustls reads the system's store) —
# run as an unprivileged user. Build from the repository root:
#   docker build -t registry.example.invalid/duxue:0.1.0 .
FROM rust:1.90-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p duxue-harness --bin duxue

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 10001 --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin duxue
COPY --from=build /src/target/release/duxue /usr/local/bin/duxue
USER 10001:10001
ENTRYPOINT ["/usr/local/bin/duxue"]
CMD ["--help"]
