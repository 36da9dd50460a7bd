#!/usr/bin/env bash
# A self-signed CA, the certificates of every component and their kubeconfigs (openssl only).
# Made once and kept in .cache/cluster/pki, so a restarted cluster keeps its identity.
. "$(dirname "$0")/lib.sh"
P="$STATE/pki"
mkdir -p "$P"
cd "$P"
if [ ! -f ca.key ]; then
  openssl genrsa -out ca.key 2048 2>/dev/null
  openssl req -x509 -new -nodes -key ca.key -subj "/CN=dtmon-local-ca" -days 3650 -out ca.crt
fi
if [ ! -f sa.key ]; then
  openssl genrsa -out sa.key 2048 2>/dev/null
  openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
fi
cert() { # name CN O SANs EKU
  local n=$1 cn=$2 o=$3 san=$4 eku=$5 subj
  [ -f "$n.crt" ] && return 0
  openssl genrsa -out "$n.key" 2048 2>/dev/null
  subj="/CN=$cn"
  if [ -n "$o" ]; then subj="/O=$o/CN=$cn"; fi
  openssl req -new -key "$n.key" -subj "$subj" -out "$n.csr"
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$eku"
    if [ -n "$san" ]; then echo "subjectAltName=$san"; fi
  } > "$n.ext"
  openssl x509 -req -in "$n.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
    -extfile "$n.ext" -out "$n.crt" 2>/dev/null
  rm -f "$n.csr" "$n.ext"
}
svc_ip=${SVC_CIDR%.*}.1   # the Service CIDR's first address: kubernetes.default
cert apiserver kube-apiserver "" "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,IP:127.0.0.1,IP:$NODE_IP,IP:${svc_ip}" serverAuth
cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters "" clientAuth
cert admin dtmon-admin system:masters "" clientAuth
cert controller-manager system:kube-controller-manager "" "" clientAuth
cert scheduler system:kube-scheduler "" "" clientAuth
cert kube-proxy system:kube-proxy "" "" clientAuth
cert kubelet "system:node:$NODE" system:nodes "" clientAuth
cert kubelet-serving "$NODE" "" "DNS:$NODE,DNS:localhost,IP:127.0.0.1,IP:$NODE_IP" serverAuth
kubeconfig() { # file cert user
  cat > "$STATE/$1" <<KC
apiVersion: v1
kind: Config
clusters:
- name: dtmon-local
  cluster:
    certificate-authority: $P/ca.crt
    server: https://$NODE_IP:6443
users:
- name: $3
  user:
    client-certificate: $P/$2.crt
    client-key: $P/$2.key
contexts:
- name: dtmon-local
  context: {cluster: dtmon-local, user: $3, namespace: dtmon}
current-context: dtmon-local
KC
}
kubeconfig kubeconfig admin dtmon-admin
kubeconfig controller-manager.kubeconfig controller-manager system:kube-controller-manager
kubeconfig scheduler.kubeconfig scheduler system:kube-scheduler
kubeconfig kubelet.kubeconfig kubelet "system:node:$NODE"
kubeconfig kube-proxy.kubeconfig kube-proxy system:kube-proxy
