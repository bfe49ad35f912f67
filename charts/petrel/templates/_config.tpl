{{/*
petrel.yml for one shard. Input: dict root (the chart context), shard (this pod's ordinal),
shards (how many). Daemonset mode: one shard; discovery restricted to the node in NODE_NAME
(petrel expands ${VAR} from its environment). Statefulset mode with shards > 1: every job ends
with a hashmod of __address__ keeping only this shard's targets.

All pod-role jobs share one identical kubernetes_sd_configs entry (and the kubelet jobs one
node-role entry), so an agent that deduplicates identical discovery configs, as Prometheus
does, keeps one watch per role.
*/}}
{{- define "petrel.config" -}}
{{- $root := .root -}}
{{- $v := $root.Values -}}
{{- $daemonset := eq $v.mode "daemonset" -}}
{{- $jobs := $v.scrapeJobs -}}
{{- $ctx := dict "root" $root "shard" .shard "shards" .shards "daemonset" $daemonset -}}
# Rendered by the petrel Helm chart ({{ $v.mode }} mode{{ if gt (int .shards) 1 }}, shard {{ .shard }} of {{ .shards }}{{ end }}).
global:
  scrape_interval: {{ $v.scrapeInterval }}
  {{- with $v.scrapeTimeout }}
  scrape_timeout: {{ . }}
  {{- end }}
  {{- with $v.externalLabels }}
  external_labels:
    {{- range $name, $value := . }}
    {{ $name }}: {{ $value | toString | toJson }}
    {{- end }}
  {{- end }}
{{- $anyJob := or $v.extraScrapeConfigs (or $jobs.kubelet.enabled $jobs.cadvisor.enabled $jobs.nodeExporter.enabled $jobs.kubeStateMetrics.enabled $jobs.annotatedPods.enabled $jobs.self.enabled) }}
{{- if $anyJob }}
scrape_configs:
{{- if $jobs.kubelet.enabled }}
{{ include "petrel.kubeletJob" (merge (dict "name" "kubelet" "path" "/metrics" "job" $jobs.kubelet) $ctx) }}
{{- end }}
{{- if $jobs.cadvisor.enabled }}
{{ include "petrel.kubeletJob" (merge (dict "name" "cadvisor" "path" "/metrics/cadvisor" "job" $jobs.cadvisor) $ctx) }}
{{- end }}
{{- if $jobs.nodeExporter.enabled }}
{{ include "petrel.podJob" (merge (dict "name" "node-exporter" "job" $jobs.nodeExporter "nodeInstance" true) $ctx) }}
{{- end }}
{{- if $jobs.kubeStateMetrics.enabled }}
{{ include "petrel.podJob" (merge (dict "name" "kube-state-metrics" "job" $jobs.kubeStateMetrics "bare" true) $ctx) }}
{{- end }}
{{- if $jobs.annotatedPods.enabled }}
{{ include "petrel.podJob" (merge (dict "name" "kubernetes-pods" "job" $jobs.annotatedPods "annotated" true) $ctx) }}
{{- end }}
{{- if $jobs.self.enabled }}
{{ include "petrel.podJob" (merge (dict "name" "petrel" "job" (merge (dict "portName" "http-metrics" "podLabels" (include "petrel.selectorLabels" $root | fromYaml)) $jobs.self)) $ctx) }}
{{- end }}
{{- range $v.extraScrapeConfigs }}
{{- $job := deepCopy . }}
{{- if and (gt (int $.shards) 1) $v.shardExtraScrapeConfigs }}
{{- $_ := set $job "relabel_configs" (concat (default list $job.relabel_configs) (include "petrel.shardRules" $ctx | fromYamlArray)) }}
{{- end }}
{{ list $job | toYaml | trim }}
{{- end }}
{{- end }}
{{- with $v.remoteWrite }}
remote_write:
{{- range . }}
{{ include "petrel.remoteWrite" . | trim | indent 2 }}
{{- end }}
{{- end }}
{{- end -}}

{{/* The hashmod rules keeping this shard's targets ([] for one shard). */}}
{{- define "petrel.shardRules" -}}
{{- if gt (int .shards) 1 -}}
- source_labels: [__address__]
  target_label: __tmp_petrel_shard
  modulus: {{ .shards }}
  action: hashmod
