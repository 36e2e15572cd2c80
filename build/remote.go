package build

import (
	"errors"
	"fmt"
	"path"
	"reflect"
	"regexp"
	"strings"

	"sigs.k8s.io/kustomize/api/types"
)

// errNeedsExclusiveSchema is returned by the kustomization check in a
// shared build that meets an openapi field; the build is then run again
// holding the schema lock exclusively (see schema.go).
var errNeedsExclusiveSchema = errors.New("kustomization sets the OpenAPI schema")

// How kustomize decides to fetch. Kustomize (api v0.21) has no hook for
// its network access: its file loader fetches a string from the network
// when IsRemoteFile holds (http:// or https://, with an http.Client of its
// own, no timeout) and clones a Git repository with the git command, in
// the process environment, when git.NewRepoSpecFromURL accepts the string.
// Neither is reachable from krusty.Options or from the filesystem, and both
// happen before the filesystem is asked for anything. So kustomize must
// never see such a string: every string kustomize can hand to its loader
// comes from a document it read through our filesystem (a kustomization,
// loaded by the file name kustomize asked for, or the configuration of a
// builtin generator, transformer or validator, from a file or inline), and
// each such string is tested with isRemote, a superset of kustomize's two
// predicates, before kustomize sees the document. With AllowRemoteBases the
// remote references of a kustomization are first replaced by paths to
// copies gitopskit fetched itself (remote_fetch.go), and the same test then
// refuses whatever is left.

