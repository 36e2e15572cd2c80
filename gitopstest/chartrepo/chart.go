package chartrepo

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
)

// Chart describes a chart to build. Name and Version are required.
type Chart struct {
	Name        string
	Version     string
	AppVersion  string
	Description string
	// Values is the content of values.yaml.
	Values string
	// Templates maps file names under templates/ to their content.
	Templates map[string]string
	// CRDs maps file names under crds/ to their content.
	CRDs map[string]string
	// Files maps other paths in the chart (such as "values.schema.json")
	// to their content.
	Files map[string]string
	// Type is the chart type: "" (application) or "library".
	Type string
	// Dependencies are subcharts vendored in charts/ and declared in
	// Chart.yaml, as `helm dependency build` leaves them.
	Dependencies []Dependency
}

// Dependency is a subchart vendored in its parent's charts/ folder.
type Dependency struct {
	// Chart is the subchart. Its Name and Version are the dependency's
	// name and version in the parent's Chart.yaml.
	Chart Chart
	// Repository, Condition and Alias are written to the parent's
	// Chart.yaml as given (Repository may be empty for a chart that is
	// only vendored).
	Repository string
	Condition  string
	Alias      string
	// Archive vendors the subchart as charts/NAME-VERSION.tgz (what `helm
	// dependency build` writes) instead of a directory charts/NAME/.
	Archive bool
}

// WriteDir writes c as a chart directory named c.Name under parent and
// returns its path.
func WriteDir(parent string, c Chart) (string, error) {
	if c.Name == "" || c.Version == "" {
		return "", errors.New("chartrepo: chart name and version are required")
	}
	dir := filepath.Join(parent, c.Name)
	files := map[string]string{"Chart.yaml": chartYAML(c)}
	if c.Values != "" {
		files["values.yaml"] = c.Values
	}
	for name, content := range c.Templates {
		files[filepath.Join("templates", name)] = content
	}
	for name, content := range c.CRDs {
		files[filepath.Join("crds", name)] = content
	}
	for name, content := range c.Files {
		files[name] = content
	}
	for _, d := range c.Dependencies {
		if d.Archive {
			data, err := Package(d.Chart)
			if err != nil {
				return "", fmt.Errorf("chartrepo: subchart %s: %w", d.Chart.Name, err)
			}
			files[filepath.Join("charts", d.Chart.Name+"-"+d.Chart.Version+".tgz")] = string(data)
			continue
		}
		if d.Chart.Name == "" || strings.ContainsAny(d.Chart.Name, `/\`) || d.Chart.Name == "." || d.Chart.Name == ".." {
			return "", fmt.Errorf("chartrepo: subchart name %q is not a folder name", d.Chart.Name)
		}
		if _, err := WriteDir(filepath.Join(dir, "charts"), d.Chart); err != nil {
			return "", fmt.Errorf("chartrepo: subchart %s: %w", d.Chart.Name, err)
		}
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := filepath.Join(dir, n)
		if !strings.HasPrefix(p, dir+string(filepath.Separator)) {
			return "", fmt.Errorf("chartrepo: file %q escapes the chart", n)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", fmt.Errorf("chartrepo: %w", err)
		}
		if err := os.WriteFile(p, []byte(files[n]), 0o644); err != nil {
			return "", fmt.Errorf("chartrepo: %w", err)
		}
	}
	return dir, nil
}

func chartYAML(c Chart) string {
	var b strings.Builder
	typ := c.Type
	if typ == "" {
		typ = "application"
	}
	fmt.Fprintf(&b, "apiVersion: v2\nname: %s\nversion: %s\ntype: %s\n", c.Name, c.Version, typ)
	if c.AppVersion != "" {
		fmt.Fprintf(&b, "appVersion: %q\n", c.AppVersion)
	}
	if c.Description != "" {
		fmt.Fprintf(&b, "description: %q\n", c.Description)
	}
	if len(c.Dependencies) > 0 {
		b.WriteString("dependencies:\n")
		for _, d := range c.Dependencies {
			fmt.Fprintf(&b, "- name: %q\n  version: %q\n  repository: %q\n", d.Chart.Name, d.Chart.Version, d.Repository)
			if d.Condition != "" {
				fmt.Fprintf(&b, "  condition: %q\n", d.Condition)
			}
			if d.Alias != "" {
				fmt.Fprintf(&b, "  alias: %q\n", d.Alias)
			}
		}
	}
	return b.String()
}

// Package builds c and packages it into a chart archive (.tgz), as
// `helm package` does.
func Package(c Chart) ([]byte, error) {
	tmp, err := os.MkdirTemp("", "chartrepo-")
	if err != nil {
		return nil, fmt.Errorf("chartrepo: %w", err)
	}
	defer os.RemoveAll(tmp)
	dir, err := WriteDir(tmp, c)
	if err != nil {
		return nil, err
	}
	return PackageDir(dir)
}

// PackageDir packages the chart directory dir into a chart archive.
func PackageDir(dir string) ([]byte, error) {
	ch, err := loader.LoadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("chartrepo: load %s: %w", dir, err)
	}
	out, err := os.MkdirTemp("", "chartrepo-pkg-")
	if err != nil {
		return nil, fmt.Errorf("chartrepo: %w", err)
	}
	defer os.RemoveAll(out)
	p, err := chartutil.Save(ch, out)
	if err != nil {
		return nil, fmt.Errorf("chartrepo: package %s: %w", dir, err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("chartrepo: %w", err)
	}
	return data, nil
}

// metadata reads an archive's Chart.yaml.
func metadata(archive []byte) (*chart.Metadata, error) {
	ch, err := loader.LoadArchive(bytes.NewReader(archive))
	if err != nil {
		return nil, fmt.Errorf("chartrepo: not a chart archive: %w", err)
	}
	return ch.Metadata, nil
}

// Digest returns the hex SHA-256 of data, as index.yaml spells digests.
func Digest(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
