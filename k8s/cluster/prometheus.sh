#!/usr/bin/env bash
# A real Prometheus beside the local cluster, scraping what the chart's ServiceMonitors select,
# as the Prometheus Operator would have it scrape (the operator does not build with `go install`).
# It is go-installed at PROMETHEUS_VERSION by build-binaries.sh: Debian's package is built
# without Kubernetes service discovery. It runs on the node, in the cluster's
# network namespace, where pod IPs are reachable, and finds the targets through the API
# server (kubernetes_sd_configs, role endpoints: the Services' Endpoints). Its configuration is
# translated from the ServiceMonitor and PrometheusRule objects the API server admitted
# (servicemonitor_scrape.py). Its HTTP API: http://NODE_IP:PROM_PORT from the host.
#   prometheus.sh start   (re)generate the configuration, start it on an empty TSDB, wait until ready
#   prometheus.sh stop    (down.sh stops it too)
. "$(dirname "$0")/lib.sh"
DIR="$STATE/prometheus"
URL="http://$NODE_IP:$PROM_PORT"

stop() { stop_pid prometheus 10; }

start() {
  [ -x "$CBIN/prometheus" ] || die "prometheus missing: run \`make cluster-binaries\`"
  kc get --raw /readyz >/dev/null 2>&1 || die "the local cluster is not running: \`make cluster-up\`"
  kc get crd servicemonitors.monitoring.coreos.com >/dev/null 2>&1 \
    || die "no ServiceMonitor CRD: run k8s/cluster/prometheus-operator-crds.sh install"
  stop
  rm -rf "$DIR"
  mkdir -p "$DIR/data" "$STATE/logs" "$STATE/pids"
  kc get servicemonitors,prometheusrules -A -o json \
    | python3 "$HERE/servicemonitor_scrape.py" --kubeconfig "$KUBECONFIG_ADMIN" --rules-dir "$DIR/rules" \
      >"$DIR/prometheus.yml" || die "translating the ServiceMonitors failed"
  "${IN_NS[@]}" setsid "$CBIN/prometheus" --config.file="$DIR/prometheus.yml" --storage.tsdb.path="$DIR/data" \
    --web.listen-address="$NODE_IP:$PROM_PORT" >"$STATE/logs/prometheus.log" 2>&1 </dev/null &
  echo $! >"$STATE/pids/prometheus.pid"
  for _ in $(seq 1 60); do
    if curl -fsS --noproxy '*' "$URL/-/ready" >/dev/null 2>&1; then
      log "Prometheus ready at $URL ($(grep -c '"job_name"' "$DIR/prometheus.yml") scrape jobs)"
      return 0
    fi
    pid_alive prometheus || die "Prometheus exited: $STATE/logs/prometheus.log"
    sleep 1
  done
  die "Prometheus not ready after 60 s: $STATE/logs/prometheus.log"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) die "usage: prometheus.sh start|stop" ;;
esac
