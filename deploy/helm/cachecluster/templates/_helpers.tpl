{{- define "cachecluster.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "cachecluster.fullname" -}}
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

{{- define "cachecluster.labels" -}}
{{ include "cachecluster.commonLabels" . }}
app.kubernetes.io/component: node
{{- end }}

{{/* Labels shared by every object of the release, without the component. */}}
{{- define "cachecluster.commonLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "cachecluster.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "cachecluster.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cachecluster.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: node
{{- end }}

{{- define "cachecluster.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "cachecluster.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Secret and key holding the PostgreSQL connection string (empty name: none). */}}
{{- define "cachecluster.dbSecretName" -}}
{{- if .Values.database.existingSecret }}{{ .Values.database.existingSecret }}
{{- else if or .Values.database.connectionString .Values.postgresql.enabled }}{{ include "cachecluster.fullname" . }}-db
{{- end }}
{{- end }}
{{- define "cachecluster.dbSecretKey" -}}
{{- if .Values.database.existingSecret }}{{ .Values.database.existingSecretKey }}{{ else }}connection-string{{ end }}
{{- end }}

{{/* Secret and key holding the management API token (empty name: none). */}}
{{- define "cachecluster.tokenSecretName" -}}
{{- if .Values.management.existingSecret }}{{ .Values.management.existingSecret }}
{{- else }}{{ include "cachecluster.fullname" . }}-management
{{- end }}
{{- end }}
{{- define "cachecluster.tokenSecretKey" -}}
{{- if .Values.management.existingSecret }}{{ .Values.management.existingSecretKey }}{{ else }}token{{ end }}
{{- end }}

{{/* Pod memory: store memory budget + hot copies + overhead, unless given outright. */}}
{{- define "cachecluster.memory" -}}
{{- if .Values.resources.memory }}{{ .Values.resources.memory }}
{{- else }}{{ add (int .Values.store.memoryBudgetMiB) (int .Values.cache.hotCacheSizeMiB) (int .Values.resources.memoryOverheadMiB) }}Mi
{{- end }}
{{- end }}

{{- define "cachecluster.volumeSize" -}}
{{- if .Values.persistence.size }}{{ .Values.persistence.size }}{{ else }}{{ add1 (int .Values.store.diskBudgetGiB) }}Gi{{ end }}
{{- end }}

{{/* Secret holding the cluster TLS material (ca.crt, tls.crt, tls.key); empty when cluster TLS is off. */}}
{{- define "cachecluster.clusterTlsSecretName" -}}
{{- if .Values.cluster.tls.enabled }}
{{- default (printf "%s-cluster-tls" (include "cachecluster.fullname" .)) .Values.cluster.tls.existingSecret }}
{{- end }}
{{- end }}
