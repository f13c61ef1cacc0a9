# syntax=docker/dockerfile:1

# Tributary's image: one static binary on an empty base image, run as a
# non-root user, keeping the embedded store's data in the /data volume.
#
#   docker build --build-arg VERSION=v1.2.3 -t tributary:v1.2.3 .
#   docker run -p 127.0.0.1:8080:8080 -v tributary-data:/data tributary:v1.2.3
#
# tests/dockerfile_test.go holds this file to account without Docker: it
# parses it, builds the binary with the RUN below and runs what it built.

# GO_VERSION is go.mod's go directive (a test checks); VERSION is stamped into
# the binary (api version) and the image's labels.
ARG GO_VERSION=1.26.8
ARG VERSION=dev

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
COPY . .
ARG VERSION
ARG TARGETOS TARGETARCH
# Pure Go (the SQLite driver too), cross-compiled for the target platform.
# The cache mounts keep modules and compiled packages from build to build;
# go build fetches only the modules the binary needs, not the tests'.
ENV CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH}
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -ldflags="-s -w -X main.version=${VERSION}" -o /out/api ./cmd/api
# The runtime image has no shell to make directories with: make them here.
RUN mkdir -p /out/data /out/tmp && chmod 1777 /out/tmp

FROM scratch AS runtime
ARG VERSION
LABEL org.opencontainers.image.title="Tributary" \
      org.opencontainers.image.description="An HTTP/JSON event store on MySQL, MariaDB or an embedded SQLite database" \
      org.opencontainers.image.source="https://github.com/tributary-dev/tributary" \
      org.opencontainers.image.version="${VERSION}"
# CA roots for a TLS connection to MySQL (tls=true in the DSN; a private CA:
# SSL_CERT_FILE); /tmp, writable, though the embedded store keeps SQLite's
# temporary files in memory and runs under docker run --read-only.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/tmp /tmp
# A new named volume takes this directory's owner: the user below.
COPY --from=build --chown=65532:65532 /out/data /data
COPY --from=build /out/api /usr/local/bin/api
USER 65532:65532
ENV TRIBUTARY_ADDR=:8080 TRIBUTARY_DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 8080
# Exec form: there is no shell. api healthcheck GETs /readyz on
# TRIBUTARY_ADDR and gives up after 3 s.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --start-interval=2s --retries=3 \
    CMD ["/usr/local/bin/api", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/api"]
CMD ["serve"]
