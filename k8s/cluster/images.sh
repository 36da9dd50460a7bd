#!/usr/bin/env bash
# The cluster's images, built daemonless with buildah from the project's own Dockerfiles.
#   images.sh build    base (mmdebstrap) -> producer, processor, api, kafka, minio, and the
#                      system images; each saved as an OCI archive in .cache/cluster/images
#                      and imported at once into a running cluster (IMPORT=no: not)
#   images.sh system   only pause and coredns, which the cluster itself needs
#   images.sh import   load the archives into the running cluster's containerd
# The app Dockerfiles are the ones users build with Docker; here BASE_IMAGE is the local
# Debian base, the host's uv and Maven caches are mounted as build caches, and the host's CA
# bundle is passed for downloads (these machines verify TLS against it).
. "$(dirname "$0")/lib.sh"
OUT="$STATE/images"
BASE=dtmon.local/debian:$DEBIAN_SUITE
APP_VERSION=$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$ROOT/helm/dtmon/Chart.yaml")
# name|Dockerfile: the app images carry the chart's appVersion tag; the context is the repo.
APPS=(
  "dtmon-producer:$APP_VERSION|services/producer/Dockerfile"
  "dtmon-processor:$APP_VERSION|services/processor/Dockerfile"
  "dtmon-api:$APP_VERSION|services/api/Dockerfile"
  "dtmon-kafka:$KAFKA_VERSION|k8s/images/kafka/Dockerfile"
)
CTX=""
trap 'rm -rf "${CTX:-}"' EXIT

bud() { # tag dockerfile context [extra buildah args]
  local tag=$1 file=$2 ctx=$3 logf
  shift 3
  logf="$STATE/logs/build-${tag//[:\/]/_}.log"
  "${BUILDAH[@]}" bud --runtime runc --format docker --layers --pull-never --network host \
    --build-arg "BASE_IMAGE=$BASE" -f "$ROOT/$file" -t "$tag" "$@" "$ctx" >"$logf" 2>&1 \
    || die "building $tag from $file failed: $logf"
}

