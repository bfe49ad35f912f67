{{/* The pod template shared by the DaemonSet and the StatefulSet. */}}
{{- define "petrel.podTemplate" -}}
{{- $storage := include "petrel.storageType" . -}}
{{- $refs := include "petrel.mountedRefs" . | fromYaml -}}
metadata:
  labels:
    {{- include "petrel.selectorLabels" . | nindent 4 }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    {{- if .Values.rollOnConfigChange }}
    checksum/config: {{ include "petrel.configData" . | sha256sum }}
    {{- end }}
    kubectl.kubernetes.io/default-container: petrel
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "petrel.serviceAccountName" . }}
  automountServiceAccountToken: true
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
  securityContext:
    {{- toYaml .Values.podSecurityContext | nindent 4 }}
  {{- if and (eq $storage "hostPath") .Values.storage.hostPathInit }}
  initContainers:
    # hostPath directories are created root-owned; hand this one to the petrel user.
    - name: init-wal-dir
      image: {{ include "petrel.image" . }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      command: [chown, "{{ .Values.podSecurityContext.runAsUser | default 10001 }}:{{ .Values.podSecurityContext.runAsGroup | default 10001 }}", /data]
      securityContext:
        runAsNonRoot: false
        runAsUser: 0
        allowPrivilegeEscalation: false
        readOnlyRootFilesystem: true
        capabilities:
          drop: [ALL]
          add: [CHOWN]
      volumeMounts:
        - name: wal
          mountPath: /data
  {{- end }}
  containers:
    - name: petrel
      image: {{ include "petrel.image" . }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      args:
        {{- if eq .Values.mode "statefulset" }}
        - --config.file=/etc/petrel/$(POD_NAME).yml
        {{- else }}
        - --config.file=/etc/petrel/petrel.yml
        {{- end }}
        - --storage.agent.path=/data
        - --web.listen-address=0.0.0.0:{{ .Values.port }}
        - --web.enable-lifecycle
        - --log.level={{ .Values.logLevel }}
        {{- if not .Values.walCompression }}
        - --no-storage.agent.wal-compression
        {{- end }}
        {{- with .Values.retention }}
        - --storage.agent.retention.max-time={{ . }}
        {{- end }}
        {{- with include "petrel.retentionSize" . }}
        - --storage.agent.retention.max-size={{ . }}
        {{- end }}
        {{- range .Values.extraArgs }}
        - {{ . | toJson }}
        {{- end }}
      env:
        - name: NODE_NAME
          valueFrom: {fieldRef: {fieldPath: spec.nodeName}}
        - name: POD_NAME
          valueFrom: {fieldRef: {fieldPath: metadata.name}}
        - name: POD_NAMESPACE
          valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
        {{- with .Values.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      ports:
        - name: http-metrics
          containerPort: {{ .Values.port }}
          protocol: TCP
      startupProbe:
        httpGet: {path: /-/ready, port: http-metrics}
        {{- toYaml .Values.startupProbe | nindent 8 }}
      livenessProbe:
        httpGet: {path: /-/healthy, port: http-metrics}
        {{- toYaml .Values.livenessProbe | nindent 8 }}
      readinessProbe:
        httpGet: {path: /-/ready, port: http-metrics}
        {{- toYaml .Values.readinessProbe | nindent 8 }}
      {{- with .Values.resources }}
      resources:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- toYaml .Values.securityContext | nindent 8 }}
      volumeMounts:
        - name: config
          mountPath: /etc/petrel
          readOnly: true
        - name: wal
          mountPath: /data
        {{- range $refs.secrets }}
        - name: {{ include "petrel.volumeName" (dict "kind" "secret" "name" .) }}
          mountPath: /etc/petrel/secrets/{{ . }}
          readOnly: true
        {{- end }}
        {{- range $refs.configMaps }}
        - name: {{ include "petrel.volumeName" (dict "kind" "configmap" "name" .) }}
          mountPath: /etc/petrel/configmaps/{{ . }}
          readOnly: true
        {{- end }}
        {{- with .Values.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    - name: config
      configMap:
        name: {{ include "petrel.fullname" . }}
    {{- if eq $storage "hostPath" }}
    - name: wal
      hostPath:
        path: {{ printf "%s/%s-%s" (trimSuffix "/" .Values.storage.hostPath) .Release.Namespace (include "petrel.fullname" .) }}
        type: DirectoryOrCreate
    {{- else if eq $storage "emptyDir" }}
    - name: wal
      emptyDir:
        {{- with .Values.storage.size }}
        sizeLimit: {{ . }}
        {{- end }}
    {{- end }}
    {{- range $refs.secrets }}
    - name: {{ include "petrel.volumeName" (dict "kind" "secret" "name" .) }}
      secret:
        secretName: {{ . }}
    {{- end }}
    {{- range $refs.configMaps }}
    - name: {{ include "petrel.volumeName" (dict "kind" "configmap" "name" .) }}
      configMap:
        name: {{ . }}
    {{- end }}
    {{- with .Values.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- if .Values.tolerations }}
  tolerations:
    {{- toYaml .Values.tolerations | nindent 4 }}
  {{- else if and (eq .Values.mode "daemonset") .Values.tolerateAllTaints }}
  tolerations:
    - operator: Exists
  {{- end }}
  {{- with .Values.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}