var scpUserRE = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9-]*@`)

// isRemote reports whether kustomize could fetch ref over the network or
// from outside the artifact: a URL of any scheme (file:// included), a
// user@host:path or user@host/path Git address, or a github.com path, with
// or without go-getter's "git::" prefix, in any letter case. It is a
// superset of kustomize's loader.IsRemoteFile and git.NewRepoSpecFromURL.
func isRemote(ref string) bool {
	s := strings.TrimSpace(ref)
	if rest, ok := cutPrefixFold(s, "git::"); ok {
		s = strings.TrimSpace(rest)
	}
	if strings.Contains(s, "://") || scpUserRE.MatchString(s) {
		return true
	}
	_, gh1 := cutPrefixFold(s, "github.com/")
	_, gh2 := cutPrefixFold(s, "github.com:")
	return gh1 || gh2
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

// kustomizationValueFields are the fields of types.Kustomization (at any
// depth) that hold values, not references: kustomize never loads them. Every
// other string in a kustomization is a reference to check, so a field added
// to kustomize is checked until it is listed here.
var kustomizationValueFields = map[string]bool{
	"TypeMeta": true, "MetaData": true, "NamePrefix": true, "NameSuffix": true,
	"Namespace": true, "CommonLabels": true, "Labels": true,
	"CommonAnnotations": true, "Images": true, "ImageTags": true,
	"Replicas": true, "Vars": true, "SortOptions": true, "BuildMetadata": true,
	"GeneratorOptions": true,
	// Inside patches, replacements, generators and Helm charts.
	"Patch": true, "Target": true, "Options": true, "Source": true,
	"Targets": true, "LiteralSources": true, "Behavior": true, "Name": true,
	"Type": true, "ValuesInline": true, "ValuesMerge": true, "Version": true,
	"ReleaseName": true, "NameTemplate": true, "ApiVersions": true,
	"KubeVersion": true, "ValuesLocal": true, "ChartName": true,
	"ChartVersion": true, "ChartRepoName": true, "ReleaseNamespace": true,
}

// kustomizationRefs returns every string of k that kustomize may load or
// fetch: all strings outside kustomizationValueFields, found by reflection
// (resources, components, bases, CRDs, configurations, generators,
// transformers, validators, patch and replacement files, the OpenAPI
// schema, generator sources, Helm repositories and values files, and
// whatever kustomize adds). Multi-line entries are returned too; the caller
// tells references from inline content.
func kustomizationRefs(k *types.Kustomization) []string {
	var refs []string
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer, reflect.Interface:
			if !v.IsNil() {
				walk(v.Elem())
			}
		case reflect.String:
			if s := v.String(); s != "" {
				refs = append(refs, s)
			}
		case reflect.Slice, reflect.Array:
			for i := range v.Len() {
				walk(v.Index(i))
			}
		case reflect.Map:
			for _, key := range v.MapKeys() {
				walk(v.MapIndex(key))
			}
		case reflect.Struct:
			t := v.Type()
			for i := range t.NumField() {
				if f := t.Field(i); f.IsExported() && !kustomizationValueFields[f.Name] {
					walk(v.Field(i))
				}
			}
		}
	}
	walk(reflect.ValueOf(k))
	return refs
}

// pluginValueKeys are the keys of builtin plugin configurations (compared
// in lower case, as kustomize's JSON decoding does) that hold values, not
// references. Every other string is checked.
var pluginValueKeys = map[string]bool{
	"apiversion": true, "kind": true, "metadata": true, "literals": true,
	"options": true, "patch": true, "patches": true, "jsonop": true,
	"labels": true, "annotations": true, "valuesinline": true, "value": true,
	"fieldspecs": true, "target": true, "source": true, "targets": true,
	"selector": true, "name": true, "namespace": true, "behavior": true,
	"prefix": true, "suffix": true, "imagetag": true,
}

// checkRefs refuses the first remote reference among refs. A multi-line
// entry (or one that starts as a flow mapping) is inline content, which
// kustomize parses as documents: those that configure a builtin plugin are
// checked in turn.
func checkRefs(rel string, refs []string) error {
	for _, ref := range refs {
		t := strings.TrimSpace(ref)
		if strings.Contains(t, "\n") || strings.HasPrefix(t, "{") {
			if err := checkInline(rel, []byte(t)); err != nil {
				return err
			}
			if strings.Contains(t, "\n") {
				continue
			}
		}
		if isRemote(ref) {
			return &RemoteBaseError{Kustomization: rel, Ref: redactText(ref)}
		}
	}
	return nil
}

// checkInline checks the builtin plugin configurations in inline content.
func checkInline(rel string, data []byte) error {
	docs, err := parseDocuments(data)
	if err != nil {
		return nil // not YAML: kustomize takes it as a path, checked as one
	}
	for _, d := range docs {
		if err := checkPluginConfigs(rel, d, 0); err != nil {
			return err
		}
	}
	return nil
}

// checkPluginConfigs checks the plugin configurations among the objects
// kustomize makes of doc: doc itself, or the items of a List, recursively.
func checkPluginConfigs(rel string, doc any, depth int) error {
	m, ok := doc.(map[string]any)
	if !ok || depth >= maxListDepth {
		return nil
	}
	if kind, _ := m["kind"].(string); strings.HasSuffix(kind, "List") {
		if items, ok := m["items"].([]any); ok {
			for _, it := range items {
				if err := checkPluginConfigs(rel, it, depth+1); err != nil {
					return err
				}
			}
			return nil
		}
	}
	return checkPluginConfig(rel, doc)
}

// checkPluginConfig refuses a remote reference in a document that
// configures a builtin generator, transformer or validator (apiVersion
// "builtin": the only plugins a build runs). Other documents are objects,
// never loaded from.
func checkPluginConfig(rel string, doc any) error {
	m, ok := doc.(map[string]any)
	if !ok {
		return nil
	}
	av, _ := m["apiVersion"].(string)
	kind, _ := m["kind"].(string)
	if !isPluginConfig(av, kind) {
		return nil
	}
	var found string
	var walk func(v any) bool
	walk = func(v any) bool {
		switch v := v.(type) {
		case string:
			if !strings.Contains(v, "\n") && isRemote(v) {
				found = v
				return true
			}
		case []any:
			for _, e := range v {
				if walk(e) {
					return true
				}
			}
		case map[string]any:
			for k, e := range v {
				if !pluginValueKeys[strings.ToLower(k)] && walk(e) {
					return true
				}
			}
		}
		return false
	}
	if walk(m) {
		return &RemoteBaseError{Kustomization: rel, Ref: redactText(found)}
	}
	return nil
}

// builtinPluginKinds are the kinds of kustomize's builtin plugins (its
// internal builtinhelpers package), the only plugins a build runs.
var builtinPluginKinds = map[string]bool{
	"AnnotationsTransformer": true, "ConfigMapGenerator": true,
	"IAMPolicyGenerator": true, "HashTransformer": true,
	"ImageTagTransformer": true, "LabelTransformer": true,
	"NamespaceTransformer": true, "PatchJson6902Transformer": true,
	"PatchStrategicMergeTransformer": true, "PatchTransformer": true,
	"PrefixSuffixTransformer": true, "PrefixTransformer": true,
	"SuffixTransformer": true, "ReplicaCountTransformer": true,
	"SecretGenerator": true, "ValueAddTransformer": true,
	"HelmChartInflationGenerator": true, "ReplacementTransformer": true,
}

// isPluginConfig reports whether kustomize may take a document with this
// apiVersion and kind for a builtin plugin's configuration: kustomize takes
// version "builtin" in the empty group ("builtin", "/builtin"); this is a
// superset (any group, any letter case, or a builtin plugin's kind).
func isPluginConfig(apiVersion, kind string) bool {
	return isBuiltinAPIVersion(apiVersion) || builtinPluginKinds[strings.TrimSpace(kind)]
}

// isBuiltinAPIVersion reports whether kustomize takes a document with this
// apiVersion for a builtin plugin's configuration: version "builtin" in
// the empty group ("builtin", "/builtin"). Any group and letter case are
// accepted, a superset.
func isBuiltinAPIVersion(av string) bool {
	av = strings.TrimSpace(av)
	return strings.EqualFold(av[strings.LastIndex(av, "/")+1:], "builtin")
}

// serveKustomization checks a file kustomize reads as a kustomization, at
// the virtual path vp (rel names it in errors), and returns what kustomize
// is served: it asks for the exclusive schema lock when the kustomization
// sets the OpenAPI schema; with AllowRemoteBases (f.remote) it fetches the
// remote references and rewrites them to the copies; then it refuses any
// remote reference left.
func (f *confinedFS) serveKustomization(vp, rel string, data []byte, exclusive bool) ([]byte, error) {
	var k types.Kustomization
	if err := k.Unmarshal(data); err != nil {
		return data, nil // kustomize reports it, and we diagnose it after
	}
	k.FixKustomization()
	if len(k.OpenAPI) > 0 && !exclusive {
		return nil, errNeedsExclusiveSchema
	}
	served := data
	if f.remote != nil {
		changed, err := f.remote.vendor(f, path.Dir(vp), rel, f.depthOf(vp), &k)
		if err != nil {
			return nil, err
		}
		if changed {
			if served, err = marshalKustomization(&k); err != nil {
				return nil, fmt.Errorf("%s: %w", rel, err)
			}
		}
	}
	if err := checkRefs(rel, kustomizationRefs(&k)); err != nil {
		return nil, f.refusal(err)
	}
	return served, nil
}

// refusal explains a *RemoteBaseError met although remote bases are
// allowed: gitopskit fetches only what a kustomization lists.
func (f *confinedFS) refusal(err error) error {
	var re *RemoteBaseError
	if f.remote != nil && errors.As(err, &re) && re.Reason == "" {
		re.Reason = "gitopskit fetches only the Git bases and HTTP(S) files a kustomization lists, not file:// URLs, Git addresses in fields that name files, or references in plugin configurations and inline content"
	}
	return err
}
