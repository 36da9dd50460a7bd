#!/bin/bash
# Runs one KRaft node (broker + controller) and creates the topics it is given.
#   KAFKA_ADVERTISED_HOST  name clients reach this broker at (required)
#   KAFKA_DATA_DIR         log directory (default /var/lib/kafka); formatted when empty
#   KAFKA_TOPICS           "name:partitions:retention_ms ..." created once the broker is up
#   KAFKA_HEAP_OPTS        JVM heap (default -Xms256m -Xmx512m)
#   KAFKA_CONFIG_*         extra broker properties: KAFKA_CONFIG_MESSAGE_MAX_BYTES=... sets
#                          message.max.bytes
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
  echo "listeners=PLAINTEXT://0.0.0.0:9092,CONTROLLER://127.0.0.1:9093"
  echo "advertised.listeners=PLAINTEXT://${KAFKA_ADVERTISED_HOST}:9092"
  echo "controller.listener.names=CONTROLLER"
  echo "inter.broker.listener.name=PLAINTEXT"
  echo "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
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
create_topics() {
  local spec name partitions retention
  for spec in ${KAFKA_TOPICS:-}; do
    IFS=: read -r name partitions retention <<<"$spec"
    until "${JVM[@]}" org.apache.kafka.tools.TopicCommand --bootstrap-server 127.0.0.1:9092 \
        --create --if-not-exists --topic "$name" --partitions "$partitions" \
        --replication-factor 1 --config "retention.ms=$retention" >/dev/null 2>&1; do
      sleep 2
    done
    echo "kafka-kraft: topic $name ready ($partitions partitions, retention ${retention} ms)"
  done
  touch /tmp/topics-ready
}
rm -f /tmp/topics-ready
create_topics &
exec "${JVM[@]}" kafka.Kafka "$CONF/server.properties"
