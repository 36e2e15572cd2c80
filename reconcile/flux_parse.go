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
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// fluxDoc is one object of the stream.
type fluxDoc struct {
	index, line           int
	kind, namespace, name string
	doc                   []byte // its YAML, then its JSON once parsed
	spec                  any    // *fluxGitRepositorySpec or *fluxKustomizationSpec
}

func (d *fluxDoc) fail(field string, err error) *FluxError {
	return &FluxError{Document: d.index, Line: d.line, Kind: d.kind, Namespace: d.namespace, Name: d.name, Field: field, Err: err}
}

func (d *fluxDoc) failf(field, format string, args ...any) *FluxError {
	return d.fail(field, fmt.Errorf(format, args...))
}

type lookupResult[T any] struct {
	data T
	err  error
}

type fluxLoader struct {
	opts       FluxOptions
	namespace  string
	repos      []*fluxDoc
	kusts      []*fluxDoc
	repoByName map[string]*fluxDoc
	kustByName map[string]*fluxDoc
	intervals  map[string]time.Duration // of the sources
	secrets    map[string]lookupResult[map[string][]byte]
	configMaps map[string]lookupResult[map[string]string]
}

// parse splits the stream, checks every document's fields and decodes the
// specs, and checks what concerns several documents: one namespace, no
// duplicate names.
func (l *fluxLoader) parse(data []byte) error {
	l.repoByName, l.kustByName = map[string]*fluxDoc{}, map[string]*fluxDoc{}
	var nsDoc *fluxDoc
	n := 0
	for _, d := range splitYAMLDocuments(data) {
		d.index = n + 1
		if err := l.parseDoc(d); err != nil {
			return err
		}
		if d.doc == nil {
			continue // empty
		}
		n++
		byName := l.repoByName
		if d.kind == "Kustomization" {
			byName = l.kustByName
		}
		if prev, ok := byName[d.name]; ok {
			return d.failf("metadata.name", "%s %q is also defined by document %d (line %d)", d.kind, d.name, prev.index, prev.line)
		}
		byName[d.name] = d
		if nsDoc == nil {
			nsDoc, l.namespace = d, d.namespace
		} else if d.namespace != l.namespace {
			return d.failf("metadata.namespace", "%q differs from %q of document %d (line %d): all objects of a configuration must be in one namespace",
				d.namespace, l.namespace, nsDoc.index, nsDoc.line)
		}
		if d.kind == "Kustomization" {
			l.kusts = append(l.kusts, d)
		} else {
			l.repos = append(l.repos, d)
		}
	}
	if len(l.kusts) == 0 {
		return &FluxError{Err: fmt.Errorf("no Kustomization (%s) in the stream", FluxKustomizeAPIVersion)}
	}
	return nil
}

// parseDoc fills d from its YAML (in d.doc), or leaves d.doc nil for an
// empty document.
func (l *fluxLoader) parseDoc(d *fluxDoc) error {
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
	apiVersion, err := str(obj, "apiVersion", "apiVersion")
	if err != nil {
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

	var want string
	var spec any
	switch d.kind {
	case "GitRepository":
		want, spec = FluxSourceAPIVersion, &fluxGitRepositorySpec{}
	case "Kustomization":
		want, spec = FluxKustomizeAPIVersion, &fluxKustomizationSpec{}
		if strings.HasPrefix(apiVersion, "kustomize.config.k8s.io/") {
			return d.failf("apiVersion", "%q is kustomize's own Kustomization (a kustomization.yaml), not Flux's %s", apiVersion, want)
		}
	case "":
		return d.failf("kind", "required")
	default:
		return d.failf("kind", "%q is not supported: a Flux configuration holds GitRepository (%s) and Kustomization (%s) objects",
			d.kind, FluxSourceAPIVersion, FluxKustomizeAPIVersion)
	}
	if apiVersion != want {
		return d.failf("apiVersion", "%q is not supported for %s: want %s", apiVersion, d.kind, want)
	}
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		switch k {
		case "apiVersion", "kind", "metadata", "spec", "status":
		default:
			return d.fail(joinPath("", k), fmt.Errorf("%w (not a field of a Kubernetes object)", ErrUnsupportedField))
		}
	}
	if msgs := validation.IsDNS1123Subdomain(d.name); len(msgs) > 0 {
		return d.failf("metadata.name", "%q: %s", d.name, strings.Join(msgs, "; "))
	}
	if d.kind == "Kustomization" {
		if msgs := validation.IsDNS1123Label(d.name); len(msgs) > 0 {
			return d.failf("metadata.name", "%q: a Kustomization's name names a unit and must be a DNS label: %s", d.name, strings.Join(msgs, "; "))
		}
	}
	if msgs := validation.IsDNS1123Label(d.namespace); len(msgs) > 0 {
		return d.failf("metadata.namespace", "%q: %s", d.namespace, strings.Join(msgs, "; "))
	}
	if _, ok := obj["spec"]; !ok {
		return d.failf("spec", "required")
	}
	if p := checkFields(d.kind, obj["spec"], reflect.TypeOf(spec), "spec"); p != nil {
		return d.fail(p.path, p.err)
	}
	env := struct {
		Spec any `json:"spec"`
	}{spec}
	if err := json.Unmarshal(j, &env); err != nil {
		return d.failf("spec", "%v", err)
	}
	d.spec = spec
	return nil
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

// duration parses a duration field; "" returns 0, and required makes it an
// error.
func (d *fluxDoc) duration(field, s string, required bool) (time.Duration, error) {
	if s == "" {
		if required {
			return 0, d.failf(field, "required, e.g. \"10m\"")
		}
		return 0, nil
	}
	if !fluxDurationRE.MatchString(s) {
		return 0, d.failf(field, "%q is not a duration such as \"90s\", \"10m\" or \"1h30m\"", s)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, d.failf(field, "%q: %v", s, err)
	}
	if v <= 0 {
		return 0, d.failf(field, "%q: must be more than zero", s)
	}
	return v, nil
}
