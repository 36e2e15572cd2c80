package build

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitopskit/gitopskit/internal/object"
	valuesutil "github.com/gitopskit/gitopskit/internal/values"
)

// HelmOptions are the settings of a [HelmTemplate] rendering.
type HelmOptions struct {
	// ReleaseName is .Release.Name; empty means the chart's name.
	ReleaseName string
	// Namespace is .Release.Namespace, and the namespace given to namespaced
	// objects the chart leaves without one, as `helm install -n` does.
	// Empty means "default".
	Namespace string
	// Values override the chart's values.yaml, merged as `helm --values`
	// does. They are not modified.
	Values map[string]any
	// KubeVersion is .Capabilities.KubeVersion, such as "v1.31.0"; empty
	// means Helm's default.
	KubeVersion string
	// APIVersions are added to .Capabilities.APIVersions, such as
	// "monitoring.coreos.com/v1" or "monitoring.coreos.com/v1/ServiceMonitor".
	APIVersions []string
	// IncludeCRDs adds the CustomResourceDefinitions of the chart's crds/
	// directories (Helm's --include-crds).
	IncludeCRDs bool
	// IncludeHooks adds hook objects (annotated helm.sh/hook), except test
	// hooks, which are never included. By default hooks are left out: they
	// are meant to run at points of a Helm release's lifecycle, not to be
	// applied as ordinary objects.
	IncludeHooks bool
	// Root confines reading the chart: no path or symlink may lead outside
	// it. Empty means the chart directory itself, or the directory holding a
	// packaged chart. Set it to the artifact root for charts from a Git
	// artifact whose symlinks point elsewhere in the repository.
	Root string
	// Limits bound the bytes read; zero fields take [DefaultLimits].
	Limits Limits
}

// HelmTemplate renders the chart at chartPath, a chart directory or a
// packaged chart (.tgz), into objects validated and sorted in apply order,
// like `helm template`: no cluster is contacted, lookup returns nothing and
// .Capabilities come from opts. Chart dependencies must be present in the
// chart's charts/ directory; nothing is downloaded.
func HelmTemplate(ctx context.Context, chartPath string, opts HelmOptions) ([]*unstructured.Unstructured, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	files, err := readChart(ctx, chartPath, &opts)
	if err != nil {
		return nil, fmt.Errorf("helm template %s: %w", chartPath, err)
	}
	ns := opts.Namespace
	if ns == "" {
		ns = "default"
	}
	docs, err := renderChart(ctx, files, valuesutil.DeepCopy(opts.Values), renderOptions{
		releaseName:  opts.ReleaseName,
		namespace:    ns,
		kubeVersion:  opts.KubeVersion,
		apiVersions:  opts.APIVersions,
		includeCRDs:  opts.IncludeCRDs,
		includeHooks: opts.IncludeHooks,
	})
	if err != nil {
		return nil, fmt.Errorf("helm template %s: %w", chartPath, err)
	}
	var objs []built
	for _, d := range docs {
		decoded, err := object.Decode([]byte(d.content), d.source)
		if err != nil {
			return nil, fmt.Errorf("helm template %s: %w", chartPath, err)
		}
		for _, o := range decoded {
			objs = append(objs, built{obj: o, origin: d.source})
		}
	}
	defaultNamespace(objs, ns)
	out, err := finish(objs, opts.Limits)
	if err != nil {
		return nil, fmt.Errorf("helm template %s: %w", chartPath, err)
	}
	return out, nil
}

// chartFile is one file of a chart, named relative to the chart's root.
type chartFile struct {
	name string
	data []byte
}

// readChart reads a chart directory (honouring .helmignore) or a packaged
// chart through the confined filesystem.
func readChart(ctx context.Context, chartPath string, opts *HelmOptions) (files []chartFile, err error) {
	abs, err := filepath.Abs(chartPath)
	if err != nil {
		return nil, err
	}
	rootDir := opts.Root
	if rootDir == "" {
		rootDir = abs
		if !strings.HasSuffix(abs, string(filepath.Separator)) && isFile(abs) {
			rootDir = filepath.Dir(abs)
		}
	}
	rootDir, err = filepath.Abs(rootDir)
	if err != nil {
		return nil, err
	}
	rel, err := filepath.Rel(rootDir, abs)
	if err != nil {
		return nil, err
	}
	root, err := openArtifact(rootDir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	f := newConfinedFS(ctx, root, opts.Limits)
	rel = filepath.ToSlash(rel)
	if rel == ".." || strings.HasPrefix(rel, "../") {
		return nil, &PathEscapeError{Path: rel}
	}
	resolved, fi, err := f.stat(virtual(rel))
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		data, err := f.ReadFile(virtual(resolved))
		if err != nil {
			return nil, err
		}
		return []chartFile{{name: "", data: data}}, nil // a packaged chart
	}
	ignore, err := helmIgnoreRules(f, resolved)
	if err != nil {
		return nil, err
	}
	err = walkChart(f, resolved, "", ignore, 0, &files)
	return files, err
}

func isFile(p string) bool {
	fi, err := statOS(p)
	return err == nil && fi.Mode().IsRegular()
}

// maxChartDepth bounds directory nesting (symlinked directories included).
const maxChartDepth = 32

func walkChart(f *confinedFS, dir, rel string, ignored func(string, fs.FileInfo) bool, depth int, out *[]chartFile) error {
	if depth > maxChartDepth {
		return fmt.Errorf("chart directory %s nested deeper than %d levels", rel, maxChartDepth)
	}
	names, err := f.ReadDir(virtual(dir))
	if err != nil {
		return err
	}
	for _, name := range names {
		childRel := path.Join(rel, name)
		target, fi, err := f.stat(virtual(path.Join(dir, name)))
		if err != nil {
			return err
		}
		if ignored(childRel, fi) {
			continue
		}
		switch {
		case fi.IsDir():
			if err := walkChart(f, target, childRel, ignored, depth+1, out); err != nil {
				return err
			}
		case fi.Mode().IsRegular():
			data, err := f.ReadFile(virtual(target))
			if err != nil {
				return err
			}
			*out = append(*out, chartFile{name: childRel, data: bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))})
		default:
			return fmt.Errorf("chart file %s is not a regular file", childRel)
		}
	}
	return nil
}

// defaultNamespace gives namespaced objects without a namespace the release
// namespace. Objects are namespaced unless they are built-in cluster-scoped
// kinds or custom resources whose CRD, in the same output, says Cluster.
func defaultNamespace(objs []built, ns string) {
	clusterCRDs := map[schema.GroupKind]bool{}
	for _, b := range objs {
		o := b.obj
		if o.GetKind() != "CustomResourceDefinition" || !strings.HasPrefix(o.GetAPIVersion(), "apiextensions.k8s.io/") {
			continue
		}
		scope, _, _ := unstructured.NestedString(o.Object, "spec", "scope")
		group, _, _ := unstructured.NestedString(o.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
		if scope == "Cluster" {
			clusterCRDs[schema.GroupKind{Group: group, Kind: kind}] = true
		}
	}
	for _, b := range objs {
		o := b.obj
		if o.GetNamespace() != "" {
			continue
		}
		gk := object.KeyOf(o).GroupKind()
		if object.IsBuiltinClusterScoped(gk) || clusterCRDs[gk] {
			continue
		}
		o.SetNamespace(ns)
	}
}
