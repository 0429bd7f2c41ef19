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

{{/* Secret holding the cluster TLS material (ca.crt, tls.crt, tls.key); empty when cluster TLS is off or not needed (Localhost: the silo is on loopback). */}}
{{- define "cachecluster.clusterTlsSecretName" -}}
{{- if and .Values.cluster.tls.enabled (eq (include "cachecluster.mode" .) "AdoNet") }}
{{- default (printf "%s-cluster-tls" (include "cachecluster.fullname" .)) .Values.cluster.tls.existingSecret }}
{{- end }}
{{- end }}

{{/* The clustering mode the nodes run: cluster.mode, with Auto = AdoNet when a database is configured, else Localhost. */}}
{{- define "cachecluster.mode" -}}
{{- if eq .Values.cluster.mode "Auto" }}{{ ternary "AdoNet" "Localhost" (not (empty (include "cachecluster.dbSecretName" .))) }}
{{- else }}{{ .Values.cluster.mode }}{{ end }}
{{- end }}

{{/* Number of nodes: replicaCount, or by default 3 with a database and 1 without. */}}
{{- define "cachecluster.replicas" -}}
{{- if kindIs "invalid" .Values.replicaCount }}{{ ternary 3 1 (eq (include "cachecluster.mode" .) "AdoNet") }}
{{- else }}{{ int .Values.replicaCount }}{{ end }}
{{- end }}

{{/* "true" when the management port serves TLS. */}}
{{- define "cachecluster.managementTls" -}}
{{- if or .Values.management.tls.existingSecret .Values.management.tls.certificate }}true{{ end }}
{{- end }}
{{- define "cachecluster.managementTlsSecretName" -}}
{{- default (printf "%s-management-tls" (include "cachecluster.fullname" .)) .Values.management.tls.existingSecret }}
{{- end }}

{{/* Secret and key holding the htpasswd file (empty name: no proxy auth). */}}
{{- define "cachecluster.htpasswdSecretName" -}}
{{- if .Values.auth.existingSecret }}{{ .Values.auth.existingSecret }}
{{- else if .Values.auth.htpasswd }}{{ include "cachecluster.fullname" . }}-auth
{{- end }}
{{- end }}
{{- define "cachecluster.htpasswdSecretKey" -}}
{{- if .Values.auth.existingSecret }}{{ .Values.auth.existingSecretKey }}{{ else }}htpasswd{{ end }}
{{- end }}

{{/* ConfigMap holding the access-rule list files (empty name: none). */}}
{{- define "cachecluster.listsConfigMapName" -}}
{{- if .Values.access.existingConfigMap }}{{ .Values.access.existingConfigMap }}
{{- else if .Values.access.lists }}{{ include "cachecluster.fullname" . }}-lists
{{- end }}
{{- end }}

{{/* Values that cannot work together: fail at render time with the values to change. */}}
{{- define "cachecluster.validate" -}}
{{- $mode := include "cachecluster.mode" . }}
{{- if and (eq $mode "Localhost") (or (gt (int (include "cachecluster.replicas" .)) 1) .Values.autoscaling.enabled) }}
{{- fail "cluster.mode=Localhost runs a single node (no database was given): set replicaCount=1 (and autoscaling.enabled=false), or give a database to scale out: database.connectionString, database.existingSecret or postgresql.enabled=true" }}
{{- end }}
{{- if and (eq $mode "Localhost") .Values.postgresql.enabled }}
{{- fail "postgresql.enabled=true with cluster.mode=Localhost: the database would be unused; use cluster.mode=Auto or AdoNet" }}
{{- end }}
{{- if and (eq $mode "Localhost") .Values.cluster.gatewayEnabled }}
{{- fail "cluster.gatewayEnabled needs cluster.mode=AdoNet: in Localhost mode the gateway listens on the pod's loopback only" }}
{{- end }}
{{- if and (eq $mode "AdoNet") (not (include "cachecluster.dbSecretName" .)) }}
{{- fail "cluster.mode=AdoNet needs PostgreSQL: set database.connectionString, database.existingSecret or postgresql.enabled=true" }}
{{- end }}
{{- if and .Values.auth.htpasswd .Values.auth.existingSecret }}
{{- fail "auth.htpasswd and auth.existingSecret are alternatives: set one" }}
{{- end }}
{{- if and .Values.access.lists .Values.access.existingConfigMap }}
{{- fail "access.lists and access.existingConfigMap are alternatives: set one" }}
{{- end }}
{{- if and .Values.management.tls.existingSecret (or .Values.management.tls.certificate .Values.management.tls.key) }}
{{- fail "management.tls.existingSecret and management.tls.certificate/key are alternatives: set one" }}
{{- end }}
{{- if ne (empty .Values.management.tls.certificate) (empty .Values.management.tls.key) }}
{{- fail "management.tls needs both certificate and key (PEM)" }}
{{- end }}
{{- end }}
