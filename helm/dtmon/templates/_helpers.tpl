{{/*
Standard names and labels (the `helm create` scaffold conventions), plus the small pieces every
pod shares: security contexts, scratch volumes, Kafka/S3 addresses and environment.
*/}}

{{- define "dtmon.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "dtmon.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "dtmon.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels of one component: include with (dict "ctx" $ "component" "api"). */}}
{{- define "dtmon.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dtmon.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Full label set of one component. */}}
{{- define "dtmon.labels" -}}
helm.sh/chart: {{ include "dtmon.chart" .ctx }}
{{ include "dtmon.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: dtmon
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
{{- end }}

{{/* Labels of release-wide objects (NetworkPolicies, Secrets, ConfigMaps). */}}
{{- define "dtmon.commonLabels" -}}
helm.sh/chart: {{ include "dtmon.chart" . }}
app.kubernetes.io/name: {{ include "dtmon.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: dtmon
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Selects every pod of this release (NetworkPolicy deny-by-default). */}}
{{- define "dtmon.releaseSelector" -}}
app.kubernetes.io/name: {{ include "dtmon.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* image reference: include with (dict "ctx" $ "image" .Values.api.image) */}}
{{- define "dtmon.image" -}}
{{- printf "%s:%s" .image.repository (default .ctx.Chart.AppVersion (toString .image.tag)) }}
{{- end }}

{{- define "dtmon.podSecurityContext" -}}
{{- toYaml .Values.podSecurityContext }}
{{- end }}

{{- define "dtmon.securityContext" -}}
{{- toYaml .Values.securityContext }}
{{- end }}

{{- define "dtmon.imagePullSecrets" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ . }}
  {{- end }}
{{- end }}
{{- end }}

{{/* Kafka: the Strimzi cluster name and the bootstrap address the services use. */}}
{{- define "dtmon.kafkaCluster" -}}
{{- printf "%s-kafka" (include "dtmon.fullname" .) | trunc 52 | trimSuffix "-" }}
{{- end }}

{{/* Both in-cluster modes serve clients through "<cluster>-kafka-bootstrap" (Strimzi's name). */}}
{{- define "dtmon.bootstrapServers" -}}
{{- if eq .Values.kafka.mode "external" }}
{{- required "kafka.externalBootstrapServers is required when kafka.mode is external" .Values.kafka.externalBootstrapServers }}
{{- else }}
{{- printf "%s-kafka-bootstrap.%s.svc:9092" (include "dtmon.kafkaCluster" .) .Release.Namespace }}
{{- end }}
{{- end }}

{{/* S3: endpoint URL and the Secret holding AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY. */}}
{{- define "dtmon.minioName" -}}
{{- printf "%s-minio" (include "dtmon.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "dtmon.s3Endpoint" -}}
{{- if .Values.minio.enabled }}
{{- printf "http://%s.%s.svc:9000" (include "dtmon.minioName" .) .Release.Namespace }}
{{- else }}
{{- required "s3.endpoint is required when minio.enabled is false" .Values.s3.endpoint }}
{{- end }}
{{- end }}

{{- define "dtmon.s3SecretName" -}}
{{- if .Values.s3.existingSecret }}
{{- .Values.s3.existingSecret }}
{{- else if .Values.minio.enabled }}
{{- printf "%s-s3" (include "dtmon.fullname" .) }}
{{- else }}
{{- required "s3.existingSecret is required when minio.enabled is false" .Values.s3.existingSecret }}
{{- end }}
{{- end }}

{{/* Environment every service shares (each adds the topics it uses, below). */}}
{{- define "dtmon.commonEnv" -}}
- name: DTMON_BOOTSTRAP_SERVERS
  value: {{ include "dtmon.bootstrapServers" . | quote }}
- name: DTMON_LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: DTMON_LOG_FORMAT
  value: {{ .Values.logFormat | quote }}
- name: HOME
  value: /tmp
{{- end }}

{{/* The topics, for the services that use them (producer: hits; processor: both; API: results). */}}
{{- define "dtmon.hitsTopicEnv" -}}
- name: DTMON_HITS_TOPIC
  value: {{ .Values.topics.hits.name | quote }}
{{- end }}

{{- define "dtmon.resultsTopicEnv" -}}
- name: DTMON_RESULTS_TOPIC
  value: {{ .Values.topics.results.name | quote }}
{{- end }}

{{/* S3 credentials and endpoint as environment (boto/minio/hadoop-aws all read AWS_*). */}}
{{- define "dtmon.s3Env" -}}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ include "dtmon.s3SecretName" . }}
      key: AWS_ACCESS_KEY_ID
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "dtmon.s3SecretName" . }}
      key: AWS_SECRET_ACCESS_KEY
- name: AWS_REGION
  value: {{ .Values.s3.region | quote }}
{{- end }}

{{/* The result-signing Secret: an existing one, or the one the chart generates. */}}
{{- define "dtmon.signingSecretName" -}}
{{- .Values.signing.existingSecret | default (printf "%s-signing" (include "dtmon.fullname" .)) }}
{{- end }}

{{/* Processor and API only: the signing keys as a read-only file, and the flag naming it. */}}
{{- define "dtmon.signingEnv" -}}
- name: DTMON_SIGNING_KEY_FILE
  value: /etc/dtmon/signing/keys
{{- end }}

{{- define "dtmon.signingMount" -}}
- name: signing-keys
  mountPath: /etc/dtmon/signing
  readOnly: true
{{- end }}

{{- define "dtmon.signingVolume" -}}
- name: signing-keys
  secret:
    secretName: {{ include "dtmon.signingSecretName" . }}
    defaultMode: 0440
    items:
      - key: keys
        path: keys
{{- end }}

{{/* Writable scratch for a read-only root filesystem. */}}
{{- define "dtmon.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: 1Gi
{{- end }}

{{- define "dtmon.tmpMount" -}}
- name: tmp
  mountPath: /tmp
{{- end }}

{{/* A NetworkPolicy podSelector for one component: (dict "ctx" $ "component" "api"). */}}
{{- define "dtmon.np.pods" -}}
podSelector:
  matchLabels:
    {{- include "dtmon.selectorLabels" . | nindent 4 }}
{{- end }}

{{/*
Security-scan exceptions (checkov, run on the rendered chart by tests/test_chart.py). Every
exception a workload takes is listed here once, with its reason, and attached to the workload
as a `checkov.io/skipN: <check>=<reason>` annotation: include with a list of check IDs.
*/}}
{{- define "dtmon.checkovReasons" -}}
CKV_K8S_15: Images are pinned by immutable version tags (skaffold deploys by digest); IfNotPresent also lets kind-loaded images run without a registry.
CKV_K8S_43: Tags are immutable release versions set per image in values; skaffold and CI pin digests at deploy time, a digest in chart defaults would go stale.
CKV_K8S_35: The S3 clients (hadoop-aws, the minio package, MinIO itself) read credentials from AWS_* / MINIO_ROOT_* environment variables; the pod spec only references the Secret.
CKV_K8S_38: The Spark driver needs its ServiceAccount token to create and watch its executor pods; the Role grants only pods/configmaps/services/PVCs in this namespace.
CKV_K8S_8: Short-lived helm test Pod that exits on success or timeout; a liveness probe has nothing to restart.
CKV_K8S_9: Short-lived helm test Pod; nothing routes traffic to it, so readiness has no meaning.
{{- end }}

{{- define "dtmon.checkovSkips" -}}
{{- $reasons := include "dtmon.checkovReasons" . | fromYaml }}
{{- range $i, $id := .ids }}
checkov.io/skip{{ add1 $i }}: {{ printf "%s=%s" $id (required (printf "no reason recorded for %s" $id) (index $reasons $id)) | quote }}
{{- end }}
{{- end }}

{{/* Kafka authorization (modes strimzi and broker): each service connects as its own
SCRAM-SHA-512 user, "<fullname>-<component>", with the password in the Secret of that name
(key "password"; Strimzi's User Operator or the chart creates it). "true" or "false". */}}
{{- define "dtmon.kafkaAuth" -}}
{{- and .Values.kafka.authorization.enabled (ne .Values.kafka.mode "external") }}
{{- end }}

{{- define "dtmon.kafkaUser" -}}
{{- printf "%s-%s" (include "dtmon.fullname" .ctx) .component | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The one declaration of who may do what on Kafka, rendered as Strimzi KafkaUsers or as
the chart broker's ACLs: only the producer writes hits besides the processor's idle tick
records (dtmon_processor.tick), only the processor writes results, the API only reads them.
Consumer groups are never joined (clients assign partitions) but librdkafka and Spark name
one, so each user may use groups with its own prefix. */}}
{{- define "dtmon.kafkaAcls" -}}
{{- $hits := .Values.topics.hits.name }}
{{- $results := .Values.topics.results.name }}
producer:
  - {type: topic, name: {{ $hits }}, patternType: literal, operations: [Write, Describe]}
processor:
  - {type: topic, name: {{ $hits }}, patternType: literal, operations: [Read, Describe, Write]}
  - {type: topic, name: {{ $results }}, patternType: literal, operations: [Write, Describe]}
  - {type: group, name: spark-kafka-source-, patternType: prefix, operations: [Read]}
  - {type: group, name: dtmon-processor-, patternType: prefix, operations: [Read]}
api:
  - {type: topic, name: {{ $results }}, patternType: literal, operations: [Read, Describe]}
  - {type: group, name: dtmon-api-, patternType: prefix, operations: [Read]}
{{- end }}

{{/* A service's Kafka credentials: environment, mount and volume (ctx, component). */}}
{{- define "dtmon.kafkaClientEnv" -}}
{{- if eq (include "dtmon.kafkaAuth" .ctx) "true" }}
- name: DTMON_KAFKA_SECURITY_PROTOCOL
  value: SASL_PLAINTEXT
- name: DTMON_KAFKA_SASL_MECHANISM
  value: SCRAM-SHA-512
- name: DTMON_KAFKA_USERNAME
  value: {{ include "dtmon.kafkaUser" . | quote }}
- name: DTMON_KAFKA_PASSWORD_FILE
  value: /etc/dtmon/kafka/password
{{- end }}
{{- end }}

{{- define "dtmon.kafkaClientMount" -}}
{{- if eq (include "dtmon.kafkaAuth" .ctx) "true" }}
- name: kafka-user
  mountPath: /etc/dtmon/kafka
  readOnly: true
{{- end }}
{{- end }}

{{- define "dtmon.kafkaClientVolume" -}}
{{- if eq (include "dtmon.kafkaAuth" .ctx) "true" }}
- name: kafka-user
  secret:
    secretName: {{ include "dtmon.kafkaUser" . }}
    defaultMode: 0440
    items:
      - key: password
        path: password
{{- end }}
{{- end }}
