# syntax=docker/dockerfile:1

# hookd's container image: a static binary on distroless, run as non-root.
#   docker build --build-arg VERSION=v0.1.0 -t hookd .
#   docker run -p 8071:8071 -e HOOKD_DB_DSN=... -e HOOKD_REDIS_DSN=... hookd

FROM golang:1.26 AS build
WORKDIR /src
# The image pins GOTOOLCHAIN=local; auto fetches the patch release go.mod
# asks for when the image's Go is older.
ENV CGO_ENABLED=0 GOTOOLCHAIN=auto
# Dependencies first, so that they stay cached while the code changes.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -ldflags "-s -w -X main.Version=${VERSION}" -o /out/hookd ./cmd/hookd

# distroless/static has CA certificates and time zone data, no shell; its
# nonroot user is 65532.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/hookd /usr/local/bin/hookd
USER nonroot:nonroot
ENV HOOKD_LISTEN_ADDRESS=0.0.0.0:8071
EXPOSE 8071
ENTRYPOINT ["hookd"]
CMD ["serve"]
