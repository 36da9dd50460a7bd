#!/usr/bin/env bash
# Strimzi's CRDs at STRIMZI_VERSION, generated from Maven Central's io.strimzi:api and
# io.strimzi:crd-generator with the arguments Strimzi's own build uses (the operator itself is
# not on Maven Central). The generator needs Java 21+; Java 17 stays the project's runtime.
#   strimzi-crds.sh generate   write .cache/cluster/crds/strimzi-<version>/*.yaml
#   strimzi-crds.sh install    generate if needed, then apply them to the local cluster
. "$(dirname "$0")/lib.sh"
V=$STRIMZI_VERSION
OUT="$STATE/crds/strimzi-$V"

newer_java() {
  local j v
  for j in ${JAVA21_HOME:+"$JAVA21_HOME/bin/java"} /usr/lib/jvm/*/bin/java; do
    [ -x "$j" ] || continue
    v=$("$j" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
    if [ "${v%%.*}" -ge 21 ] 2>/dev/null; then echo "$j"; return 0; fi
  done
  return 1
}

generate() {
  [ -f "$OUT/.done" ] && return 0
  local java repo=$HOME/.m2/repository
  java=$(newer_java) || die "the Strimzi CRD generator needs Java 21+: none in /usr/lib/jvm (set JAVA21_HOME)"
  # Both jars carry what the generator needs (it is shaded), so no transitive resolution.
  for a in api crd-generator; do
    mvn -q -B dependency:get "-Dartifact=io.strimzi:$a:$V" -Dtransitive=false >/dev/null \
      || die "io.strimzi:$a:$V is not to be had from Maven"
  done
  mkdir -p "$OUT.tmp" "$STATE/logs"
  "$java" -cp "$repo/io/strimzi/api/$V/api-$V.jar:$repo/io/strimzi/crd-generator/$V/crd-generator-$V.jar" \
    io.strimzi.crdgenerator.CrdGenerator \
    --label app:strimzi --label strimzi.io/crd-install:true --target-kube 1.16+ \
    --crd-api-version v1 --api-versions v1 --storage-version v1 --yaml \
    io.strimzi.api.kafka.model.kafka.Kafka="$OUT.tmp/040-Crd-kafka.yaml" \
    io.strimzi.api.kafka.model.podset.StrimziPodSet="$OUT.tmp/042-Crd-strimzipodset.yaml" \
    io.strimzi.api.kafka.model.topic.KafkaTopic="$OUT.tmp/043-Crd-kafkatopic.yaml" \
    io.strimzi.api.kafka.model.user.KafkaUser="$OUT.tmp/044-Crd-kafkauser.yaml" \
    io.strimzi.api.kafka.model.nodepool.KafkaNodePool="$OUT.tmp/045-Crd-kafkanodepool.yaml" \
    >"$STATE/logs/strimzi-crds.log" 2>&1 || die "generating Strimzi $V CRDs failed: $STATE/logs/strimzi-crds.log"
  rm -rf "$OUT"
  mv "$OUT.tmp" "$OUT"
  touch "$OUT/.done"
}

case "${1:-}" in
  generate) generate ;;
  install)
    generate
    kc apply --server-side -f "$OUT" >/dev/null
    kc wait --for=condition=Established crd/kafkas.kafka.strimzi.io crd/kafkanodepools.kafka.strimzi.io \
      crd/kafkatopics.kafka.strimzi.io crd/kafkausers.kafka.strimzi.io --timeout=60s >/dev/null
    log "Strimzi $V CRDs installed"
    ;;
  *) die "usage: strimzi-crds.sh generate|install" ;;
esac
