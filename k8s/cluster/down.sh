#!/usr/bin/env bash
# Stops the local cluster in order and leaves nothing behind on the host: no process, mount,
# network namespace, veth, iptables rule or containerd state. Built binaries, the PKI and the
# image archives stay in .cache/cluster so the next `make cluster-up` is quick.
. "$(dirname "$0")/lib.sh"

# Workload pods first, through the kubelet, so CNI tears their networking down.
if pid_alive kubelet && pid_alive kube-apiserver; then
  kc get ns -o name 2>/dev/null | grep -vE '/(default|kube-system|kube-public|kube-node-lease)$' \
    | xargs -r "$CBIN/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" delete --wait=false >/dev/null 2>&1 || true
  kc drain "$NODE" --ignore-daemonsets --delete-emptydir-data --force --grace-period=1 --timeout=60s >/dev/null 2>&1 || true
  for _ in $(seq 1 60); do [ -z "$("${CTR[@]}" tasks ls -q 2>/dev/null)" ] && break; sleep 1; done
fi

for name in prometheus kube-router kube-proxy kubelet kube-scheduler kube-controller-manager; do stop_pid "$name"; done
if pid_alive containerd; then
  for t in $("${CTR[@]}" tasks ls -q 2>/dev/null); do "${CTR[@]}" tasks kill -s KILL "$t" 2>/dev/null || true; done
  sleep 1
  for t in $("${CTR[@]}" tasks ls -q 2>/dev/null); do "${CTR[@]}" tasks delete "$t" >/dev/null 2>&1 || true; done
  for c in $("${CTR[@]}" containers ls -q 2>/dev/null); do "${CTR[@]}" containers delete "$c" >/dev/null 2>&1 || true; done
fi
stop_pid containerd
stop_pid kube-apiserver
stop_pid etcd
# Shims outlive containerd by design; none may outlive the cluster.
pkill -9 -f "containerd-shim-runc-v2 -namespace k8s.io -address $CTR_SOCK" 2>/dev/null || true

# Mounts the kubelet and containerd made (volumes, rootfs, sandbox network namespaces).
{ grep -oE " ($STATE|$RUN|/run/netns/cni-)[^ ]*" /proc/mounts || true; } | sort -r | while read -r m; do
  umount -l "$m" 2>/dev/null || true
done
rm -f /run/netns/cni-* 2>/dev/null || true
ip netns del "$NETNS" 2>/dev/null || true
ip link del "$HOST_IF" 2>/dev/null || true
# Per-boot state: sockets, pod sandboxes and containers, pod volumes, IPAM leases, etcd data.
# Fixed host paths that kubelet and libcni use whatever they are told are removed too.
rm -rf "$RUN" "${STATE:?}/var" "${STATE:?}/etc" /var/lib/cni /var/log/containers /var/lib/kubelet \
  /usr/libexec/kubernetes 2>/dev/null || true
for f in "$STATE"/images/*.imported; do rm -f "$f"; done
log "cluster down"
