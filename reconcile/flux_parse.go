package reconcile

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// fluxDoc is one Flux object, of a YAML stream or of a unit's build.
type fluxDoc struct {
	index, line           int
	apiVersion            string
	kind, namespace, name string
	doc                   []byte // its YAML, then its JSON once parsed
	// spec is the spec in the newest API version's Go type:
	// *sourcev1.GitRepositorySpec, *kustv1.KustomizationSpec,
	// *helmv2.HelmReleaseSpec, *fluxArtifactGeneratorSpec...
	spec any
	// unitName is the unit (Kustomization, HelmRelease) or source
	// (GitRepository) name the object gets in the configuration.
	unitName string
}

func (d *fluxDoc) key() fluxKey { return fluxKey{d.kind, d.namespace, d.name} }

func (d *fluxDoc) fail(field string, err error) *FluxError {
	return &FluxError{Document: d.index, Line: d.line, Kind: d.kind, Namespace: d.namespace, Name: d.name, Field: field, Err: err}
}

func (d *fluxDoc) failf(field, format string, args ...any) *FluxError {
	return d.fail(field, fmt.Errorf(format, args...))
}

// fluxKey identifies a Flux object.
type fluxKey struct{ kind, namespace, name string }

func (k fluxKey) String() string { return k.kind + " " + k.namespace + "/" + k.name }

type lookupResult[T any] struct {
	data T
	err  error
}

// parseYAML fills d from its YAML (in d.doc), or leaves d.doc nil for an
// empty document.
func (l *fluxLoader) parseYAML(d *fluxDoc) error {
	j, err := yaml.YAMLToJSONStrict(d.doc)
	if err != nil {
		// The parser counts lines from the document's start; say the line
		// of the stream.
		msg := yamlLineRE.ReplaceAllStringFunc(err.Error(), func(m string) string {
			n, _ := strconv.Atoi(yamlLineRE.FindStringSubmatch(m)[1])
			return fmt.Sprintf("line %d:", n+d.line-1)
		})
		return d.fail("", errors.New(msg))
	}
	return l.parseJSON(d, j)
}