fq() { # the name containerd and the kubelet use: dtmon-api:0.1.0 -> docker.io/library/dtmon-api:0.1.0
  case "$1" in */*) echo "$1" ;; *) echo "docker.io/library/$1" ;; esac
}

save() { # tag: an OCI archive named after the image, rewritten only when the image changed
  local tag=$1 name id
  name=${tag//[:\/]/_}
  id=$("${BUILDAH[@]}" images --quiet --no-trunc "$tag" | head -1)
  if [ "$(cat "$OUT/$name.id" 2>/dev/null)" != "$id" ]; then
    rm -f "$OUT/$name.tar"
    "${BUILDAH[@]}" push --quiet "$tag" "oci-archive:$OUT/$name.tar:$(fq "$tag")" >/dev/null
    echo "$id" >"$OUT/$name.id"
  fi
}

base_image() {
  local t0=$SECONDS mirror
  log "Debian $DEBIAN_SUITE rootfs (mmdebstrap) -> $BASE"
  mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  # shellcheck disable=SC2016  # "$1" is the hook's argument, expanded by mmdebstrap
  mmdebstrap --quiet --format=tar --variant=minbase --include=ca-certificates \
    --aptopt='Acquire::Languages "none"' \
    --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/* "$1"/usr/share/doc/*' \
    "$DEBIAN_SUITE" "$CTX/rootfs.tar" "deb ${mirror:-http://deb.debian.org/debian} $DEBIAN_SUITE main"
  bud "$BASE" k8s/images/base/Containerfile "$CTX"
  rm -f "$CTX/rootfs.tar"
  log "$BASE ready ($((SECONDS - t0)) s)"
}

build() {
  local tool t0 spec tag file ca=/etc/ssl/certs/ca-certificates.crt uv_cache=${UV_CACHE_DIR:-$HOME/.cache/uv}
  for tool in buildah mmdebstrap gcc; do
    command -v "$tool" >/dev/null || die "$tool is missing: run \`make cluster-deps\` (Debian packages)"
  done
  mkdir -p "$OUT" "$STATE/logs" "$uv_cache" "$HOME/.m2"
  CTX=$(mktemp -d)
  # Made once per machine: a new base would change every layer above it.
  if "${BUILDAH[@]}" inspect --type image "$BASE" >/dev/null 2>&1; then
    log "$BASE: cached"
  else
    base_image
  fi

  local caches=(--volume "$uv_cache:/root/.cache/uv"
                --volume "$HOME/.m2:/root/.m2" --build-arg MAVEN_FLAGS=--offline
                --volume "$ca:/run/build-ca.crt:ro" --build-arg CA_BUNDLE=/run/build-ca.crt)
  for spec in "${APPS[@]}"; do
    IFS='|' read -r tag file <<<"$spec"
    t0=$SECONDS
    bud "$tag" "$file" "$ROOT" "${caches[@]}" \
      --build-arg "UV_VERSION=$UV_VERSION" --build-arg "SPARK_VERSION=$SPARK_VERSION" \
      --build-arg "SCALA_BINARY_VERSION=$SCALA_BINARY_VERSION" --build-arg "HADOOP_VERSION=$HADOOP_VERSION" \
      --build-arg "KAFKA_VERSION=$KAFKA_VERSION"
    save "$tag"
    log "$tag ready ($((SECONDS - t0)) s)"
  done

  # The object store the local cluster's chart values run (MinIO's binary at MINIO_VERSION).
  [ -x "$BIN/minio" ] || die "minio missing: run \`make tools\`"
  cp "$BIN/minio" "$CTX/minio"
  bud "dtmon.local/minio:$MINIO_VERSION" k8s/images/minio/Containerfile "$CTX"
  save "dtmon.local/minio:$MINIO_VERSION"
  system
  log "images ready in $OUT"
  # A running cluster gets them at once (unless IMPORT=no: the cluster on this machine may be
  # another checkout's); otherwise `make cluster-up` imports them.
  if [ "${IMPORT:-yes}" != no ] && "${CTR[@]}" version >/dev/null 2>&1; then import; fi
}

# The cluster's own images, which `make cluster-up` needs before any pod: the pod sandbox
# (our static pause) and DNS (CoreDNS). Both FROM scratch: no base image, seconds to build.
system() {
  command -v buildah >/dev/null || die "buildah is missing: run \`make cluster-deps\`"
  [ -x "$CBIN/coredns" ] || die "coredns missing: run \`make cluster-binaries\`"
  mkdir -p "$OUT" "$STATE/logs"
  [ -n "$CTX" ] || CTX=$(mktemp -d)
  gcc -Os -static -o "$CTX/pause" "$ROOT/k8s/images/pause/pause.c"
  strip "$CTX/pause"
  bud dtmon.local/pause:1 k8s/images/pause/Containerfile "$CTX"
  save dtmon.local/pause:1
  cp "$CBIN/coredns" "$CTX/coredns"
  bud "dtmon.local/coredns:$COREDNS_VERSION" k8s/images/coredns/Containerfile "$CTX"
  save "dtmon.local/coredns:$COREDNS_VERSION"
}

import() {
  "${CTR[@]}" version >/dev/null 2>&1 || die "containerd of the local cluster is not running: \`make cluster-up\`"
  local f name have
  have=$("${CTR[@]}" images ls -q 2>/dev/null || true)
  for f in "$OUT"/*.tar; do
    [ -e "$f" ] || continue
    name=$(tar -xOf "$f" index.json | python3 -c \
      'import json,sys; print(json.load(sys.stdin)["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"])')
    # Only what changed since it was last imported into this containerd.
    if [ "$f.imported" -nt "$f" ] && grep -qxF "$name" <<<"$have"; then
      continue
    fi
    "${CTR[@]}" images import "$f" >/dev/null
    touch "$f.imported"
    log "imported $name"
  done
}

case "${1:-}" in
  build) build ;;
  system) system ;;
  import) import ;;
  *) die "usage: images.sh build|system|import" ;;
esac
