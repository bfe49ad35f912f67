{{/* Names and labels. */}}
{{- define "petrel.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "petrel.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "petrel.selectorLabels" -}}
app.kubernetes.io/name: {{ include "petrel.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "petrel.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "petrel.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: agent
{{- end -}}

{{- define "petrel.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "petrel.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "petrel.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* hostPath, pvc or emptyDir. */}}
{{- define "petrel.storageType" -}}
{{- if .Values.storage.type -}}
{{- .Values.storage.type -}}
{{- else if eq .Values.mode "statefulset" -}}
pvc
{{- else -}}
hostPath
{{- end -}}
{{- end -}}

{{/* Number of config shards: replicas in statefulset mode, else 1. */}}
{{- define "petrel.shards" -}}
{{- if eq .Values.mode "statefulset" -}}{{ int .Values.replicas }}{{- else -}}1{{- end -}}
{{- end -}}

{{/* The ConfigMap key of shard i ({root, shard}): petrel.yml in daemonset mode,
     <fullname>-<i>.yml (the pod's name) in statefulset mode. */}}
{{- define "petrel.configKey" -}}
{{- if eq .root.Values.mode "statefulset" -}}
{{- printf "%s-%d.yml" (include "petrel.fullname" .root) (int .shard) -}}
{{- else -}}
petrel.yml
{{- end -}}
{{- end -}}

{{/* Where a {name, key} Secret / ConfigMap reference is mounted. */}}
{{- define "petrel.secretFile" -}}
{{- printf "/etc/petrel/secrets/%s/%s" .name .key -}}
{{- end -}}
{{- define "petrel.configMapFile" -}}
{{- printf "/etc/petrel/configmaps/%s/%s" .name .key -}}
{{- end -}}
{{- define "petrel.volumeName" -}}
{{- printf "%s-%s" .kind (sha256sum .name | trunc 10) -}}
{{- end -}}

{{/* Secret and ConfigMap names the remote writes reference, as YAML {secrets: [..],
     configMaps: [..]} (sorted, unique). */}}
{{- define "petrel.mountedRefs" -}}
{{- $secrets := list -}}
{{- $configMaps := list -}}
{{- range .Values.remoteWrite -}}
{{- with .basicAuth -}}
{{- if kindIs "map" .username }}{{ $secrets = append $secrets .username.name }}{{ end -}}
{{- $secrets = append $secrets .password.name -}}
{{- end -}}
{{- with .bearerTokenSecret }}{{ $secrets = append $secrets .name }}{{ end -}}
{{- with .authorization }}{{ with .credentials }}{{ $secrets = append $secrets .name }}{{ end }}{{ end -}}
{{- with .tlsConfig -}}
{{- with .ca -}}
{{- with .secret }}{{ $secrets = append $secrets .name }}{{ end -}}
{{- with .configMap }}{{ $configMaps = append $configMaps .name }}{{ end -}}
{{- end -}}
{{- with .cert -}}
{{- with .secret }}{{ $secrets = append $secrets .name }}{{ end -}}
{{- with .configMap }}{{ $configMaps = append $configMaps .name }}{{ end -}}
{{- end -}}
{{- with .keySecret }}{{ $secrets = append $secrets .name }}{{ end -}}
{{- end -}}
{{- end -}}
{{- dict "secrets" ($secrets | uniq | sortAlpha) "configMaps" ($configMaps | uniq | sortAlpha) | toYaml -}}
{{- end -}}

{{/* A tlsConfig ca/cert reference ({secret: ref} or {configMap: ref}) -> file path. */}}
{{- define "petrel.tlsRefFile" -}}
{{- if .secret -}}{{ include "petrel.secretFile" .secret }}{{- else -}}{{ include "petrel.configMapFile" .configMap }}{{- end -}}
{{- end -}}

{{/* kube-prometheus-stack style relabel rules (camelCase) -> prometheus.yml rules (YAML
     list text). Input: the list. */}}
{{- define "petrel.relabelRules" -}}
{{- $out := list -}}
{{- range . -}}
{{- $r := dict -}}
{{- if hasKey . "sourceLabels" }}{{ $_ := set $r "source_labels" .sourceLabels }}{{ end -}}
{{- if hasKey . "separator" }}{{ $_ := set $r "separator" .separator }}{{ end -}}
{{- if hasKey . "targetLabel" }}{{ $_ := set $r "target_label" .targetLabel }}{{ end -}}
{{- if hasKey . "regex" }}{{ $_ := set $r "regex" .regex }}{{ end -}}
{{- if hasKey . "modulus" }}{{ $_ := set $r "modulus" (int64 .modulus) }}{{ end -}}
{{- if hasKey . "replacement" }}{{ $_ := set $r "replacement" .replacement }}{{ end -}}
{{- if hasKey . "action" }}{{ $_ := set $r "action" (lower .action) }}{{ end -}}
{{- $out = append $out $r -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/* Prometheus duration ("1h30m", "2d") -> seconds. */}}
{{- define "petrel.durationSeconds" -}}
{{- $units := dict "ms" 0.001 "s" 1.0 "m" 60.0 "h" 3600.0 "d" 86400.0 "w" 604800.0 "y" 31536000.0 -}}
{{- $total := 0.0 -}}
{{- range regexFindAll "[0-9]+(ms|s|m|h|d|w|y)" . -1 -}}
{{- $unit := regexFind "(ms|s|m|h|d|w|y)$" . -}}
{{- $n := trimSuffix $unit . | float64 -}}
{{- $total = addf $total (mulf $n (get $units $unit)) -}}
{{- end -}}
{{- printf "%.0f" $total -}}
{{- end -}}

{{/* A byte size -> bytes. Kubernetes quantities ("5Gi", "5G" = 5e9) and petrel / Prometheus
     sizes ("4GiB", "4GB" = 4 GiB, base 2 as Prometheus's units.Base2Bytes). */}}
{{- define "petrel.bytes" -}}
{{- $m := regexFindAll "^([0-9.]+)([kKMGTPE]?)(i|iB|B)?$" (toString .) 1 -}}
{{- if not $m -}}{{- fail (printf "not a byte size: %q" (toString .)) -}}{{- end -}}
{{- $num := regexFind "^[0-9.]+" (toString .) | float64 -}}
{{- $rest := trimPrefix (regexFind "^[0-9.]+" (toString .)) (toString .) -}}
{{- $prefix := regexFind "^[kKMGTPE]?" $rest -}}
{{- $binary := ne $rest $prefix -}}
{{- $exp := get (dict "" 0 "k" 1 "K" 1 "M" 2 "G" 3 "T" 4 "P" 5 "E" 6) $prefix -}}
{{- $base := ternary 1024.0 1000.0 $binary -}}
{{- $mult := 1.0 -}}
{{- range until (int $exp) }}{{ $mult = mulf $mult $base }}{{ end -}}
{{- printf "%.0f" (mulf $num $mult) -}}
{{- end -}}

{{/* --storage.agent.retention.max-size: retentionSize as given, else 90% of storage.size in
     bytes (a hostPath has no size of its own, and a full PVC or emptyDir stops the WAL), else "". */}}
{{- define "petrel.retentionSize" -}}
{{- if .Values.retentionSize -}}
{{- .Values.retentionSize -}}
{{- else if .Values.storage.size -}}
{{- mulf (include "petrel.bytes" .Values.storage.size | float64) 0.9 | floor | printf "%.0f" -}}
{{- end -}}
{{- end -}}

{{/* The same bound in bytes, for the alerts; "" when unbounded. */}}
{{- define "petrel.walBoundBytes" -}}
{{- with include "petrel.retentionSize" . -}}{{ include "petrel.bytes" . }}{{- end -}}
{{- end -}}

{{/* How the bound was chosen, for alert descriptions. */}}
{{- define "petrel.walBoundText" -}}
{{- default (printf "90%% of storage.size %s" .Values.storage.size) .Values.retentionSize -}}
{{- end -}}

{{/* The ConfigMap's data: one petrel config per shard. */}}
{{- define "petrel.configData" -}}
{{- $shards := int (include "petrel.shards" .) -}}
{{- range $i := until $shards }}
{{- if $i }}{{ "\n" }}{{ end }}
{{- include "petrel.configKey" (dict "root" $ "shard" $i) }}: |
{{- include "petrel.config" (dict "root" $ "shard" $i "shards" $shards) | nindent 2 }}
{{- end }}
{{- end -}}
