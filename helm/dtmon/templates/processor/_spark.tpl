{{/* Spark on Kubernetes helpers for the processor (driver in client mode inside the Deployment). */}}

{{- define "dtmon.processor.name" -}}
{{- printf "%s-processor" (include "dtmon.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* True when executors run as pods (k8s:// master) rather than inside the driver. */}}
{{- define "dtmon.processor.onK8s" -}}
{{- if hasPrefix "k8s://" .Values.processor.master }}true{{- end }}
{{- end }}

{{- define "dtmon.processor.checkpoint" -}}
{{- .Values.processor.checkpointLocation | default (printf "s3a://%s/%s/processor" .Values.s3.checkpointBucket .Release.Name) }}
{{- end }}

{{/* spark-defaults.conf: read by spark-submit (which PySpark runs) from SPARK_CONF_DIR. */}}
{{- define "dtmon.processor.sparkDefaults" -}}
{{- $p := .Values.processor }}
{{- $name := include "dtmon.processor.name" . }}
{{- $endpoint := include "dtmon.s3Endpoint" . }}
{{- $conf := dict }}
{{- $_ := set $conf "spark.driver.memory" $p.driver.memory }}
{{- $_ := set $conf "spark.driver.bindAddress" "0.0.0.0" }}
{{- $_ := set $conf "spark.driver.port" (toString $p.driver.port) }}
{{- $_ := set $conf "spark.driver.blockManager.port" (toString $p.driver.blockManagerPort) }}
{{- $_ := set $conf "spark.blockManager.port" (toString $p.driver.blockManagerPort) }}
{{- $_ := set $conf "spark.ui.port" (toString $p.uiPort) }}
{{- $_ := set $conf "spark.local.dir" "/var/spark-local" }}
{{- $_ := set $conf "spark.jars.ivy" "/tmp/.ivy2" }}
{{- /* Prometheus: driver metrics on /metrics/prometheus, executors on /metrics/executors/prometheus. */}}
{{- $_ := set $conf "spark.ui.prometheus.enabled" "true" }}
{{- $_ := set $conf "spark.metrics.conf.*.sink.prometheusServlet.class" "org.apache.spark.metrics.sink.PrometheusServlet" }}
{{- $_ := set $conf "spark.metrics.conf.*.sink.prometheusServlet.path" "/metrics/prometheus" }}
{{- $_ := set $conf "spark.metrics.appStatusSource.enabled" "true" }}
{{- $_ := set $conf "spark.sql.streaming.metricsEnabled" "true" }}
{{- /* Checkpoints on S3A (MinIO or external S3), credentials from AWS_* env. hadoop-aws and its
AWS SDK are in the image (/opt/dtmon/s3a-jars): on the class path, never shipped to executors. */}}
{{- $_ := set $conf "spark.driver.extraClassPath" "/opt/dtmon/s3a-jars/*" }}
{{- $_ := set $conf "spark.executor.extraClassPath" "/opt/dtmon/s3a-jars/*" }}
{{- $_ := set $conf "spark.hadoop.fs.s3a.endpoint" $endpoint }}
{{- $_ := set $conf "spark.hadoop.fs.s3a.endpoint.region" .Values.s3.region }}
{{- $_ := set $conf "spark.hadoop.fs.s3a.path.style.access" "true" }}
{{- $_ := set $conf "spark.hadoop.fs.s3a.connection.ssl.enabled" (toString (hasPrefix "https://" $endpoint)) }}
{{- if include "dtmon.processor.onK8s" . }}
{{- $_ := set $conf "spark.submit.deployMode" "client" }}
{{- $_ := set $conf "spark.kubernetes.namespace" .Release.Namespace }}
{{- $_ := set $conf "spark.kubernetes.container.image" (include "dtmon.image" (dict "ctx" . "image" $p.image)) }}
{{- $_ := set $conf "spark.kubernetes.container.image.pullPolicy" $p.image.pullPolicy }}
{{- /* Executors are owned by the driver pod: deleting the driver garbage-collects them. */}}
{{- $_ := set $conf "spark.kubernetes.driver.pod.name" "${env:POD_NAME}" }}
{{- $_ := set $conf "spark.driver.host" (printf "%s-driver.%s.svc" $name .Release.Namespace) }}
{{- $_ := set $conf "spark.kubernetes.authenticate.caCertFile" "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt" }}
{{- $_ := set $conf "spark.kubernetes.authenticate.oauthTokenFile" "/var/run/secrets/kubernetes.io/serviceaccount/token" }}
{{- $_ := set $conf "spark.kubernetes.executor.podTemplateFile" "/opt/dtmon/spark-conf/executor-pod-template.yaml" }}
{{- $_ := set $conf "spark.kubernetes.executor.podTemplateContainerName" "spark-executor" }}
{{- $_ := set $conf "spark.kubernetes.executor.request.cores" (toString $p.executor.requestCores) }}
{{- $_ := set $conf "spark.kubernetes.executor.limit.cores" (toString $p.executor.limitCores) }}
{{- $_ := set $conf "spark.kubernetes.executor.deleteOnTermination" "true" }}
{{- $_ := set $conf "spark.executor.instances" (toString $p.executor.instances) }}
{{- $_ := set $conf "spark.executor.cores" (toString $p.executor.cores) }}
{{- $_ := set $conf "spark.executor.memory" $p.executor.memory }}
{{- $_ := set $conf "spark.executor.memoryOverhead" $p.executor.memoryOverhead }}
{{- end }}
{{- range $k, $val := $p.sparkConf }}
{{- $_ := set $conf $k (toString $val) }}
{{- end }}
{{- range $k := keys $conf | sortAlpha }}
{{ $k }} {{ index $conf $k }}
{{- end }}
{{- end }}
