package helmv3

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitopskit/gitopskit/gitopstest/chartrepo"
	hrdriver "github.com/gitopskit/gitopskit/helmrelease/internal/driver"
)

func TestChartDigestSameForDirAndArchive(t *testing.T) {
	c := chartrepo.Chart{
		Name: "d", Version: "1.0.0", Values: "a: 1\n",
		Templates: map[string]string{"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"},
		CRDs:      map[string]string{"crd.yaml": "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: a.b.c\n"},
	}
	dir, err := chartrepo.WriteDir(t.TempDir(), c)
	if err != nil {
		t.Fatal(err)
	}
	archive, err := chartrepo.PackageDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	tgz := filepath.Join(t.TempDir(), "d-1.0.0.tgz")
	if err := os.WriteFile(tgz, archive, 0o644); err != nil {
		t.Fatal(err)
	}
	fromDir, err := LoadChart(dir, hrdriver.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fromArchive, err := LoadChart(tgz, hrdriver.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if fromDir.Digest != fromArchive.Digest || !fromDir.HasCRDs || fromDir.Name != "d" || fromDir.Version != "1.0.0" {
		t.Fatalf("dir %+v\narchive %+v", fromDir, fromArchive)
	}
	c.Values = "a: 2\n"
	dir2, err := chartrepo.WriteDir(t.TempDir(), c)
	if err != nil {
		t.Fatal(err)
	}
	changed, err := LoadChart(dir2, hrdriver.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if changed.Digest == fromDir.Digest {
		t.Fatal("a changed file did not change the digest")
	}
}

func TestLoadChartErrors(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Chart.yaml"), []byte("apiVersion: v2\nname: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadChart(dir, hrdriver.LoadOptions{}); err == nil || !strings.Contains(err.Error(), "version") {
		t.Fatalf("chart without a version: %v", err)
	}
	dep := t.TempDir()
	if err := os.WriteFile(filepath.Join(dep, "Chart.yaml"), []byte("apiVersion: v2\nname: x\nversion: 1.0.0\ndependencies:\n- name: sub\n  version: 1.0.0\n  repository: https://example.com\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadChart(dep, hrdriver.LoadOptions{}); err == nil || !strings.Contains(err.Error(), `"sub"`) {
		t.Fatalf("missing dependency: %v", err)
	}
}

func TestLabelRenderer(t *testing.T) {
	in := bytes.NewBufferString("---\n# Source: x\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  labels:\n    keep: me\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: b\n---\n")
	out, err := labelRenderer{"gitopskit.io/unit": "apps"}.Run(in)
	if err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if strings.Count(s, "gitopskit.io/unit: apps") != 2 || !strings.Contains(s, "keep: me") || strings.Count(s, "---") != 2 {
		t.Fatalf("output:\n%s", s)
	}
}

// kubeStateMetricsNotes is shaped like the NOTES.txt of prometheus-community's
// kube-state-metrics chart: text that is not YAML ("here:" then a URL).
const kubeStateMetricsNotes = `kube-state-metrics is a simple service that listens to the Kubernetes API server.
The exposed metrics can be found here:
https://github.com/kubernetes/kube-state-metrics/blob/master/docs/README.md#exposed-metrics

In your case, {{ .Release.Name }}-{{ .Chart.Name }}.{{ .Release.Namespace }}.svc:8080/metrics
`

// notesChart is a parent chart with NOTES.txt and two vendored subcharts
// (one as a folder, one as an archive), each with its own NOTES.txt and
// helpers, as prometheus-community's prometheus chart vendors
// kube-state-metrics and its siblings.
func notesChart() chartrepo.Chart {
	sub := func(name string) chartrepo.Chart {
		return chartrepo.Chart{
			Name: name, Version: "2.0.0",
			Templates: map[string]string{
				"NOTES.txt":    kubeStateMetricsNotes,
				"_helpers.tpl": `{{- define "` + name + `.fullname" -}}{{ .Release.Name }}-` + name + `{{- end -}}`,
				"cm.yaml":      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ include \"" + name + ".fullname\" . }}\n",
			},
		}
	}
	return chartrepo.Chart{
		Name: "prom", Version: "1.0.0",
		Templates: map[string]string{
			"NOTES.txt": "Prometheus can be reached at:\n{{ .Release.Name }}-server.{{ .Release.Namespace }}.svc\n",
			"cm.yaml":   "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-server\n",
		},
		Dependencies: []chartrepo.Dependency{
			{Chart: sub("kube-state-metrics"), Repository: "https://prometheus-community.github.io/helm-charts"},
			{Chart: sub("node-exporter"), Archive: true},
		},
	}
}

// Subcharts' NOTES.txt are not manifests: rendering a chart that vendors
// them must not parse them (Helm's install drops them); a real manifest
// error in a subchart still fails and names the file.
func TestRenderSkipsNotes(t *testing.T) {
	d := &Driver{namespace: "monitoring"}
	dir, err := chartrepo.WriteDir(t.TempDir(), notesChart())
	if err != nil {
		t.Fatal(err)
	}
	ch, err := LoadChart(dir, hrdriver.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Render(ch, "prom", nil, hrdriver.RenderOptions{}); err != nil {
		t.Fatalf("render: %v", err)
	}

	bad := notesChart()
	bad.Dependencies[0].Chart.Templates["svc.yaml"] = "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\n  labels: here: there\n"
	dir, err = chartrepo.WriteDir(t.TempDir(), bad)
	if err != nil {
		t.Fatal(err)
	}
	if ch, err = LoadChart(dir, hrdriver.LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = d.Render(ch, "prom", nil, hrdriver.RenderOptions{})
	if err == nil || !strings.Contains(err.Error(), "prom/charts/kube-state-metrics/templates/svc.yaml") || strings.Contains(err.Error(), "NOTES") {
		t.Fatalf("a broken subchart manifest: %v", err)
	}
}

// Values files are merged in order into the values that replace the
// chart's defaults (values.yaml only when listed); a missing one is a
// *ValuesFileError unless ignored; the digest follows the values.
func TestLoadChartValuesFiles(t *testing.T) {
	dir, err := chartrepo.WriteDir(t.TempDir(), chartrepo.Chart{
		Name: "vf", Version: "1.0.0",
		Values:    "a: 1\nnested: {x: 1, z: 1}\n",
		Templates: map[string]string{"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {ka: {{ .Values.a | quote }}, kx: {{ .Values.nested.x | quote }}, ky: {{ .Values.nested.z | quote }}, kb: {{ .Values.b | default \"none\" | quote }}}\n"},
		Files:     map[string]string{"values-prod.yaml": "nested: {x: 2}\nb: prod\n", "env/extra.yaml": "b: extra\n", "bad.yaml": "- a list\n"},
	})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := LoadChart(dir, hrdriver.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	render := func(ch *hrdriver.Chart) map[string]any {
		t.Helper()
		objs, err := RenderChart(ch, "r", "ns", nil, hrdriver.RenderOptions{})
		if err != nil || len(objs) != 1 {
			t.Fatalf("render: %d objects, %v", len(objs), err)
		}
		return objs[0].Object["data"].(map[string]any)
	}
	tests := []struct {
		name  string
		opts  hrdriver.LoadOptions
		want  string // data a x y b
		files string
		err   string
	}{
		{"over values.yaml", hrdriver.LoadOptions{ValuesFiles: []string{"values.yaml", "values-prod.yaml"}}, "1 2 1 prod", "values.yaml values-prod.yaml", ""},
		{"in order", hrdriver.LoadOptions{ValuesFiles: []string{"./values.yaml", "values-prod.yaml", "env/extra.yaml"}}, "1 2 1 extra", "./values.yaml values-prod.yaml env/extra.yaml", ""},
		{"without values.yaml", hrdriver.LoadOptions{ValuesFiles: []string{"values-prod.yaml"}}, "<nil> 2 <nil> prod", "values-prod.yaml", ""},
		{"missing", hrdriver.LoadOptions{ValuesFiles: []string{"values.yaml", "values-staging.yaml"}}, "", "", `values file "values-staging.yaml": not in the chart`},
		{"missing ignored", hrdriver.LoadOptions{ValuesFiles: []string{"values.yaml", "values-staging.yaml"}, IgnoreMissingValuesFiles: true}, "1 1 1 none", "values.yaml", ""},
		{"not a map", hrdriver.LoadOptions{ValuesFiles: []string{"bad.yaml"}}, "", "", `values file "bad.yaml": not a YAML map`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch, err := LoadChart(dir, tt.opts)
			if tt.err != "" {
				var vfe *hrdriver.ValuesFileError
				if !errors.As(err, &vfe) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want a *ValuesFileError %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			d := render(ch)
			if got := fmt.Sprintf("%v %v %v %v", d["ka"], d["kx"], d["ky"], d["kb"]); got != tt.want {
				t.Errorf("rendered %s, want %s", got, tt.want)
			}
			if got := strings.Join(ch.ValuesFiles, " "); got != tt.files {
				t.Errorf("files %q, want %q", got, tt.files)
			}
			if ch.Digest == plain.Digest && tt.want != "1 1 1 none" {
				t.Errorf("digest unchanged by the values files")
			}
		})
	}
}
