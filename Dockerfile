# Multi-stage build: a static binary on an empty base, running as non-root.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The generated templ files are committed, so no templ step is needed here.
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/portal ./cmd/portal

FROM scratch
# Root certificates for the HTTPS calls to Entra ID and Power Platform.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/portal /portal
USER 65532:65532
ENV PORTAL_ADDR=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["/portal", "serve"]
