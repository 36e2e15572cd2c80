package build_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gitopskit/gitopskit/build"
)

const transformIn = `---
# Source: app/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: app
        image: example.com/app:1.0
---
# Source: app/templates/configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
data:
  message: hello
`

func TestTransform(t *testing.T) {
	tests := []struct {
		name string
		opts build.TransformOptions
		want []string // substrings of the output
		err  string
	}{
		{name: "nothing to do", opts: build.TransformOptions{}, want: []string{"# Source: app/templates/deployment.yaml"}},
		{name: "images", opts: build.TransformOptions{Images: []build.Image{{Name: "example.com/app", NewName: "mirror.example.com/app", NewTag: "2.0"}}},
			want: []string{"image: mirror.example.com/app:2.0"}},
		{name: "strategic merge", opts: build.TransformOptions{Patches: []build.Patch{{Patch: "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, labels: {team: a}}\nspec: {replicas: 3}\n"}}},
			want: []string{"team: a", "replicas: 3", "message: hello"}},
		{name: "JSON 6902 with target", opts: build.TransformOptions{Patches: []build.Patch{{
			Patch:  "- op: replace\n  path: /data/message\n  value: patched\n",
			Target: &build.Selector{Kind: "ConfigMap", Name: "web-.*"}}}},
			want: []string{"message: patched", "replicas: 1"}},
		{name: "target matching nothing", opts: build.TransformOptions{Patches: []build.Patch{{
			Patch:  "- op: replace\n  path: /data/message\n  value: patched\n",
			Target: &build.Selector{Kind: "Secret"}}}},
			want: []string{"message: hello"}},
		{name: "strategic merge naming no object", opts: build.TransformOptions{Patches: []build.Patch{{Patch: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other}\ndata: {a: b}\n"}}},
			err: "build: transform: kustomize"},
		{name: "too many objects", opts: build.TransformOptions{Images: []build.Image{{Name: "x", NewTag: "y"}}, Limits: build.Limits{MaxObjects: 1}},
			err: "objects"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := build.Transform(t.Context(), []byte(transformIn), tt.opts)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if d, c := strings.Index(string(out), "kind: Deployment"), strings.Index(string(out), "kind: ConfigMap"); d < 0 || c < d {
				t.Errorf("objects out of their input order:\n%s", out)
			}
		})
	}
	var tm *build.TooManyObjectsError
	_, err := build.Transform(t.Context(), []byte(transformIn), build.TransformOptions{Images: []build.Image{{Name: "x"}}, Limits: build.Limits{MaxObjects: 1}})
	if !errors.As(err, &tm) {
		t.Errorf("over the object limit: %v, want a *TooManyObjectsError", err)
	}
}
