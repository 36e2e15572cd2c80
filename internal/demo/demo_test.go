package demo

import "testing"

func TestFiles(t *testing.T) {
	files := Files()
	for _, u := range Units() {
		if _, ok := files[u.Path+"/kustomization.yaml"]; !ok {
			t.Errorf("unit %s: no %s/kustomization.yaml in %d files", u.Name, u.Path, len(files))
		}
	}
	if _, ok := files["apps/base/deployment.yaml"]; !ok {
		t.Error("apps/base/deployment.yaml missing")
	}
}
