# Sourced by every k8s/cluster script: where the local cluster keeps its state, and the pins.
# shellcheck shell=bash
# shellcheck disable=SC2034  # the variables are for the scripts that source this file
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$ROOT/k8s/cluster"
set -a
# shellcheck source=../../versions.env
. "$ROOT/versions.env"
set +a
CACHE="$ROOT/.cache"
STATE="$CACHE/cluster"            # pki, kubeconfigs, logs, pids, etcd/kubelet/containerd state
CBIN="$STATE/bin"                 # kube-*, etcd, coredns
BIN="$CACHE/bin"                  # kubectl, helm for the user
NETNS=dtmon-k8s                   # the cluster's network namespace; kube-proxy's rules stay in it
NODE=dtmon-node
NODE_IP=10.200.0.1
HOST_IP=10.200.0.2                # the host end of the veth pair to the node
HOST_IF=dtmon-k8s0
POD_CIDR=10.244.0.0/16
SVC_CIDR=10.96.0.0/16
DNS_IP=10.96.0.10
PROM_PORT=9090                    # prometheus.sh: Debian's Prometheus on the node, at NODE_IP
IN_NS=(nsenter "--net=/var/run/netns/$NETNS")
KUBECONFIG_ADMIN="$STATE/kubeconfig"
RUN=/run/dtmon-k8s                # sockets: short fixed paths (unix sockets cap at 108 bytes)
CTR_SOCK="$RUN/containerd/containerd.sock"
CTR=(ctr --address "$CTR_SOCK" -n k8s.io)
# buildah's own image store (/var/lib/containers) is the machine's layer cache, as Docker's is:
# every checkout on the machine builds on the same cached layers.
BUILDAH=(buildah)

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
kc() { "$CBIN/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }
pid_alive() { local f="$STATE/pids/$1.pid"; [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null; }
# stop_pid NAME [SECONDS]: SIGTERM the process of $STATE/pids/NAME.pid, SIGKILL after SECONDS
# (default 15: kube-apiserver hangs on exit once etcd is gone), then forget its pid file.
stop_pid() {
  local f="$STATE/pids/$1.pid" p
  [ -f "$f" ] || return 0
  p=$(cat "$f")
  if kill -0 "$p" 2>/dev/null; then
    kill "$p" 2>/dev/null || true
    for _ in $(seq 1 $(( ${2:-15} * 5 ))); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$p" 2>/dev/null || true
  fi
  rm -f "$f"
}
# Renders a config template: @STATE@, @RUN@, @NODE@, @NODE_IP@, ... become their values.
render() {
  sed -e "s#@STATE@#$STATE#g" -e "s#@RUN@#$RUN#g" -e "s#@NODE@#$NODE#g" -e "s#@NODE_IP@#$NODE_IP#g" \
      -e "s#@POD_CIDR@#$POD_CIDR#g" -e "s#@SVC_CIDR@#$SVC_CIDR#g" -e "s#@DNS_IP@#$DNS_IP#g" \
      -e "s#@COREDNS_VERSION@#$COREDNS_VERSION#g" "$HERE/config/$1"
}
# Renders a template to a file, rewriting it only when the content changes: kube-proxy exits
# when its configuration file is touched, so an idempotent `up` must leave it alone.
render_to() {
  local tmp
  tmp=$(mktemp)
  render "$1" >"$tmp"
  if cmp -s "$tmp" "$2"; then rm -f "$tmp"; else mv "$tmp" "$2"; fi
}
