package build

// This file is the seam between the build package and Helm: the only file
// that imports Helm's packages. Replacing Helm (say, by v4) changes this
// file alone.

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"slices"
	"strings"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/ignore"
	"helm.sh/helm/v3/pkg/release"
)

type renderOptions struct {
	releaseName  string
	namespace    string
	kubeVersion  string
	apiVersions  []string
	includeCRDs  bool
	includeHooks bool
}

// renderedDoc is one rendered template and the chart file it came from.
type renderedDoc struct {
	source  string
	content string
}

// renderChart renders a chart given as its files (or as one unnamed file
// holding a packaged chart) the way `helm template` does.
func renderChart(ctx context.Context, files []chartFile, values map[string]any, o renderOptions) ([]renderedDoc, error) {
	ch, err := loadChart(files)
	if err != nil {
		return nil, err
	}
	install := action.NewInstall(&action.Configuration{Log: func(string, ...any) {}})
	install.DryRun = true
	install.ClientOnly = true
	install.Replace = true
	install.ReleaseName = o.releaseName
	if install.ReleaseName == "" {
		install.ReleaseName = ch.Name()
	}
	install.Namespace = o.namespace
	install.IncludeCRDs = o.includeCRDs
	install.APIVersions = o.apiVersions
	if o.kubeVersion != "" {
		kv, err := chartutil.ParseKubeVersion(o.kubeVersion)
		if err != nil {
			return nil, err
		}
		install.KubeVersion = kv
	}
	rel, err := install.RunWithContext(ctx, ch, values)
	if err != nil {
		return nil, err
	}
	docs := splitManifest(rel.Manifest)
	if o.includeHooks {
		for _, h := range rel.Hooks {
			if slices.Contains(h.Events, release.HookTest) {
				continue
			}
			docs = append(docs, renderedDoc{source: h.Path, content: h.Manifest})
		}
	}
	return docs, nil
}

func loadChart(files []chartFile) (*chart.Chart, error) {
	if len(files) == 1 && files[0].name == "" {
		return loader.LoadArchive(bytes.NewReader(files[0].data))
	}
	buffered := make([]*loader.BufferedFile, len(files))
	for i, f := range files {
		buffered[i] = &loader.BufferedFile{Name: f.name, Data: f.data}
	}
	return loader.LoadFiles(buffered)
}

// splitManifest splits Helm's release manifest, whose documents each start
// with "# Source: <chart file>", into documents named by that file.
func splitManifest(manifest string) []renderedDoc {
	var docs []renderedDoc
	for _, d := range strings.Split(manifest, "\n---\n") {
		d = strings.TrimPrefix(d, "---\n")
		src := "manifest"
		if rest, ok := strings.CutPrefix(strings.TrimLeft(d, "\n"), "# Source: "); ok {
			src, _, _ = strings.Cut(rest, "\n")
		}
		if strings.TrimSpace(d) != "" {
			docs = append(docs, renderedDoc{source: src, content: d})
		}
	}
	return docs
}

// helmIgnoreRules returns the chart's .helmignore rules plus Helm's defaults.
func helmIgnoreRules(f *confinedFS, dir string) (func(string, fs.FileInfo) bool, error) {
	rules := ignore.Empty()
	data, err := f.ReadFile(virtual(dir + "/" + ignore.HelmIgnore))
	switch {
	case err == nil:
		if rules, err = ignore.Parse(bytes.NewReader(data)); err != nil {
			return nil, err
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	rules.AddDefaults()
	return rules.Ignore, nil
}

func statOS(p string) (fs.FileInfo, error) { return os.Stat(p) }
