#!/usr/bin/env bash
# Installs the chart on the local cluster: the Prometheus Operator's CRDs, namespace `dtmon`
# labelled to ENFORCE Pod Security "restricted", `helm upgrade --install dtmon helm/dtmon` with
# k8s/cluster/values.yaml, then waits until the pipeline serves batches (the API has a batch with hits).
#   deploy.sh [extra helm args...]
. "$(dirname "$0")/lib.sh"
HELM="$BIN/helm"
[ -x "$HELM" ] || die "helm missing: run \`make tools\`"
kc get --raw /readyz >/dev/null 2>&1 || die "the local cluster is not running: \`make cluster-up\`"
bash "$HERE/images.sh" import
# The Prometheus Operator's CRDs first: the chart renders its ServiceMonitors and PrometheusRule
# only when the cluster serves monitoring.coreos.com/v1 (prometheus.sh scrapes what they select).
bash "$HERE/prometheus-operator-crds.sh" install
NS=dtmon
kc apply -f - >/dev/null <<NSYAML
apiVersion: v1
kind: Namespace
metadata:
  name: $NS
  labels:
    pod-security.kubernetes.io/enforce: restricted
    pod-security.kubernetes.io/enforce-version: latest
    pod-security.kubernetes.io/warn: restricted
    pod-security.kubernetes.io/audit: restricted
NSYAML
t0=$SECONDS
"$HELM" --kubeconfig "$KUBECONFIG_ADMIN" upgrade --install dtmon "$ROOT/helm/dtmon" -n "$NS" \
  -f "$HERE/values.yaml" --set "minio.image.tag=$MINIO_VERSION" --wait --timeout 15m "$@" >/dev/null \
  || die "helm upgrade --install failed; \`kubectl -n $NS get pods\` and \`kubectl -n $NS describe pod\` say why"
log "chart installed ($((SECONDS - t0)) s); waiting for the first batch with hits"
api="/api/v1/namespaces/$NS/services/dtmon-api:8000/proxy/api/v1/batches?limit=5"
until kc get --raw "$api" 2>/dev/null | python3 -c '
import json, sys
sys.exit(0 if any(b.get("hits", 0) > 0 for b in json.load(sys.stdin)) else 1)' 2>/dev/null; do
  ((SECONDS - t0 < 900)) || die "no batch with hits after 15 min; see \`kubectl -n $NS logs deploy/dtmon-processor\`"
  sleep 3
done
log "pipeline ready ($((SECONDS - t0)) s): kubectl port-forward -n $NS svc/dtmon-api 8000:8000"