- source_labels: [__tmp_petrel_shard]
  regex: "{{ .shard }}"
  action: keep
{{- else -}}
[]
{{- end -}}
{{- end -}}

{{/* A job's own relabelConfigs, the shard rules, metricRelabelConfigs, interval override. */}}
{{- define "petrel.jobTail" -}}
{{- with .job.relabelConfigs }}
{{ include "petrel.relabelRules" . | indent 4 }}
{{- end }}
{{- if gt (int .shards) 1 }}
{{ include "petrel.shardRules" . | indent 4 }}
{{- end }}
{{- with .job.metricRelabelConfigs }}
  metric_relabel_configs:
{{ include "petrel.relabelRules" . | indent 4 }}
{{- end }}
{{- end -}}

{{- define "petrel.jobTiming" -}}
{{- with .job.scrapeInterval }}
  scrape_interval: {{ . }}
{{- end }}
{{- with .job.scrapeTimeout }}
  scrape_timeout: {{ . }}
{{- end }}
{{- end -}}

{{/* kubelet / cAdvisor: node role (only this node in daemonset mode), https :10250. */}}
{{- define "petrel.kubeletJob" -}}
- job_name: {{ .name }}
  {{- include "petrel.jobTiming" . }}
  scheme: https
  metrics_path: {{ .path }}
  authorization:
    credentials_file: /var/run/secrets/kubernetes.io/serviceaccount/token
  tls_config:
    ca_file: /var/run/secrets/kubernetes.io/serviceaccount/ca.crt
    insecure_skip_verify: {{ .job.insecureSkipVerify }}
  kubernetes_sd_configs:
    - role: node
      {{- if .daemonset }}
      selectors:
        - role: node
          field: metadata.name=${NODE_NAME}
      {{- end }}
  relabel_configs:
    - source_labels: [__meta_kubernetes_node_name]
      target_label: node
{{- include "petrel.jobTail" . }}
{{- end -}}

{{/* A pod-role job. Options: podLabels/portName (keep only matching pods and port),
     annotated (prometheus.io/* annotations), bare (no namespace/pod labels: the target's own
     labels say which object a series is about, as kube-state-metrics' do), nodeInstance
     (instance = node name). */}}
{{- define "petrel.podJob" -}}
- job_name: {{ .name }}
  {{- include "petrel.jobTiming" . }}
  kubernetes_sd_configs:
    - role: pod
      {{- if .daemonset }}
      selectors:
        - role: pod
          field: spec.nodeName=${NODE_NAME}
      {{- end }}
  relabel_configs:
    - source_labels: [__meta_kubernetes_pod_phase]
      regex: Pending|Succeeded|Failed|Unknown
      action: drop
  {{- range $name, $value := .job.podLabels }}
    - source_labels: [__meta_kubernetes_pod_label_{{ regexReplaceAll "[^a-zA-Z0-9_]" $name "_" }}]
      regex: {{ regexQuoteMeta $value | toJson }}
      action: keep
  {{- end }}
  {{- with .job.portName }}
    - source_labels: [__meta_kubernetes_pod_container_port_name]
      regex: {{ regexQuoteMeta . | toJson }}
      action: keep
  {{- end }}
  {{- if .annotated }}
    - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape]
      regex: "true"
      action: keep
    - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scheme]
      regex: (https?)
      target_label: __scheme__
    - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_path]
      regex: (.+)
      target_label: __metrics_path__
    - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_port, __meta_kubernetes_pod_ip]
      regex: '(\d+);(([A-Fa-f0-9]{1,4}::?){1,7}[A-Fa-f0-9]{1,4})'
      replacement: '[$2]:$1'
      target_label: __address__
    - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_port, __meta_kubernetes_pod_ip]
      regex: '(\d+);((([0-9]+?)(\.|$)){4})'
      replacement: '$2:$1'
      target_label: __address__
    - regex: __meta_kubernetes_pod_annotation_prometheus_io_param_(.+)
      replacement: __param_$1
      action: labelmap
  {{- end }}
  {{- if not .bare }}
    - source_labels: [__meta_kubernetes_namespace]
      target_label: namespace
    - source_labels: [__meta_kubernetes_pod_name]
      target_label: pod
    - source_labels: [__meta_kubernetes_pod_container_name]
      target_label: container
    - source_labels: [__meta_kubernetes_pod_node_name]
      target_label: node
  {{- end }}
  {{- if .nodeInstance }}
    - source_labels: [__meta_kubernetes_pod_node_name]
      target_label: instance
  {{- end }}
{{- include "petrel.jobTail" . }}
{{- end -}}

