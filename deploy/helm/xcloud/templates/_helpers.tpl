{{/* Names and labels. */}}
{{- define "xcloud.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "xcloud.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "xcloud.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "xcloud.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "xcloud.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "xcloud.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{/* list root component -> the labels of every object of that component. */}}
{{- define "xcloud.labels" -}}
{{- $root := index . 0 -}}
{{ include "xcloud.selectorLabels" . }}
app.kubernetes.io/part-of: xcloud
app.kubernetes.io/version: {{ $root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" $root.Chart.Name $root.Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* Recursive merge of map `src` into map `dst` (in place). Unlike sprig's mergeOverwrite it
     lets false, 0 and "" override a default, so `autoscaling.enabled: false` works. */}}
{{- define "xcloud.deepMerge" -}}
{{- $dst := index . 0 -}}
{{- range $key, $value := index . 1 -}}
{{- if and (kindIs "map" $value) (kindIs "map" (index $dst $key)) -}}
{{- include "xcloud.deepMerge" (list (index $dst $key) $value) -}}
{{- else -}}
{{- $_ := set $dst $key (deepCopy $value) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* list root components -> fills `components` (a dict) with every enabled process:
     name -> defaults merged with its entry, plus derived fields:
       role (gateway | backend), objectName (face-detection), fullName, envPrefix, image. */}}
{{- define "xcloud.collect" -}}
{{- $root := index . 0 -}}
{{- $out := index . 1 -}}
{{- $entries := dict -}}
{{- if $root.Values.gateway.enabled -}}
{{- $_ := set $entries "gateway" $root.Values.gateway -}}
{{- end -}}
{{- range $name, $entry := $root.Values.services -}}
{{- if $entry.enabled -}}
{{- $_ := set $entries $name $entry -}}
{{- end -}}
{{- end -}}
{{- range $name, $entry := $entries -}}
{{- $c := deepCopy $root.Values.defaults -}}
{{- include "xcloud.deepMerge" (list $c $entry) -}}
{{- $object := $name | replace "_" "-" -}}
{{- $tag := default $root.Chart.AppVersion $root.Values.image.tag -}}
{{- if $c.gpu.enabled -}}{{- $tag = printf "%s%s" $tag $root.Values.image.gpuTagSuffix -}}{{- end -}}
{{- $_ := set $c "role" (ternary "gateway" "backend" (eq $name "gateway")) -}}
{{- $_ := set $c "objectName" $object -}}
{{- $_ := set $c "fullName" (printf "%s-%s" (include "xcloud.fullname" $root) $object | trunc 63 | trimSuffix "-") -}}
{{- $_ := set $c "envPrefix" (printf "XCLOUD_%s_" (upper $name)) -}}
{{- $_ := set $c "image" (printf "%s%s/%s:%s" $root.Values.image.registry $root.Values.image.repository $object $tag) -}}
{{- $_ := set $out $name $c -}}
{{- end -}}
{{- end -}}

{{/* list root components -> the gateway's XCLOUD_GATEWAY_BACKENDS as JSON. The dns:/// target
     of a headless Service lets the gateway's round-robin policy spread calls over every pod. */}}
{{- define "xcloud.backendsJson" -}}
{{- $root := index . 0 -}}
{{- $backends := dict -}}
{{- range $name, $c := index . 1 -}}
{{- if eq $c.role "backend" -}}
{{- $host := printf "%s.%s.svc.%s" $c.fullName $root.Release.Namespace $root.Values.clusterDomain -}}
{{- $_ := set $backends $name (dict "address" (printf "dns:///%s:%v" $host $c.port) "metrics_url" (printf "http://%s:%v/metrics" $host $c.metricsPort)) -}}
{{- end -}}
{{- end -}}
{{- toJson $backends -}}
{{- end -}}

{{/* The Redis URL the gateway uses ("" = in-process cache). */}}
{{- define "xcloud.redisUrl" -}}
{{- if .Values.redis.url -}}
{{- .Values.redis.url -}}
{{- else if .Values.redis.inChart.enabled -}}
{{- printf "redis://%s-redis:6379/0" (include "xcloud.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* list root components name -> the process's settings (the ConfigMap's data), as YAML. */}}
{{- define "xcloud.env" -}}
{{- $root := index . 0 -}}
{{- $components := index . 1 -}}
{{- $c := index $components (index . 2) -}}
{{- $env := dict "HOST" "0.0.0.0" "PORT" (toString $c.port) "METRICS_PORT" (toString $c.metricsPort) "DRAIN_SECONDS" (toString $c.drainSeconds) "LOG_LEVEL" $c.logLevel -}}
{{- if and (ne $c.role "gateway") $c.gpu.enabled -}}
{{- $_ := set $env "PROVIDERS" (toJson $c.gpu.providers) -}}
{{- end -}}
{{- if and (ne $c.role "gateway") $c.intraOpThreads -}}
{{- $_ := set $env "INTRA_OP_THREADS" (toString $c.intraOpThreads) -}}
{{- end -}}
{{- if eq $c.role "gateway" -}}
{{- $_ := set $env "BACKENDS" (include "xcloud.backendsJson" (list $root $components)) -}}
{{- $_ := set $env "METRICS_URL" (printf "http://%s:%v/metrics" $c.fullName $c.metricsPort) -}}
{{- with include "xcloud.redisUrl" $root -}}{{- $_ := set $env "REDIS_URL" . -}}{{- end -}}
{{- end -}}
{{- include "xcloud.tlsEnv" (list $root $c $env) -}}
{{- with $root.Values.tracing.otlpEndpoint -}}{{- $_ := set $env "OTLP_ENDPOINT" . -}}{{- end -}}
{{- range $key, $value := $c.settings -}}
{{- $_ := set $env (upper $key) (toString $value) -}}
{{- end -}}
{{- range $key, $value := $env }}
{{ printf "%s%s" $c.envPrefix $key }}: {{ $value | quote }}
{{- end -}}
{{- end -}}

{{/* Where the TLS Secrets are mounted (deployment.yaml) and read (settings below). */}}
{{- define "xcloud.tlsDir" -}}/etc/xcloud/tls{{- end -}}
{{- define "xcloud.portTlsDir" -}}/etc/xcloud/tls-port{{- end -}}

{{/* list root component -> the folder holding the certificate the process's own port serves,
     "" when the port is plaintext: the gateway's public Secret, a backend's internal one. */}}
{{- define "xcloud.portTls" -}}
{{- $root := index . 0 -}}
{{- $c := index . 1 -}}
{{- if eq $c.role "gateway" -}}
{{- if $root.Values.tls.gatewaySecret -}}{{- include "xcloud.portTlsDir" $root -}}{{- end -}}
{{- else if $root.Values.tls.internal.enabled -}}
{{- include "xcloud.tlsDir" $root -}}
{{- end -}}
{{- end -}}

{{/* list root component env -> adds the TLS settings of the process to env. */}}
{{- define "xcloud.tlsEnv" -}}
{{- $root := index . 0 -}}
{{- $c := index . 1 -}}
{{- $env := index . 2 -}}
{{- $internal := $root.Values.tls.internal -}}
{{- $dir := include "xcloud.tlsDir" $root -}}
{{- with include "xcloud.portTls" (list $root $c) -}}
{{- $_ := set $env "TLS_CERT_FILE" (printf "%s/tls.crt" .) -}}
{{- $_ := set $env "TLS_KEY_FILE" (printf "%s/tls.key" .) -}}
{{- end -}}
{{- if $internal.enabled -}}
{{- if eq $c.role "gateway" -}}
{{- $_ := set $env "BACKEND_TLS_CA_FILE" (printf "%s/ca.crt" $dir) -}}
{{- $_ := set $env "BACKEND_TLS_CERT_FILE" (printf "%s/tls.crt" $dir) -}}
{{- $_ := set $env "BACKEND_TLS_KEY_FILE" (printf "%s/tls.key" $dir) -}}
{{- with $internal.serverName -}}{{- $_ := set $env "BACKEND_TLS_SERVER_NAME" . -}}{{- end -}}
{{- else -}}
{{- $_ := set $env "TLS_CLIENT_CA_FILE" (printf "%s/ca.crt" $dir) -}}
{{- $_ := set $env "TLS_CLIENT_NAMES" (toJson (list $internal.clientName)) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* list root component -> the process's probe action: the kubelet's gRPC probe on a
     plaintext port; on a TLS port (which the kubelet's probe cannot speak) the image's
     health check run in the container with the process's own certificate. */}}
{{- define "xcloud.probe" -}}
{{- $root := index . 0 -}}
{{- $c := index . 1 -}}
{{- with include "xcloud.portTls" (list $root $c) -}}
exec: {command: ["python", "/opt/xcloud/deploy/docker/healthcheck.py"]}
{{- else -}}
grpc: {port: {{ $c.port }}}
{{- end -}}
{{- end -}}
