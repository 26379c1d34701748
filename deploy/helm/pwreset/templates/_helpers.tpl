{{/*
Labels on every object's metadata: the kustomize manifests' (name, part-of, component; name
only where they have one) plus Helm's own. Selectors use app.kubernetes.io/name and component only, as the manifests do, so
pods keep matching across chart versions.
*/}}
{{- define "pwreset.labels" -}}
{{- with .name }}
app.kubernetes.io/name: {{ . }}
{{- end }}
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
app.kubernetes.io/part-of: pwreset
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
{{- end }}

{{/* Pod template labels: no chart version, so an upgrade of the chart alone rolls nothing. */}}
{{- define "pwreset.podLabels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/part-of: pwreset
{{- end }}

{{- define "pwreset.image" -}}
{{ printf "%s%s:%s" .Values.image.registry (index .Values.image .service) .Values.image.tag }}
{{- end }}

{{- define "pwreset.sasl" -}}
{{- if hasPrefix "SASL_" .Values.kafka.securityProtocol }}true{{ end }}
{{- end }}

{{/*
A ConfigMap value: a string as is; a whole number without Helm's float formatting (604800, not
6.048e+05); anything else as Go prints it.
*/}}
{{- define "pwreset.configValue" -}}
{{- if and (kindIs "float64" .) (eq (floor .) .) -}}
{{- if or (gt . 1e15) (lt . -1e15) }}{{ printf "%v" . }}{{ else }}{{ printf "%.0f" . }}{{ end -}}
{{- else -}}
{{- toString . -}}
{{- end -}}
{{- end }}

{{/* The Kafka settings of one workload (its user is .user), for its ConfigMap. */}}
{{- define "pwreset.kafkaConfig" -}}
{{- $kafka := .root.Values.kafka -}}
KAFKA_BOOTSTRAP_SERVERS: {{ $kafka.bootstrapServers | quote }}
KAFKA_SECURITY_PROTOCOL: {{ $kafka.securityProtocol | quote }}
{{- if include "pwreset.sasl" .root }}
KAFKA_SASL_MECHANISM: {{ $kafka.saslMechanism | quote }}
KAFKA_SASL_USERNAME: {{ (index $kafka.users .user).username | quote }}
{{- end }}
{{- if $kafka.caSecret.name }}
KAFKA_SSL_CAFILE: "/etc/kafka-ca/ca.crt"
{{- end }}
{{- if $kafka.clientCertSecret.name }}
KAFKA_SSL_CERTFILE: "/etc/kafka-client-cert/tls.crt"
KAFKA_SSL_KEYFILE: "/etc/kafka-client-cert/tls.key"
{{- end }}
{{- end }}

{{/* The Kafka password of one workload, from its existing Secret. */}}
{{- define "pwreset.kafkaPasswordEnv" -}}
{{- if include "pwreset.sasl" .root }}
{{- $user := index .root.Values.kafka.users .user }}
# Its own Kafka user (SASL/SCRAM): docs/operations.md, "Kafka access".
- name: KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ $user.existingSecret }}, key: {{ $user.passwordKey }}}
{{- end }}
{{- end }}

{{/*
A service's environment from Secrets: the same list for its Deployment and its migration Job
(the settings validate everything at start, `migrate` included).
*/}}
{{- define "pwreset.secretEnv" -}}
{{- $v := .root.Values -}}
{{- $svc := index $v .name -}}
{{- $shared := $v.sharedSecrets -}}
{{- include "pwreset.kafkaPasswordEnv" (dict "root" .root "user" .name) }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef: {name: {{ $svc.existingSecret }}, key: DATABASE_URL}
{{- if eq .name "identity" }}
- name: TOTP_ENCRYPTION_KEY
  valueFrom:
    secretKeyRef: {name: {{ $svc.existingSecret }}, key: TOTP_ENCRYPTION_KEY}
- name: RECOVERY_CODE_HASH_KEY
  valueFrom:
    secretKeyRef: {name: {{ $svc.existingSecret }}, key: RECOVERY_CODE_HASH_KEY}
{{- end }}
{{- if eq .name "reset" }}
- name: TOKEN_HASH_KEYS
  valueFrom:
    secretKeyRef: {name: {{ $svc.existingSecret }}, key: TOKEN_HASH_KEYS}
{{- end }}
{{- if ne .name "notifier" }}
- name: INTERNAL_API_TOKEN
  valueFrom:
    secretKeyRef: {name: {{ $shared.internalApiToken.existingSecret }}, key: {{ $shared.internalApiToken.key }}}
{{- end }}
{{- if ne .name "identity" }}
- name: LINK_SEAL_KEYS
  valueFrom:
    secretKeyRef: {name: {{ $shared.linkSealKeys.existingSecret }}, key: {{ $shared.linkSealKeys.key }}}
{{- end }}
{{- if ne .name "reset" }}
- name: NOTICE_SEAL_KEYS
  valueFrom:
    secretKeyRef: {name: {{ $shared.noticeSealKeys.existingSecret }}, key: {{ $shared.noticeSealKeys.key }}}
{{- end }}
{{- if eq .name "notifier" }}
# Optional: SMTP without authentication leaves them out of the Secret.
- name: SMTP_USERNAME
  valueFrom:
    secretKeyRef: {name: {{ $svc.existingSecret }}, key: SMTP_USERNAME, optional: true}
- name: SMTP_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ $svc.existingSecret }}, key: SMTP_PASSWORD, optional: true}
{{- end }}
{{- end }}