{{/* One remoteWrite entry -> a remote_write entry. */}}
{{- define "petrel.remoteWrite" -}}
- url: {{ .url | toJson }}
  {{- with .name }}
  name: {{ . | toJson }}
  {{- end }}
  {{- with .remoteTimeout }}
  remote_timeout: {{ . }}
  {{- end }}
  {{- with .headers }}
  headers:
    {{- range $k, $val := . }}
    {{ $k | toJson }}: {{ $val | toString | toJson }}
    {{- end }}
  {{- end }}
  {{- with .basicAuth }}
  basic_auth:
    {{- if kindIs "map" .username }}
    username_file: {{ include "petrel.secretFile" .username }}
    {{- else }}
    username: {{ .username | toJson }}
    {{- end }}
    password_file: {{ include "petrel.secretFile" .password }}
  {{- end }}
  {{- with .bearerTokenSecret }}
  authorization:
    credentials_file: {{ include "petrel.secretFile" . }}
  {{- end }}
  {{- with .authorization }}
  authorization:
    type: {{ default "Bearer" .type | toJson }}
    credentials_file: {{ include "petrel.secretFile" .credentials }}
  {{- end }}
  {{- with .tlsConfig }}
  tls_config:
    {{- with .ca }}
    ca_file: {{ include "petrel.tlsRefFile" . }}
    {{- end }}
    {{- with .cert }}
    cert_file: {{ include "petrel.tlsRefFile" . }}
    {{- end }}
    {{- with .keySecret }}
    key_file: {{ include "petrel.secretFile" . }}
    {{- end }}
    {{- with .serverName }}
    server_name: {{ . | toJson }}
    {{- end }}
    {{- if hasKey . "insecureSkipVerify" }}
    insecure_skip_verify: {{ .insecureSkipVerify }}
    {{- end }}
    {{- with .minVersion }}
    min_version: {{ . }}
    {{- end }}
  {{- end }}
  {{- with .proxyUrl }}
  proxy_url: {{ . | toJson }}
  {{- end }}
  {{- if hasKey . "followRedirects" }}
  follow_redirects: {{ .followRedirects }}
  {{- end }}
  {{- if hasKey . "enableHTTP2" }}
  enable_http2: {{ .enableHTTP2 }}
  {{- end }}
  {{- with .queueConfig }}
  queue_config:
    {{- with .capacity }}
    capacity: {{ int64 . }}
    {{- end }}
    {{- with .minShards }}
    min_shards: {{ int64 . }}
    {{- end }}
    {{- with .maxShards }}
    max_shards: {{ int64 . }}
    {{- end }}
    {{- with .maxSamplesPerSend }}
    max_samples_per_send: {{ int64 . }}
    {{- end }}
    {{- with .batchSendDeadline }}
    batch_send_deadline: {{ . }}
    {{- end }}
    {{- with .minBackoff }}
    min_backoff: {{ . }}
    {{- end }}
    {{- with .maxBackoff }}
    max_backoff: {{ . }}
    {{- end }}
    {{- if hasKey . "retryOnRateLimit" }}
    retry_on_http_429: {{ .retryOnRateLimit }}
    {{- end }}
  {{- end }}
  {{- with .writeRelabelConfigs }}
  write_relabel_configs:
{{ include "petrel.relabelRules" . | indent 4 }}
  {{- end }}
  {{- if hasKey . "sendExemplars" }}
  send_exemplars: {{ .sendExemplars }}
  {{- end }}
  {{- if hasKey . "sendNativeHistograms" }}
  send_native_histograms: {{ .sendNativeHistograms }}
  {{- end }}
  {{- with .protobufMessage }}
  protobuf_message: {{ . | quote }}
  {{- end }}
  {{- with .metadataConfig }}
  metadata_config:
    {{- if hasKey . "send" }}
    send: {{ .send }}
    {{- end }}
    {{- with .sendInterval }}
    send_interval: {{ . }}
    {{- end }}
    {{- with .maxSamplesPerSend }}
    max_samples_per_send: {{ int64 . }}
    {{- end }}
  {{- end }}
{{- end -}}
