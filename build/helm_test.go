package build

import (
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

var testChart = map[string]string{
	"demo/Chart.yaml":  "apiVersion: v2\nname: demo\nversion: 0.1.0\n",
	"demo/values.yaml": "replicas: 1\nimage: nginx:1.25\nrbac: true\n",
	"demo/.helmignore": "*.bak\n",
	"demo/templates/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-web
  labels: {kube: "{{ .Capabilities.KubeVersion.Minor }}"}
spec:
  replicas: {{ .Values.replicas }}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: {{ .Values.image | quote }}}]
`,
	"demo/templates/rbac.yaml": `{{- if .Values.rbac }}
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: {{ .Release.Name }}-reader}
rules: []
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: w}
{{- end }}
`,
	"demo/templates/hook.yaml": `apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  annotations: {"helm.sh/hook": pre-install}
spec: {template: {spec: {restartPolicy: Never, containers: [{name: m, image: busybox}]}}}
`,
	"demo/templates/tests/test.yaml": `apiVersion: v1
kind: Pod
metadata:
  name: test
  annotations: {"helm.sh/hook": test}
spec: {containers: [{name: t, image: busybox}]}
`,
	"demo/templates/NOTES.txt":  "installed {{ .Release.Name }}\n",
	"demo/templates/broken.bak": "{{ this would not render",
	"demo/crds/widget.yaml": `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Cluster
  names: {kind: Widget, plural: widgets}
  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]
`,
}

func TestHelmTemplate(t *testing.T) {
	dir := writeTree(t, testChart)
	chartDir := filepath.Join(dir, "demo")
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	tgz, err := chartutil.Save(ch, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		chart string
		opts  HelmOptions
		want  []string
		check func(t *testing.T, objs []*unstructured.Unstructured)
	}{
		{
			name:  "directory with values",
			chart: chartDir,
			opts: HelmOptions{
				ReleaseName: "rel", Namespace: "apps", KubeVersion: "v1.31.0",
				Values: map[string]any{"replicas": 3, "image": "nginx:1.27"},
			},
			want: []string{"rbac.authorization.k8s.io/ClusterRole//rel-reader", "apps/Deployment/apps/rel-web", "example.com/Widget/apps/w"},
			check: func(t *testing.T, objs []*unstructured.Unstructured) {
				d := find(t, objs, "apps/Deployment/apps/rel-web")
				if r, _, _ := unstructured.NestedInt64(d.Object, "spec", "replicas"); r != 3 {
					t.Errorf("replicas = %d", r)
				}
				if d.GetLabels()["kube"] != "31" {
					t.Errorf("kube version label = %q", d.GetLabels()["kube"])
				}
			},
		},
		{
			name:  "packaged chart with CRDs and hooks",
			chart: tgz,
			opts:  HelmOptions{IncludeCRDs: true, IncludeHooks: true, Values: map[string]any{"rbac": false}},
			want:  []string{"apiextensions.k8s.io/CustomResourceDefinition//widgets.example.com", "apps/Deployment/default/demo-web", "batch/Job/default/migrate"},
		},
		{
			name:  "cluster-scoped custom resources keep no namespace",
			chart: chartDir,
			opts:  HelmOptions{IncludeCRDs: true},
			want:  []string{"apiextensions.k8s.io/CustomResourceDefinition//widgets.example.com", "rbac.authorization.k8s.io/ClusterRole//demo-reader", "apps/Deployment/default/demo-web", "example.com/Widget//w"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			values := tt.opts.Values
			objs, err := HelmTemplate(t.Context(), tt.chart, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := keys(objs); !slices.Equal(got, tt.want) {
				t.Fatalf("keys = %q, want %q", got, tt.want)
			}
			if tt.check != nil {
				tt.check(t, objs)
			}
			if len(values) != len(tt.opts.Values) {
				t.Fatal("HelmTemplate modified the caller's values")
			}
		})
	}
}

func TestHelmTemplateErrors(t *testing.T) {
	tests := []struct {
		name   string
		files  map[string]string
		link   [2]string
		opts   HelmOptions
		target error
	}{
		{
			name:   "template renders invalid YAML",
			files:  map[string]string{"c/Chart.yaml": "apiVersion: v2\nname: c\nversion: 0.1.0\n", "c/templates/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n bad: x\n"},
			target: nil,
		},
		{
			name:   "duplicate objects",
			files:  map[string]string{"c/Chart.yaml": "apiVersion: v2\nname: c\nversion: 0.1.0\n", "c/templates/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"},
			target: ErrDuplicate,
		},
		{
			name:   "symlink out of the chart",
			files:  map[string]string{"c/Chart.yaml": "apiVersion: v2\nname: c\nversion: 0.1.0\n", "c/templates/NOTES.txt": ""},
			link:   [2]string{"/etc/passwd", "c/templates/passwd.yaml"},
			target: ErrPathEscape,
		},
		{
			name:   "file over the limit",
			files:  map[string]string{"c/Chart.yaml": "apiVersion: v2\nname: c\nversion: 0.1.0\n", "c/values.yaml": "x: " + string(make([]byte, 0)) + "0123456789012345678901234567890123456789\n"},
			opts:   HelmOptions{Limits: Limits{MaxFileSize: 32}},
			target: ErrTooLarge,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeTree(t, tt.files)
			if tt.link[0] != "" {
				symlink(t, tt.link[0], filepath.Join(dir, tt.link[1]))
			}
			_, err := HelmTemplate(t.Context(), filepath.Join(dir, "c"), tt.opts)
			t.Logf("err: %v", err)
			if err == nil {
				t.Fatal("want error")
			}
			if tt.target != nil && !errors.Is(err, tt.target) {
				t.Fatalf("err = %v, want %v", err, tt.target)
			}
		})
	}
}
