package helmv3

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitopskit/gitopskit/gitopstest/chartrepo"
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
	fromDir, err := LoadChart(dir)
	if err != nil {
		t.Fatal(err)
	}
	fromArchive, err := LoadChart(tgz)
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
	changed, err := LoadChart(dir2)
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
	if _, err := LoadChart(dir); err == nil || !strings.Contains(err.Error(), "version") {
		t.Fatalf("chart without a version: %v", err)
	}
	dep := t.TempDir()
	if err := os.WriteFile(filepath.Join(dep, "Chart.yaml"), []byte("apiVersion: v2\nname: x\nversion: 1.0.0\ndependencies:\n- name: sub\n  version: 1.0.0\n  repository: https://example.com\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadChart(dep); err == nil || !strings.Contains(err.Error(), `"sub"`) {
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
