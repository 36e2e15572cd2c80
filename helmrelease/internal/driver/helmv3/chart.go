package helmv3

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/postrender"
	"helm.sh/helm/v3/pkg/releaseutil"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"
	sigsyaml "sigs.k8s.io/yaml"

	hrdriver "github.com/gitopskit/gitopskit/helmrelease/internal/driver"
	valuesutil "github.com/gitopskit/gitopskit/internal/values"
)

// LoadChart implements [hrdriver.Driver].
func (d *Driver) LoadChart(path string, opts hrdriver.LoadOptions) (*hrdriver.Chart, error) {
	return LoadChart(path, opts)
}

// LoadChart loads and validates the chart directory or archive at path,
// with its values files merged as opts says.
func LoadChart(path string, opts hrdriver.LoadOptions) (*hrdriver.Chart, error) {
	c, err := loadChart(path)
	if err != nil {
		return nil, err
	}
	var values map[string]any
	var files []string
	if len(opts.ValuesFiles) > 0 {
		if values, files, err = mergeValuesFiles(c, opts.ValuesFiles, opts.IgnoreMissingValuesFiles); err != nil {
			return nil, err
		}
		c.Values = values
	}
	digest, err := chartDigest(c)
	if err != nil {
		return nil, err
	}
	return &hrdriver.Chart{
		Path:        path,
		Name:        c.Metadata.Name,
		Version:     c.Metadata.Version,
		AppVersion:  c.Metadata.AppVersion,
		Digest:      digest,
		HasCRDs:     len(c.CRDObjects()) > 0,
		Values:      values,
		ValuesFiles: files,
	}, nil
}

// mergeValuesFiles merges the chart's files at paths, in order, as Flux's
// source-controller does for a HelmChart's valuesFiles: "values.yaml" is
// the chart's default values, other paths are the chart's other files
// (templates/ and charts/ are not values files).
func mergeValuesFiles(c *chart.Chart, paths []string, ignoreMissing bool) (map[string]any, []string, error) {
	out := map[string]any{}
	var used []string
	for _, p := range paths {
		name := path.Clean(strings.TrimPrefix(filepath.ToSlash(p), "./"))
		if name == chartutil.ValuesfileName {
			out = valuesutil.Merge(out, c.Values)
			used = append(used, p)
			continue
		}
		var data []byte
		found := false
		for _, f := range c.Files {
			if f.Name == name {
				data, found = f.Data, true
				break
			}
		}
		if !found {
			if ignoreMissing {
				continue
			}
			return nil, nil, &hrdriver.ValuesFileError{File: p, Missing: true}
		}
		var doc map[string]any
		if err := sigsyaml.Unmarshal(data, &doc); err != nil {
			return nil, nil, &hrdriver.ValuesFileError{File: p, Err: fmt.Errorf("not a YAML map: %w", err)}
		}
		out = valuesutil.Merge(out, doc)
		used = append(used, p)
	}
	return out, used, nil
}

// load loads ch for an action or a render: its chart, with the values
// files' values in place of its default values.
func load(ch *hrdriver.Chart) (*chart.Chart, error) {
	c, err := loadChart(ch.Path)
	if err != nil {
		return nil, err
	}
	if ch.Values != nil {
		c.Values = valuesutil.DeepCopy(ch.Values)
	}
	return c, nil
}

