#!/usr/bin/env bash
# The Prometheus Operator's CRDs at PROMETHEUS_OPERATOR_VERSION, taken from the YAML its own Go
# module ships (example/prometheus-operator-crd/ in the zip the Go module proxy serves), so the
# API server admits the chart's ServiceMonitors and PrometheusRule and the chart, which renders
# them only when the cluster serves monitoring.coreos.com/v1, renders them. The operator itself
# is not run: its go.mod has replace directives, so `go install` refuses to build it
# (docs/deploy-kubernetes.md); k8s/cluster/prometheus.sh does its translation instead.
#   prometheus-operator-crds.sh fetch     copy them to .cache/cluster/crds/prometheus-operator-<version>/
#   prometheus-operator-crds.sh install   fetch if needed, then apply them to the local cluster
. "$(dirname "$0")/lib.sh"
V=$PROMETHEUS_OPERATOR_VERSION
MODULE=github.com/prometheus-operator/prometheus-operator
OUT="$STATE/crds/prometheus-operator-$V"
# The CRDs dtmon's chart and a Prometheus Operator user need; the rest come along for free.
CRDS=(servicemonitors podmonitors prometheusrules probes scrapeconfigs prometheuses prometheusagents
  alertmanagers alertmanagerconfigs thanosrulers)

fetch() {
  [ -f "$OUT/.done" ] && return 0
  command -v go >/dev/null || die "Go is required to fetch the Prometheus Operator's module"
  local dir
  # Outside any module, so the Go module proxy is asked for exactly this version.
  dir=$(cd / && GOFLAGS=-mod=mod go mod download -json "$MODULE@$V" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p') || true
  [ -d "$dir/example/prometheus-operator-crd" ] || die "$MODULE@$V is not to be had from the Go module proxy"
  rm -rf "$OUT.tmp"
  mkdir -p "$OUT.tmp"
  for c in "${CRDS[@]}"; do
    cp "$dir/example/prometheus-operator-crd/monitoring.coreos.com_$c.yaml" "$OUT.tmp/"
  done
  chmod -R u+w "$OUT.tmp"   # the module cache is read-only
  rm -rf "$OUT"
  mv "$OUT.tmp" "$OUT"
  touch "$OUT/.done"
}

case "${1:-}" in
  fetch) fetch ;;
  install)
    fetch
    # Server-side: the Prometheus CRD is too large for the last-applied annotation.
    kc apply --server-side -f "$OUT" >/dev/null
    # `kubectl wait` fails outright while a new CRD has no status conditions yet: retry.
    for _ in $(seq 1 30); do
      kc wait --for=condition=Established crd/servicemonitors.monitoring.coreos.com \
        crd/prometheusrules.monitoring.coreos.com --timeout=60s >/dev/null 2>&1 && break
      sleep 1
    done
    kc wait --for=condition=Established crd/servicemonitors.monitoring.coreos.com \
      crd/prometheusrules.monitoring.coreos.com --timeout=10s >/dev/null \
      || die "the Prometheus Operator's CRDs are not established"
    log "Prometheus Operator $V CRDs installed"
    ;;
  *) die "usage: prometheus-operator-crds.sh fetch|install" ;;
esac
