package helmrelease

import (
	"strings"

	"github.com/gitopskit/gitopskit/gitopstest/chartrepo"
)

// The test chart below has the structures of widely used charts, learnt
// from prometheus-community's prometheus chart (vendored subcharts, each
// with NOTES.txt and helpers, enabled by conditions), cert-manager's (CRDs,
// a post-install Job hook with a weight and deletion policy), and podinfo
// and Bitnami-style charts (a library chart for labels, a values schema, a
// Secret kept stable with lookup, a checksum annotation). The fixtures are
// ours.

// stackGroup is the API group of the stack chart's CRD (distinct from the
// CRD tests' group: CRDs are cluster-wide and tests run in parallel).
const stackGroup = "stack.test.gitopskit.io"

// notesText is shaped like kube-state-metrics' NOTES.txt: text that is not
// YAML.
const notesText = `{{ .Chart.Name }} is a simple service that listens to the Kubernetes API server.
The exposed metrics can be found here:
https://github.com/kubernetes/kube-state-metrics/blob/master/docs/README.md#exposed-metrics

In your case, {{ include "%s.fullname" . }}.{{ .Release.Namespace }}.svc:8080/metrics
`

// helpers are a subchart's _helpers.tpl: fullname and labels, the way
// charts made with `helm create` define them.
func helpers(name string) string {
	return strings.NewReplacer("NAME", name).Replace(`{{/* Full name: release-chart, truncated to 63 characters. */}}
{{- define "NAME.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "NAME.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- with .Values.global.team }}
team: {{ . }}
{{- end }}
{{- end -}}
`)
}

// deployment is a Deployment template for chart name, using its fullname
// helper and the labels template labelsTemplate.
func deployment(name, labelsTemplate string) string {
	return strings.NewReplacer("NAME", name, "LABELS", labelsTemplate).Replace(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "NAME.fullname" . }}
  labels:
    {{- include "LABELS" . | nindent 4 }}
spec:
  replicas: {{ .Values.replicaCount | default 1 }}
  selector:
    matchLabels:
      app.kubernetes.io/name: {{ .Chart.Name }}
      app.kubernetes.io/instance: {{ .Release.Name }}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {{ .Chart.Name }}
        app.kubernetes.io/instance: {{ .Release.Name }}
    spec:
      containers:
      - name: {{ .Chart.Name }}
        image: "example.com/{{ .Chart.Name }}:{{ .Chart.AppVersion }}"
`)
}

func service(name string) string {
	return strings.NewReplacer("NAME", name).Replace(`apiVersion: v1
kind: Service
metadata:
  name: {{ include "NAME.fullname" . }}
  labels:
    {{- include "NAME.labels" . | nindent 4 }}
spec:
  selector:
    app.kubernetes.io/name: {{ .Chart.Name }}
    app.kubernetes.io/instance: {{ .Release.Name }}
  ports:
  - name: http
    port: 8080
`)
}

// subchart is a vendored subchart with its own NOTES.txt and helpers, a
// Deployment and a Service.
func subchart(name string) chartrepo.Chart {
	return chartrepo.Chart{
		Name: name, Version: "2.3.0", AppVersion: "2.3.0",
		Values: "replicaCount: 1\nglobal: {}\n",
		Templates: map[string]string{
			"NOTES.txt":       strings.Replace(notesText, "%s", name, 1),
			"_helpers.tpl":    helpers(name),
			"deployment.yaml": deployment(name, name+".labels"),
			"service.yaml":    service(name),
		},
	}
}

// metricsChart is like kube-state-metrics: it also has a ServiceAccount
// and cluster-wide RBAC (named after the namespace, as two releases of it
// may coexist).
func metricsChart() chartrepo.Chart {
	c := subchart("metrics")
	c.Templates["serviceaccount.yaml"] = `apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "metrics.fullname" . }}
`
	c.Templates["clusterrole.yaml"] = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: {{ .Release.Namespace }}-{{ include "metrics.fullname" . }}
  labels:
    {{- include "metrics.labels" . | nindent 4 }}
rules:
- apiGroups: [""]
  resources: [pods, nodes]
  verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: {{ .Release.Namespace }}-{{ include "metrics.fullname" . }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: {{ .Release.Namespace }}-{{ include "metrics.fullname" . }}
subjects:
- kind: ServiceAccount
  name: {{ include "metrics.fullname" . }}
  namespace: {{ .Release.Namespace }}
`
	return c
}

// commonChart is a library chart (type: library) with shared labels, as
// Bitnami's "common" chart provides them.
func commonChart() chartrepo.Chart {
	return chartrepo.Chart{
		Name: "common", Version: "1.4.0", Type: "library",
		Templates: map[string]string{"_labels.tpl": `{{/* Standard labels, rendered in the calling chart's context. */}}
{{- define "common.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}
`},
	}
}