func loadChart(path string) (*chart.Chart, error) {
	c, err := loader.Load(path)
	if err != nil {
		return nil, fmt.Errorf("load chart: %w", err)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("invalid chart: %w", err)
	}
	if c.Metadata.Dependencies != nil {
		if err := checkDependencies(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// checkDependencies reports dependencies declared in Chart.yaml that are
// not vendored in charts/: fetching them is the chart's packager's job.
func checkDependencies(c *chart.Chart) error {
	have := map[string]bool{}
	for _, dep := range c.Dependencies() {
		have[dep.Name()] = true
	}
	for _, dep := range c.Metadata.Dependencies {
		if !have[dep.Name] {
			return fmt.Errorf("invalid chart: dependency %q is not in charts/ (package the chart with its dependencies)", dep.Name)
		}
	}
	return nil
}

// chartDigest is sha256 over the chart's content as Helm loads it:
// metadata, default values, schema, templates and other files (sorted by
// name), and the digests of its subcharts. It does not depend on how
// Chart.yaml is formatted, so a chart directory and the archive `helm
// package` makes of it have the same digest.
func chartDigest(c *chart.Chart) (string, error) {
	type file struct {
		Name string `json:"name"`
		Data []byte `json:"data"`
	}
	sorted := func(files []*chart.File) []file {
		out := make([]file, 0, len(files))
		for _, f := range files {
			out = append(out, file{f.Name, f.Data})
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
		return out
	}
	var deps []string
	for _, d := range c.Dependencies() {
		dd, err := chartDigest(d)
		if err != nil {
			return "", err
		}
		deps = append(deps, dd)
	}
	sort.Strings(deps)
	b, err := json.Marshal(struct {
		Metadata     *chart.Metadata `json:"metadata"`
		Values       map[string]any  `json:"values"`
		Schema       []byte          `json:"schema"`
		Templates    []file          `json:"templates"`
		Files        []file          `json:"files"`
		Dependencies []string        `json:"dependencies"`
	}{c.Metadata, c.Values, c.Schema, sorted(c.Templates), sorted(c.Files), deps})
	if err != nil {
		return "", fmt.Errorf("chart digest: %w", err)
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// Render implements [hrdriver.Driver]: it renders the chart with Helm's
// default capabilities and without cluster lookups, and parses the output,
// so that template, schema and YAML errors surface before any action.
func (d *Driver) Render(ch *hrdriver.Chart, name string, values map[string]any, opts hrdriver.RenderOptions) ([]*unstructured.Unstructured, error) {
	return RenderChart(ch, name, d.namespace, values, opts)
}

// RenderChart renders the chart as [Driver.Render] does, for a release
// name in namespace, with no cluster at all.
func RenderChart(ch *hrdriver.Chart, name, namespace string, values map[string]any, opts hrdriver.RenderOptions) ([]*unstructured.Unstructured, error) {
	c, err := load(ch)
	if err != nil {
		return nil, err
	}
	vals := valuesutil.DeepCopy(values)
	if err := chartutil.ProcessDependenciesWithMerge(c, vals); err != nil {
		return nil, fmt.Errorf("chart dependencies: %w", err)
	}
	relOpts := chartutil.ReleaseOptions{Name: name, Namespace: namespace, Revision: 1, IsInstall: true}
	top, err := chartutil.ToRenderValues(c, vals, relOpts, chartutil.DefaultCapabilities.Copy())
	if err != nil {
		return nil, err
	}
	files, err := engine.Render(c, top)
	if err != nil {
		return nil, err
	}
	dropNotes(files)
	// Parse the rendered manifests as Helm will (partials are skipped by
	// the sorter itself).
	hooks, manifests, err := releaseutil.SortManifests(files, nil, releaseutil.InstallOrder)
	if err != nil {
		return nil, err
	}
	var docs []string
	for _, h := range hooks {
		docs = append(docs, h.Manifest)
	}
	if opts.PostRender != nil {
		// As Helm does: the manifests (not the hooks) joined into one
		// stream, given to the post-renderer.
		var b strings.Builder
		for _, m := range manifests {
			fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", m.Name, m.Content)
		}
		out, err := opts.PostRender([]byte(b.String()))
		if err != nil {
			return nil, fmt.Errorf("post-render: %w", err)
		}
		docs = append(docs, string(out))
	} else {
		for _, m := range manifests {
			docs = append(docs, m.Content)
		}
	}
	for _, crd := range c.CRDObjects() {
		docs = append(docs, string(crd.File.Data))
	}
	var out []*unstructured.Unstructured
	for _, doc := range docs {
		objs, err := decodeObjects(doc)
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
	return out, nil
}

// decodeObjects decodes the objects of a YAML stream, Lists expanded.
func decodeObjects(doc string) ([]*unstructured.Unstructured, error) {
	r := yaml.NewYAMLReader(bufio.NewReader(strings.NewReader(doc)))
	var out []*unstructured.Unstructured
	for {
		raw, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("rendered manifest: %w", err)
		}
		var obj map[string]any
		if err := sigsyaml.Unmarshal(raw, &obj); err != nil {
			return nil, fmt.Errorf("rendered manifest: %w", err)
		}
		if len(obj) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: obj}
		if u.IsList() {
			l, err := u.ToList()
			if err != nil {
				return nil, fmt.Errorf("rendered manifest: %w", err)
			}
			for i := range l.Items {
				out = append(out, &l.Items[i])
			}
			continue
		}
		out = append(out, u)
	}
}

// notesFile is the name Helm gives a chart's notes template.
const notesFile = "NOTES.txt"

// dropNotes removes rendered notes from files, as Helm's install and
// upgrade do before they sort manifests: NOTES.txt is text for the user,
// not a manifest, whether it is the parent chart's (which Helm keeps as the
// release notes) or a subchart's (which Helm discards). Helm matches by
// suffix, and so does this.
func dropNotes(files map[string]string) {
	for name := range files {
		if strings.HasSuffix(name, notesFile) {
			delete(files, name)
		}
	}
}

// labelRenderer is a Helm post-renderer that adds labels to every rendered
// object.
type labelRenderer map[string]string

func (l labelRenderer) Run(in *bytes.Buffer) (*bytes.Buffer, error) {
	r := yaml.NewYAMLReader(bufio.NewReader(in))
	var out bytes.Buffer
	for {
		doc, err := r.Read()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("post-render: %w", err)
		}
		var obj map[string]any
		if err := sigsyaml.Unmarshal(doc, &obj); err != nil {
			return nil, fmt.Errorf("post-render: %w", err)
		}
		if len(obj) == 0 {
			continue
		}
		md, _ := obj["metadata"].(map[string]any)
		if md == nil {
			md = map[string]any{}
			obj["metadata"] = md
		}
		labels, _ := md["labels"].(map[string]any)
		if labels == nil {
			labels = map[string]any{}
		}
		for k, v := range l {
			labels[k] = v
		}
		md["labels"] = labels
		b, err := sigsyaml.Marshal(obj)
		if err != nil {
			return nil, fmt.Errorf("post-render: %w", err)
		}
		out.WriteString("---\n")
		out.Write(b)
	}
	return &out, nil
}

// postRenderers chains Helm post-renderers: the caller's, then the common
// labels, as Flux's helm-controller orders them.
func postRenderers(opts hrdriver.ActionOptions) postrender.PostRenderer {
	var chain chained
	if opts.PostRender != nil {
		chain = append(chain, funcRenderer(opts.PostRender))
	}
	if len(opts.CommonLabels) > 0 {
		chain = append(chain, labelRenderer(opts.CommonLabels))
	}
	switch len(chain) {
	case 0:
		return nil
	case 1:
		return chain[0]
	}
	return chain
}

// funcRenderer is a [hrdriver.PostRenderFunc] as a Helm post-renderer.
type funcRenderer hrdriver.PostRenderFunc

func (f funcRenderer) Run(in *bytes.Buffer) (*bytes.Buffer, error) {
	out, err := f(in.Bytes())
	if err != nil {
		return nil, err
	}
	return bytes.NewBuffer(out), nil
}

// chained runs post-renderers in order.
type chained []postrender.PostRenderer

func (c chained) Run(in *bytes.Buffer) (*bytes.Buffer, error) {
	var err error
	for _, r := range c {
		if in, err = r.Run(in); err != nil {
			return nil, err
		}
	}
	return in, nil
}
