#!/usr/bin/env bash
# Builds the two Go tools the deploy tests use, from their Go modules through the Go module proxy,
# into ${PWRESET_CACHE:-~/.cache/pwreset}/bin (once per version; later runs find them there):
#   - helm      (helm.sh/helm/v3/cmd/helm)                          -> the chart's lint and template
#   - promtool  (github.com/prometheus/prometheus/cmd/promtool)      -> alert rule checks and tests
# Needs the machine's Go toolchain (1.23 or newer). Prometheus's go.mod has replace directives, so
# `go install pkg@version` refuses it: its module is downloaded and built as the main module.
set -euo pipefail

HELM_VERSION="v3.17.3"
# Prometheus tags its Go module v0.<major><minor>.<patch>: v0.303.1 is Prometheus 3.3.1.
PROMETHEUS_MODULE_VERSION="v0.303.1"

bin="${PWRESET_CACHE:-$HOME/.cache/pwreset}/bin"
mkdir -p "$bin"

if ! command -v go >/dev/null 2>&1; then
    echo "install-go-tools: Go is needed to build helm and promtool (not found on PATH)" >&2
    exit 1
fi

if [ ! -x "$bin/helm-$HELM_VERSION" ]; then
    echo "install-go-tools: building helm $HELM_VERSION (a few minutes, once)"
    work="$(mktemp -d)"
    GOBIN="$work" GOFLAGS=-buildvcs=false go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
    mv "$work/helm" "$bin/helm-$HELM_VERSION"
    rm -rf "$work"
fi
ln -sf "helm-$HELM_VERSION" "$bin/helm"

if [ ! -x "$bin/promtool-$PROMETHEUS_MODULE_VERSION" ]; then
    echo "install-go-tools: building promtool from prometheus $PROMETHEUS_MODULE_VERSION (once)"
    module_dir="$(GOFLAGS=-mod=mod go mod download -json \
        "github.com/prometheus/prometheus@$PROMETHEUS_MODULE_VERSION" \
        | python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')"
    (cd "$module_dir" && GOFLAGS=-buildvcs=false go build -o "$bin/promtool-$PROMETHEUS_MODULE_VERSION" ./cmd/promtool)
fi
ln -sf "promtool-$PROMETHEUS_MODULE_VERSION" "$bin/promtool"
echo "install-go-tools: helm $HELM_VERSION and promtool (prometheus module $PROMETHEUS_MODULE_VERSION) in $bin"
