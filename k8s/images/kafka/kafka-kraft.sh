#!/bin/bash
# Runs one KRaft node (broker + controller) and creates the topics it is given.
#   KAFKA_ADVERTISED_HOST  name clients reach this broker at (required)
#   KAFKA_DATA_DIR         log directory (default /var/lib/kafka); formatted when empty
#   KAFKA_TOPICS           "name:partitions:retention_ms ..." created once the broker is up
#   KAFKA_HEAP_OPTS        JVM heap (default -Xms256m -Xmx512m)
#   KAFKA_CONFIG_*         extra broker properties: KAFKA_CONFIG_MESSAGE_MAX_BYTES=... sets
#                          message.max.bytes
#   KAFKA_SCRAM_USERS      "user:password_file ...": when set, clients must authenticate with
#                          SASL SCRAM-SHA-512 as one of these users and every request is
#                          checked against ACLs (none found = denied)
#   KAFKA_ACLS             "user|topic-or-group|name|literal-or-prefix|Op+Op ..." allowed
# With users, the broker's own traffic (controller, inter-broker, topic and ACL set-up) uses
# PLAINTEXT listeners bound to 127.0.0.1 only: unreachable from any other pod.
set -euo pipefail
: "${KAFKA_ADVERTISED_HOST:?set KAFKA_ADVERTISED_HOST to the name clients use for this broker}"
DATA=${KAFKA_DATA_DIR:-/var/lib/kafka}
CONF=/tmp/kafka-config
mkdir -p "$DATA" "$CONF"
read -r -a HEAP <<<"${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
JVM=(java "${HEAP[@]}" -XX:+UseG1GC -Djava.awt.headless=true
     "-Dlog4j2.configurationFile=$CONF/log4j2.properties" -cp "/opt/kafka/libs/*")
cat >"$CONF/log4j2.properties" <<'LOG'
rootLogger.level = WARN
rootLogger.appenderRef.stdout.ref = STDOUT
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
logger.kafka.name = kafka.server.KafkaServer
logger.kafka.level = INFO
LOG
{
  echo "process.roles=broker,controller"
  echo "node.id=0"
  echo "controller.quorum.voters=0@127.0.0.1:9093"
  if [ -n "${KAFKA_SCRAM_USERS:-}" ]; then
    echo "listeners=CLIENTS://0.0.0.0:9092,INTERNAL://127.0.0.1:9094,CONTROLLER://127.0.0.1:9093"
    echo "advertised.listeners=CLIENTS://${KAFKA_ADVERTISED_HOST}:9092,INTERNAL://127.0.0.1:9094"
    echo "inter.broker.listener.name=INTERNAL"
    echo "listener.security.protocol.map=CONTROLLER:PLAINTEXT,INTERNAL:PLAINTEXT,CLIENTS:SASL_PLAINTEXT"
    echo "sasl.enabled.mechanisms=SCRAM-SHA-512"
    echo "listener.name.clients.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;"
    echo "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    echo "allow.everyone.if.no.acl.found=false"
    echo "super.users=User:ANONYMOUS"
  else
    echo "listeners=PLAINTEXT://0.0.0.0:9092,CONTROLLER://127.0.0.1:9093"
    echo "advertised.listeners=PLAINTEXT://${KAFKA_ADVERTISED_HOST}:9092"
    echo "inter.broker.listener.name=PLAINTEXT"
    echo "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
  fi
  echo "controller.listener.names=CONTROLLER"
  echo "log.dirs=$DATA/logs"
  echo "auto.create.topics.enable=false"
  echo "offsets.topic.replication.factor=1"
  echo "offsets.topic.num.partitions=4"
  echo "transaction.state.log.replication.factor=1"
  echo "transaction.state.log.min.isr=1"
  echo "share.coordinator.state.topic.replication.factor=1"
  echo "share.coordinator.state.topic.min.isr=1"
  echo "group.initial.rebalance.delay.ms=0"
  echo "message.max.bytes=16777216"
  env | sed -n 's/^KAFKA_CONFIG_\([A-Z0-9_]*\)=\(.*\)$/\1=\2/p' | while IFS='=' read -r key value; do
    echo "$(echo "$key" | tr 'A-Z_' 'a-z.')=$value"
  done
} >"$CONF/server.properties"
if [ ! -f "$DATA/logs/meta.properties" ]; then
  "${JVM[@]}" kafka.tools.StorageTool format -t "$("${JVM[@]}" kafka.tools.StorageTool random-uuid)" \
    -c "$CONF/server.properties" >/dev/null
fi
# The broker's own address for set-up: the localhost PLAINTEXT listener (a super user there).
ADMIN=127.0.0.1:9092
[ -z "${KAFKA_SCRAM_USERS:-}" ] || ADMIN=127.0.0.1:9094
# Runs a set-up command until the broker takes it; a command that keeps failing (a typo in an
# ACL, say) stops the broker, so the pod restarts visibly instead of never becoming ready.
retry() {
  local tries=0
  until "$@" >/tmp/kafka-setup.log 2>&1; do
    tries=$((tries + 1))
    if [ "$tries" -ge 60 ]; then
      echo "kafka-kraft: set-up failed 60 times: $*" >&2
      grep -v SLF4J /tmp/kafka-setup.log >&2 || true
      kill -TERM "$BROKER_PID"
      return 1
    fi
    sleep 2
  done
}
add_users() {
  local spec user file
  for spec in ${KAFKA_SCRAM_USERS:-}; do
    IFS=: read -r user file <<<"$spec"
    retry "${JVM[@]}" kafka.admin.ConfigCommand --bootstrap-server "$ADMIN" --alter \
      --entity-type users --entity-name "$user" \
      --add-config "SCRAM-SHA-512=[iterations=8192,password=$(head -n1 "$file")]" || return 1
    echo "kafka-kraft: user $user ready"
  done
}
add_acls() {
  local spec user type name pattern ops args op
  for spec in ${KAFKA_ACLS:-}; do
    IFS='|' read -r user type name pattern ops <<<"$spec"
    # Strimzi's pattern names (literal, prefix) as Kafka's tools spell them.
    [ "$pattern" != prefix ] || pattern=prefixed
    args=(--bootstrap-server "$ADMIN" --add --allow-principal "User:$user"
          "--$type" "$name" --resource-pattern-type "$pattern")
    for op in ${ops//+/ }; do args+=(--operation "$op"); done
    retry "${JVM[@]}" org.apache.kafka.tools.AclCommand "${args[@]}" || return 1
  done
  [ -z "${KAFKA_ACLS:-}" ] || echo "kafka-kraft: ACLs ready"
}
set_up() {
  local spec name partitions retention
  for spec in ${KAFKA_TOPICS:-}; do
    IFS=: read -r name partitions retention <<<"$spec"
    retry "${JVM[@]}" org.apache.kafka.tools.TopicCommand --bootstrap-server "$ADMIN" \
      --create --if-not-exists --topic "$name" --partitions "$partitions" \
      --replication-factor 1 --config "retention.ms=$retention" || return 1
    echo "kafka-kraft: topic $name ready ($partitions partitions, retention ${retention} ms)"
  done
  # ACLs first: a user that can log in always finds its ACLs (a producer refused meanwhile
  # would fail its records for good). Both persist in the metadata log across restarts.
  add_acls || return 1
  add_users || return 1
  touch /tmp/topics-ready
}
rm -f /tmp/topics-ready
# The broker keeps this shell's PID (exec), so set-up can stop it on a permanent failure.
BROKER_PID=$$
set_up &
exec "${JVM[@]}" kafka.Kafka "$CONF/server.properties"
