#!/usr/bin/env bash
# Starts the local single-node cluster (idempotent: what already runs is left alone):
# a network namespace holding the node IP, etcd, kube-apiserver (RBAC, Pod Security admission),
# controller-manager, scheduler, containerd, kubelet, kube-proxy, then CoreDNS. Writes
# .cache/cluster/kubeconfig; `kubectl` and `helm` in .cache/bin reach the API through it.
. "$(dirname "$0")/lib.sh"
for tool in containerd runc nsenter iptables openssl curl; do
  command -v "$tool" >/dev/null || die "$tool is missing: run \`make cluster-deps\` (Debian packages)"
done
[ -x "$CBIN/kube-apiserver" ] || die "cluster binaries missing: run \`make cluster-binaries\`"
[ "$(id -u)" = 0 ] || die "the local cluster needs root (network namespace, containerd, kubelet)"
bash "$HERE/pki.sh"
bash "$HERE/images.sh" system
mkdir -p "$STATE"/{pids,logs,var/lib/etcd,var/lib/kubelet,var/log/pods,etc/cni/net.d,var/lib/cni/networks} "$RUN"

# The node lives in its own network namespace: kube-proxy's and CNI's iptables rules stay there.
# A veth pair joins it to the host (node $NODE_IP, host $HOST_IP), so kubectl, helm and
# `kubectl port-forward` work from the host; deleting the namespace deletes the pair.
ip netns list | grep -qw "$NETNS" || ip netns add "$NETNS"
ip -n "$NETNS" link set lo up
if ! ip -n "$NETNS" link show k8s0 >/dev/null 2>&1; then
  ip link del "$HOST_IF" 2>/dev/null || true
  ip link add "$HOST_IF" type veth peer name k8s0 netns "$NETNS"
  ip -n "$NETNS" addr add "$NODE_IP/24" dev k8s0
  ip addr add "$HOST_IP/24" dev "$HOST_IF"
fi
ip link set "$HOST_IF" up
ip -n "$NETNS" link set k8s0 up
ip -n "$NETNS" route replace default via "$HOST_IP" dev k8s0
ip netns exec "$NETNS" sysctl -qw net.ipv4.ip_forward=1
ip netns exec "$NETNS" sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null || true

start() { # name command...: runs in the namespace, logs to logs/<name>.log, PID in pids/<name>.pid
  local name=$1
  shift
  pid_alive "$name" && return 0
  "${IN_NS[@]}" setsid "$@" >"$STATE/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$STATE/pids/$name.pid"
}
wait_for() { # what timeout_s command...
  local what=$1 timeout=$2 t0=$SECONDS
  shift 2
  until "$@" >/dev/null 2>&1; do
    ((SECONDS - t0 > timeout)) && die "$what not ready after ${timeout}s; see $STATE/logs/"
    sleep 0.3
  done
  log "$what ready ($((SECONDS - t0)) s)"
}
P="$STATE/pki"
render_to resolv.conf "$STATE/resolv.conf"

start etcd "$CBIN/etcd" --name dtmon --data-dir "$STATE/var/lib/etcd" \
  --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
  --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
  --initial-cluster dtmon=http://127.0.0.1:2380 --listen-metrics-urls http://127.0.0.1:2381 \
  --unsafe-no-fsync
wait_for etcd 60 "${IN_NS[@]}" curl -sf http://127.0.0.1:2381/health

# PodSecurity is among the default admission plugins: namespaces opt in with labels.
start kube-apiserver "$CBIN/kube-apiserver" --etcd-servers=http://127.0.0.1:2379 \
  --advertise-address="$NODE_IP" --bind-address=0.0.0.0 --secure-port=6443 \
  --tls-cert-file="$P/apiserver.crt" --tls-private-key-file="$P/apiserver.key" --client-ca-file="$P/ca.crt" \
  --kubelet-client-certificate="$P/apiserver-kubelet-client.crt" --kubelet-client-key="$P/apiserver-kubelet-client.key" \
  --kubelet-certificate-authority="$P/ca.crt" \
  --service-account-key-file="$P/sa.pub" --service-account-signing-key-file="$P/sa.key" \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-cluster-ip-range="$SVC_CIDR" --authorization-mode=Node,RBAC \
  --enable-admission-plugins=NodeRestriction --allow-privileged=true --profiling=false \
  --kubelet-preferred-address-types=InternalIP,Hostname
