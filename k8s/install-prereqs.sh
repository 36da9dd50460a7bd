#!/usr/bin/env bash
# Install what the dtmon chart needs in an empty cluster, in order:
#   1. the Strimzi operator (Kafka CRDs + operator), version pinned in versions.env;
#   2. kube-prometheus-stack (Prometheus Operator CRDs, Prometheus, Grafana with the
#      dashboard sidecar);
#   3. the namespace for dtmon, labelled for Pod Security "restricted".
# Then install the chart:  helm install dtmon helm/dtmon -n dtmon
# Usage: k8s/install-prereqs.sh [dtmon-namespace]   (needs helm and kubectl on PATH)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
# shellcheck source=versions.env source-path=SCRIPTDIR/..
source "$root/versions.env"
namespace="${1:-dtmon}"

helm repo add strimzi https://strimzi.io/charts/
helm repo add prometheus-community https://prometheus-community.github.io/helm-charts
helm repo update strimzi prometheus-community

kubectl create namespace "$namespace" --dry-run=client -o yaml | kubectl apply -f -
kubectl label namespace "$namespace" --overwrite \
  pod-security.kubernetes.io/enforce=restricted \
  pod-security.kubernetes.io/warn=restricted

helm upgrade --install strimzi strimzi/strimzi-kafka-operator \
  --version "$STRIMZI_VERSION" \
  --namespace strimzi --create-namespace \
  --values "$here/strimzi-values.yaml" \
  --set "watchNamespaces={$namespace}" \
  --wait

helm upgrade --install kube-prometheus-stack prometheus-community/kube-prometheus-stack \
  --namespace monitoring --create-namespace \
  --values "$here/kube-prometheus-stack-values.yaml" \
  --wait

echo "prerequisites ready; now: helm install dtmon $root/helm/dtmon -n $namespace"