// stackSchema is the parent chart's values.schema.json.
const stackSchema = `{
  "$schema": "http://json-schema.org/draft-07/schema#",
  "type": "object",
  "required": ["replicaCount", "message"],
  "properties": {
    "replicaCount": {"type": "integer", "minimum": 0},
    "message": {"type": "string", "minLength": 1},
    "widget": {
      "type": "object",
      "properties": {"size": {"type": "integer", "minimum": 1, "maximum": 10}}
    }
  }
}
`

// stackChart is the parent chart: a server with a Deployment, Service,
// ConfigMap and a Secret kept stable with lookup; a custom resource of the
// CRD in crds/; hooks (pre-install/pre-upgrade ConfigMap with weight -5, a
// post-install/post-upgrade Job with weight 5 deleted when it succeeds, a
// pre-delete ConfigMap); a values schema; and vendored subcharts: metrics
// and exporter (enabled), pushgateway (disabled by a condition), each with
// its own NOTES.txt and helpers, and the library chart common. exporter and
// common are vendored as archives, as `helm dependency build` leaves them,
// the others as folders.
func stackChart(version string) chartrepo.Chart {
	pushgateway := subchart("pushgateway")
	return chartrepo.Chart{
		Name: "stack", Version: version, AppVersion: version,
		Description: "A chart shaped like the widely used ones",
		Values: `replicaCount: 1
message: hello
widget:
  size: 1
global:
  team: platform
metrics:
  enabled: true
exporter:
  enabled: true
pushgateway:
  enabled: false
`,
		Files: map[string]string{"values.schema.json": stackSchema},
		CRDs: map[string]string{"widgets.yaml": `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.` + stackGroup + `
spec:
  group: ` + stackGroup + `
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
`},
		Templates: map[string]string{
			"NOTES.txt": `Thank you for installing {{ .Chart.Name }} {{ .Chart.Version }}.
The server can be reached at:
http://{{ include "stack.fullname" . }}.{{ .Release.Namespace }}.svc:8080
`,
			"_helpers.tpl": `{{- define "stack.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "stack.labels" -}}
{{ include "common.labels" . }}
app.kubernetes.io/component: server
{{- end -}}
`,
			"deployment.yaml": strings.Replace(deployment("stack", "stack.labels"), "    spec:\n", `      annotations:
        checksum/config: {{ include (print $.Template.BasePath "/configmap.yaml") . | sha256sum }}
    spec:
`, 1),
			"service.yaml": service("stack"),
			"configmap.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "stack.fullname" . }}
  labels:
    {{- include "stack.labels" . | nindent 4 }}
data:
  message: {{ .Values.message | quote }}
`,
			// A generated token kept across upgrades: the pattern of charts
			// that must not rotate a password on every upgrade.
			"secret.yaml": `{{- $name := printf "%s-token" (include "stack.fullname" .) -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace $name -}}
apiVersion: v1
kind: Secret
metadata:
  name: {{ $name }}
  labels:
    {{- include "stack.labels" . | nindent 4 }}
type: Opaque
data:
  {{- if and $existing $existing.data }}
  token: {{ index $existing.data "token" }}
  {{- else }}
  token: {{ randAlphaNum 24 | b64enc }}
  {{- end }}
`,
			"widget.yaml": `apiVersion: ` + stackGroup + `/v1
kind: Widget
metadata:
  name: {{ include "stack.fullname" . }}
spec:
  size: {{ .Values.widget.size }}
`,
			"hooks/pre-upgrade.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "stack.fullname" . }}-pre
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: "-5"
    helm.sh/hook-delete-policy: before-hook-creation
data:
  revision: {{ .Release.Revision | quote }}
  message: {{ .Values.message | quote }}
`,
			"hooks/post-upgrade-job.yaml": `apiVersion: batch/v1
kind: Job
metadata:
  name: {{ include "stack.fullname" . }}-check
  annotations:
    helm.sh/hook: post-install,post-upgrade
    helm.sh/hook-weight: "5"
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: check
        image: example.com/check:1
`,
			"hooks/pre-delete.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "stack.fullname" . }}-pre-delete
  annotations:
    helm.sh/hook: pre-delete
    helm.sh/hook-weight: "1"
data:
  revision: {{ .Release.Revision | quote }}
`,
		},
		Dependencies: []chartrepo.Dependency{
			{Chart: commonChart(), Repository: "oci://registry.example.com/charts", Archive: true},
			{Chart: metricsChart(), Repository: "https://charts.example.com", Condition: "metrics.enabled"},
			{Chart: subchart("exporter"), Repository: "https://charts.example.com", Condition: "exporter.enabled", Archive: true},
			{Chart: pushgateway, Repository: "https://charts.example.com", Condition: "pushgateway.enabled"},
		},
	}
}
