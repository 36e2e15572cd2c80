package helmrelease

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"

	"github.com/gitopskit/gitopskit/gitopstest/chartrepo"
	"github.com/gitopskit/gitopskit/gitopstest/kubeassets"
)

// testLogger logs to t.Log, at info level.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// appChart is a Deployment plus a ConfigMap. Values: replicas, message,
// neverReady (labels the Pods so that the simulated cluster never makes
// them ready: a wait on the release then times out).
func appChart(version string) chartrepo.Chart {
	return chartrepo.Chart{
		Name: "app", Version: version, AppVersion: version,
		Values: "replicas: 1\nmessage: hello\nneverReady: false\n",
		Templates: map[string]string{
			"deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  replicas: {{ .Values.replicas }}
  progressDeadlineSeconds: 10
  selector:
    matchLabels:
      app: {{ .Release.Name }}
  template:
    metadata:
      labels:
        app: {{ .Release.Name }}
        {{- if .Values.neverReady }}
        ` + kubeassets.NeverReadyLabel + `: "true"
        {{- end }}
    spec:
      containers:
      - name: app
        image: example.com/app:{{ .Chart.AppVersion }}
`,
			"configmap.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-config
data:
  message: {{ .Values.message | quote }}
  chartVersion: {{ .Chart.Version | quote }}
`,
		},
	}
}

// cmChart is a chart with one ConfigMap: ready at once, for tests about
// chart sources and ordering.
func cmChart(name, version string) chartrepo.Chart {
	return chartrepo.Chart{
		Name: name, Version: version,
		Values: "message: hello\n",
		Templates: map[string]string{"configmap.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}
data:
  message: {{ .Values.message | quote }}
  chartVersion: {{ .Chart.Version | quote }}
`},
	}
}

func clientset(t *testing.T) *kubernetes.Clientset {
	t.Helper()
	cs, err := kubernetes.NewForConfig(testCluster(t).Config)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// configMapData reads a ConfigMap's data ("" values when absent).
func configMapData(t *testing.T, ns, name string) map[string]string {
	t.Helper()
	cm, err := clientset(t).CoreV1().ConfigMaps(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get ConfigMap %s/%s: %v", ns, name, err)
	}
	return cm.Data
}

// mustReconcile reconciles and fails the test unless the release is Ready.
func mustReconcile(t *testing.T, r *Reconciler, rel Release) Status {
	t.Helper()
	st, err := r.Reconcile(t.Context(), rel)
	if err != nil || !st.Ready {
		t.Fatalf("Reconcile %s: ready=%v reason=%s err=%v", rel.Key(), st.Ready, st.Reason, err)
	}
	return st
}

// revisions lists "revision:status" of the release history, newest first.
func revisions(st Status) string {
	var parts []string
	for _, h := range st.History {
		s := fmt.Sprintf("%d:%s", h.Revision, h.Status)
		if h.Failed {
			s += "!"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

func splitLines(s string) []string { return strings.Split(strings.TrimSuffix(s, "\n"), "\n") }

func containsStr(s, sub string) bool { return strings.Contains(s, sub) }

// scaleDeployment sets a Deployment's replicas through its scale
// subresource, as an autoscaler does.
func scaleDeployment(t *testing.T, ns, name string, replicas int32) {
	t.Helper()
	deployments := clientset(t).AppsV1().Deployments(ns)
	scale, err := deployments.GetScale(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	scale.Spec.Replicas = replicas
	if _, err := deployments.UpdateScale(t.Context(), name, scale, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// editConfigMap changes a ConfigMap by hand.
func editConfigMap(t *testing.T, ns, name string, edit func(*corev1.ConfigMap)) {
	t.Helper()
	configMaps := clientset(t).CoreV1().ConfigMaps(ns)
	cm, err := configMaps.Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	edit(cm)
	if _, err := configMaps.Update(t.Context(), cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}
