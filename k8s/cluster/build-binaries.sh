#!/usr/bin/env bash
# Builds the cluster's programs from the Go module proxy into .cache/cluster/bin. Kubernetes'
# own module cannot be `go install`ed (its go.mod replaces the staging modules with paths), so
# a generated wrapper module requires it and maps every staging module to its published
# v0.x.y twin. CoreDNS and kube-router (NetworkPolicy) install with `go install`.
# Cold: 12-18 min on 2 cores; with a warm Go build cache: seconds.
. "$(dirname "$0")/lib.sh"
command -v go >/dev/null || die "Go is required to build the cluster (go not on PATH)"
V=$KUBERNETES_VERSION
STAMP="$CBIN/.built-$V-$ETCD_VERSION-$COREDNS_VERSION-$KUBE_ROUTER_VERSION-$PROMETHEUS_VERSION"
[ -f "$STAMP" ] && exit 0
WRAP="$STATE/src/kube-$V"
mkdir -p "$CBIN" "$WRAP" "$BIN"
export GOFLAGS="-buildvcs=false -mod=mod" CGO_ENABLED=0

if [ ! -f "$WRAP/go.mod" ]; then
  log "generating the wrapper module for Kubernetes v$V"
  kmod=$(go mod download -json "k8s.io/kubernetes@v$V" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
  {
    printf 'module dtmon.local/kubewrap\n\ngo 1.25.0\n\ngodebug default=go1.25\n\n'
    printf 'require (\n\tk8s.io/kubernetes v%s\n\tgo.etcd.io/etcd/server/v3 v%s\n)\n\nreplace (\n' "$V" "$ETCD_VERSION"
    sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#\t\1 => \1 v0.'"${V#1.}"'#p' "$kmod"
    printf ')\n'
  } > "$WRAP/go.mod.tmp"
  mv "$WRAP/go.mod.tmp" "$WRAP/go.mod"
fi

LD="-s -w -X k8s.io/component-base/version.gitVersion=v$V -X k8s.io/component-base/version.gitMajor=1"
LD="$LD -X k8s.io/component-base/version.gitMinor=$(echo "$V" | cut -d. -f2) -X k8s.io/component-base/version.gitTreeState=clean"
LD="$LD -X k8s.io/client-go/pkg/version.gitVersion=v$V"
for c in kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl kube-proxy etcd; do
  [ -x "$CBIN/$c" ] && continue
  pkg=k8s.io/kubernetes/cmd/$c; [ "$c" = etcd ] && pkg=go.etcd.io/etcd/server/v3
  t0=$SECONDS
  (cd "$WRAP" && go build -trimpath -ldflags "$LD" -o "$CBIN/$c.tmp" "$pkg") || die "building $c failed"
  mv "$CBIN/$c.tmp" "$CBIN/$c"
  log "built $c in $((SECONDS - t0)) s"
done
if [ ! -x "$CBIN/coredns" ]; then
  t0=$SECONDS
  GOFLAGS=-buildvcs=false GOBIN="$CBIN" go install -trimpath -ldflags "-s -w" \
    "github.com/coredns/coredns@v$COREDNS_VERSION" || die "building coredns v$COREDNS_VERSION failed"
  log "built coredns in $((SECONDS - t0)) s"
fi
if [ ! -x "$CBIN/kube-router" ]; then
  t0=$SECONDS
  GOFLAGS=-buildvcs=false GOBIN="$CBIN" go install -trimpath -ldflags "-s -w" \
    "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router@v$KUBE_ROUTER_VERSION" \
    || die "building kube-router v$KUBE_ROUTER_VERSION failed"
  log "built kube-router in $((SECONDS - t0)) s"
fi
# Prometheus for prometheus.sh, with Kubernetes service discovery only (its build tags): the
# Debian package leaves that discovery out, and the other discoveries' cloud SDKs cost minutes.
if [ ! -x "$CBIN/prometheus" ]; then
  t0=$SECONDS
  GOFLAGS=-buildvcs=false GOBIN="$CBIN" go install -trimpath -ldflags "-s -w" \
    -tags remove_all_sd,enable_kubernetes_sd "github.com/prometheus/prometheus/cmd/prometheus@$PROMETHEUS_VERSION" \
    || die "building prometheus $PROMETHEUS_VERSION failed"
  log "built prometheus in $((SECONDS - t0)) s"
fi
ln -sf "$CBIN/kubectl" "$BIN/kubectl"
touch "$STAMP"