wait_for kube-apiserver 120 kc get --raw /readyz

start kube-controller-manager "$CBIN/kube-controller-manager" --kubeconfig="$STATE/controller-manager.kubeconfig" \
  --authentication-kubeconfig="$STATE/controller-manager.kubeconfig" --authorization-kubeconfig="$STATE/controller-manager.kubeconfig" \
  --service-account-private-key-file="$P/sa.key" --root-ca-file="$P/ca.crt" \
  --cluster-signing-cert-file="$P/ca.crt" --cluster-signing-key-file="$P/ca.key" \
  --use-service-account-credentials=true --allocate-node-cidrs=true --cluster-cidr="$POD_CIDR" \
  --service-cluster-ip-range="$SVC_CIDR" --node-cidr-mask-size=24 --bind-address=127.0.0.1 --leader-elect=false
start kube-scheduler "$CBIN/kube-scheduler" --kubeconfig="$STATE/scheduler.kubeconfig" \
  --authentication-kubeconfig="$STATE/scheduler.kubeconfig" --authorization-kubeconfig="$STATE/scheduler.kubeconfig" \
  --bind-address=127.0.0.1 --leader-elect=false
wait_for kube-controller-manager 60 "${IN_NS[@]}" curl -sfk https://127.0.0.1:10257/healthz
wait_for kube-scheduler 60 "${IN_NS[@]}" curl -sfk https://127.0.0.1:10259/healthz

render_to 10-dtmon.conflist "$STATE/etc/cni/net.d/10-dtmon.conflist"
render_to containerd.toml "$STATE/containerd.toml"
mkdir -p "$STATE/var/lib/containerd" "$RUN/containerd"
start containerd containerd --config "$STATE/containerd.toml"
wait_for containerd 30 "${CTR[@]}" version
bash "$HERE/images.sh" import

render_to kubelet.yaml "$STATE/kubelet.yaml"
start kubelet "$CBIN/kubelet" --config="$STATE/kubelet.yaml" --kubeconfig="$STATE/kubelet.kubeconfig" \
  --root-dir="$STATE/var/lib/kubelet" --cert-dir="$STATE/var/lib/kubelet/pki" \
  --node-ip="$NODE_IP" --hostname-override="$NODE"
wait_for "node $NODE" 120 kc wait --for=condition=Ready "node/$NODE" --timeout=2s
render_to kube-proxy.yaml "$STATE/kube-proxy.yaml"
start kube-proxy "$CBIN/kube-proxy" --config="$STATE/kube-proxy.yaml"
wait_for kube-proxy 60 "${IN_NS[@]}" curl -sf http://127.0.0.1:10256/healthz
# NetworkPolicies enforced: kube-router's firewall controller only (pods keep the bridge CNI,
# Services keep kube-proxy); bridged pod-to-pod traffic passes iptables (bridge-nf-call above).
start kube-router "$CBIN/kube-router" --kubeconfig="$KUBECONFIG_ADMIN" --hostname-override="$NODE" \
  --run-firewall=true --run-router=false --run-service-proxy=false --enable-cni=false \
  --health-port=20244 --metrics-port=0
wait_for kube-router 60 "${IN_NS[@]}" curl -sf http://127.0.0.1:20244/healthz

render coredns.yaml | kc apply -f - >/dev/null
wait_for CoreDNS 180 kc -n kube-system rollout status deploy/coredns --timeout=5s

# Storage: the default class and VOLUMES local volumes for the claims (Kafka's log, MinIO).
render storage.yaml | kc apply -f - >/dev/null
for i in $(seq 1 "${VOLUMES:-4}"); do
  dir="$STATE/var/volumes/pv-$i"
  mkdir -p "$dir" && chmod 0777 "$dir"
  kc apply -f - >/dev/null <<PV
apiVersion: v1
kind: PersistentVolume
metadata:
  name: local-pv-$i
spec:
  capacity: {storage: 10Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: local
  local: {path: $dir}
  nodeAffinity:
    required:
      nodeSelectorTerms:
        - matchExpressions:
            - {key: kubernetes.io/hostname, operator: In, values: [$NODE]}
PV
done
log "cluster up: export KUBECONFIG=$KUBECONFIG_ADMIN PATH=$BIN:\$PATH"