// parseJSON fills d from the object's JSON: it checks the kind, version and
// every field against Flux's Go type for that version, converts older
// versions to the newest and decodes the spec. An empty document (null)
// leaves d.doc nil.
func (l *fluxLoader) parseJSON(d *fluxDoc, j []byte) error {
	var v any
	if err := json.Unmarshal(j, &v); err != nil {
		return d.failf("", "%v", err)
	}
	if v == nil {
		d.doc = nil
		return nil
	}
	d.doc = j
	obj, ok := v.(map[string]any)
	if !ok {
		return d.failf("", "want an object (apiVersion, kind, metadata, spec), got %s", describeJSON(v))
	}
	str := func(m map[string]any, key, field string) (string, error) {
		switch s := m[key].(type) {
		case nil:
			return "", nil
		case string:
			return s, nil
		}
		return "", d.fail(field, typeProblem(field, "a string", m[key]).err)
	}
	var err error
	if d.apiVersion, err = str(obj, "apiVersion", "apiVersion"); err != nil {
		return err
	}
	if d.kind, err = str(obj, "kind", "kind"); err != nil {
		return err
	}
	meta, ok := obj["metadata"].(map[string]any)
	if !ok {
		return d.failf("metadata", "required: an object with a name")
	}
	if d.name, err = str(meta, "name", "metadata.name"); err != nil {
		return err
	}
	if d.namespace, err = str(meta, "namespace", "metadata.namespace"); err != nil {
		return err
	}
	if d.namespace == "" {
		d.namespace = l.opts.Namespace
	}

	k := fluxKinds[d.kind]
	group, version, _ := strings.Cut(d.apiVersion, "/")
	switch {
	case d.kind == "":
		return d.failf("kind", "required")
	case d.kind == "Kustomization" && group == "kustomize.config.k8s.io":
		return d.failf("apiVersion", "%q is kustomize's own Kustomization (a kustomization.yaml), not Flux's %s", d.apiVersion, FluxKustomizeAPIVersion)
	case k == nil:
		return d.failf("kind", "%q is not supported: a Flux configuration holds %s objects", d.kind, fluxKindList())
	case group != k.group || k.versions[version] == nil:
		return d.failf("apiVersion", "%q is not supported for %s: want %s/%s", d.apiVersion, d.kind, k.group, strings.Join(k.order, ", "))
	}
	for _, key := range slices.Sorted(maps.Keys(obj)) {
		switch key {
		case "apiVersion", "kind", "metadata", "spec", "status":
		default:
			return d.fail(joinPath("", key), fmt.Errorf("%w (not a field of a Kubernetes object)", ErrUnsupportedField))
		}
	}
	if msgs := validation.IsDNS1123Subdomain(d.name); len(msgs) > 0 {
		return d.failf("metadata.name", "%q: %s", d.name, strings.Join(msgs, "; "))
	}
	if msgs := validation.IsDNS1123Label(d.namespace); len(msgs) > 0 {
		return d.failf("metadata.namespace", "%q: %s", d.namespace, strings.Join(msgs, "; "))
	}
	spec, ok := obj["spec"]
	if !ok {
		return d.failf("spec", "required")
	}
	c := newFieldChecker(k, version)
	if p := c.check(spec, reflect.TypeOf(k.versions[version]()), "spec", "spec"); p != nil {
		return d.fail(p.path, p.err)
	}
	if version != k.order[0] {
		m, _ := spec.(map[string]any)
		if err := fluxConvert(d, version, m); err != nil {
			return err
		}
		spec = m
	}
	sj, err := json.Marshal(spec)
	if err != nil {
		return d.failf("spec", "%v", err)
	}
	d.spec = k.versions[k.order[0]]()
	if err := json.Unmarshal(sj, d.spec); err != nil {
		return d.failf("spec", "%v", err)
	}
	return nil
}

// fluxKindList names the kinds LoadFlux reads with their newest versions.
func fluxKindList() string {
	var names []string
	for _, n := range slices.Sorted(maps.Keys(fluxKinds)) {
		k := fluxKinds[n]
		names = append(names, fmt.Sprintf("%s (%s/%s)", n, k.group, k.order[0]))
	}
	return strings.Join(names, ", ")
}

// splitYAMLDocuments splits a YAML stream at its "---" (and "...") lines.
// Each document's doc holds its YAML and line its first line.
func splitYAMLDocuments(data []byte) []*fluxDoc {
	var docs []*fluxDoc
	cur := &fluxDoc{line: 1}
	var b strings.Builder
	flush := func(nextLine int) {
		cur.doc = []byte(b.String())
		docs = append(docs, cur)
		b.Reset()
		cur = &fluxDoc{line: nextLine}
	}
	lines := strings.SplitAfter(string(data), "\n")
	for i, line := range lines {
		trimmed := strings.TrimRight(line, " \t\r\n")
		switch {
		case trimmed == "---" || trimmed == "...":
			flush(i + 2)
		case strings.HasPrefix(trimmed, "--- ") || strings.HasPrefix(trimmed, "---\t"):
			flush(i + 1)
			if rest := strings.TrimLeft(trimmed[3:], " \t"); !strings.HasPrefix(rest, "#") {
				b.WriteString(rest + "\n") // "--- {...}": the document starts on the separator line
			}
		default:
			if b.Len() == 0 && strings.TrimSpace(line) == "" {
				cur.line = i + 2 // leading blank lines are not the document's first line
			}
			b.WriteString(line)
		}
	}
	flush(0)
	return docs
}

var yamlLineRE = regexp.MustCompile(`line ([0-9]+):`)

// Flux's duration pattern (metav1.Duration with the CRDs' validation).
var fluxDurationRE = regexp.MustCompile(`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`)