{{- define "pwreset.podSecurityContext" -}}
securityContext:
  runAsNonRoot: true
  runAsUser: {{ .uid }}
  runAsGroup: {{ .uid }}
  seccompProfile:
    type: RuntimeDefault
{{- end }}

{{- define "pwreset.containerSecurityContext" -}}
securityContext:
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  privileged: false
  capabilities:
    drop: ["ALL"]
{{- end }}

{{/* The Kafka certificate mounts (CA, client certificate) of a workload that talks to Kafka. */}}
{{- define "pwreset.kafkaMounts" -}}
{{- if .Values.kafka.caSecret.name }}
- name: kafka-ca
  mountPath: /etc/kafka-ca
  readOnly: true
{{- end }}
{{- if .Values.kafka.clientCertSecret.name }}
- name: kafka-client-cert
  mountPath: /etc/kafka-client-cert
  readOnly: true
{{- end }}
{{- end }}

{{- define "pwreset.kafkaVolumes" -}}
{{- with .Values.kafka.caSecret }}
{{- if .name }}
# The CA that signed the brokers' certificates (Strimzi: <cluster>-cluster-ca-cert).
- name: kafka-ca
  secret:
    secretName: {{ .name }}
    items: [{key: {{ .key }}, path: ca.crt}]
{{- end }}
{{- end }}
{{- with .Values.kafka.clientCertSecret }}
{{- if .name }}
- name: kafka-client-cert
  secret:
    secretName: {{ .name }}
    items: [{key: {{ .certKey }}, path: tls.crt}, {key: {{ .keyKey }}, path: tls.key}]
{{- end }}
{{- end }}
{{- end }}

{{- define "pwreset.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- end }}

{{/* NetworkPolicy pieces. */}}
{{- define "pwreset.tcpPorts" -}}
{{- range . }}
- {protocol: TCP, port: {{ . }}}
{{- end }}
{{- end }}
{{- define "pwreset.fromNamespace" -}}
- namespaceSelector:
    matchLabels:
      kubernetes.io/metadata.name: {{ . }}
{{- end }}
{{- define "pwreset.apiPods" -}}
- podSelector:
    matchLabels:
      app.kubernetes.io/name: {{ . }}
      app.kubernetes.io/component: api
{{- end }}

{{- /* Which template overrides a service renders: the pages (identity, reset) or the emails. */}}
{{- define "pwreset.overrideSet" -}}
{{- if eq . "notifier" }}emails{{ else }}pages{{ end }}
{{- end }}

{{- /* The branding variables (servicekit.web.branding), the same in every service's ConfigMap;
       the optional ones only when set. TEMPLATE_OVERRIDE_DIR is set on the Deployments only,
       where the overrides are mounted. */}}
{{- define "pwreset.brandingConfig" -}}
{{- with .Values.branding }}
PRODUCT_NAME: {{ .productName | quote }}
PRIMARY_COLOUR: {{ .primaryColour | quote }}
LEGAL_FOOTER: {{ .legalFooter | quote }}
{{- with .logoUrl }}
LOGO_URL: {{ . | quote }}
{{- end }}
{{- with .supportUrl }}
SUPPORT_URL: {{ . | quote }}
{{- end }}
{{- with .mailFromName }}
MAIL_FROM_NAME: {{ . | quote }}
{{- end }}
{{- end }}
{{- end }}

{{- define "pwreset.overrideDir" -}}
/etc/pwreset/templates
{{- end }}
