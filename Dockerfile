# Multi-stage build: compile with the Rust image, run on a small Debian with libpq only.
FROM rust:1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libpq-dev pkg-config && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY migrations migrations
COPY config config
COPY benches benches
COPY web web
RUN cargo build --release --locked --bin madoguchi

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libpq5 ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin madoguchi
WORKDIR /app
COPY --from=build /src/target/release/madoguchi /usr/local/bin/madoguchi
COPY config /app/config
RUN mkdir -p /app/var && chown -R madoguchi /app/var
USER madoguchi
ENV MADOGUCHI__SERVER__BIND=0.0.0.0:8080 \
    MADOGUCHI__LOG__FORMAT=json
EXPOSE 8080
# config/ may be replaced by a mounted folder; var/ holds the SQLite database (and mail files).
VOLUME ["/app/config", "/app/var"]
HEALTHCHECK --interval=30s --timeout=3s CMD ["/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080"]
ENTRYPOINT ["madoguchi"]
CMD ["serve"]
