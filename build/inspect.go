package build

import (
	"bytes"
	"errors"
	"io"
	"regexp"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// A build parses each file it reads as kustomize will, once, before
// kustomize sees it: to count the objects kustomize will make of it (see
// Limits.MaxObjects) and to find the configurations of builtin plugins (see
// remote.go). The aliases of the file have been bounded already
// (object.CheckAliases), so the parse is bounded by the file's size.

// maxListDepth bounds how deeply nested Lists are counted, as aliases
// could nest them.
const maxListDepth = 64

// inspectManifest parses a file the build reads as a manifest (any file not
// read as a kustomization) and returns the number of objects kustomize will
// make of it: one per document, and for a document whose kind ends in
// "List" and that has items, its items, counted the same way (kustomize
// expands such lists recursively). A document that configures a builtin
// plugin is checked for remote references.
//
// The parse stops once the count passes budget: the build is refused then.
//
// A file that is not YAML is counted by its top-level kind fields: kustomize
// will refuse it if it is a resource, and it may be a generator's data file.
func inspectManifest(rel string, data []byte, budget int) (int, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	objects := 0
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return objects, nil
		}
		if err != nil {
			return max(objects, estimateObjects(data)), nil
		}
		n := resolveAlias(&doc)
		if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
			n = resolveAlias(n.Content[0])
		}
		if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
			continue // an empty document: kustomize drops it
		}
		objects += countObjects(n, 0)
		if objects > budget {
			return objects, nil
		}
		if err := checkBuiltinConfigs(rel, n, 0); err != nil {
			return objects, err
		}
	}
}

// parseDocuments decodes a YAML (or JSON) stream into one value per
// non-empty document.
func parseDocuments(data []byte) ([]any, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out []any
	for {
		var v any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		if v != nil {
			out = append(out, v)
		}
	}
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && n.Alias != nil && i < maxListDepth; i++ {
		n = n.Alias
	}
	return n
}

// mappingValue returns the value of key in a mapping node, nil if absent.
// Keys are compared as kustomize's kyaml compares them: exactly, whatever
// the quoting.
func mappingValue(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Kind == yaml.ScalarNode && k.Value == key {
			return resolveAlias(n.Content[i+1])
		}
	}
	return nil
}

func countObjects(n *yaml.Node, depth int) int {
	if n.Kind != yaml.MappingNode || depth >= maxListDepth {
		return 1
	}
	kind := mappingValue(n, "kind")
	if kind == nil || kind.Kind != yaml.ScalarNode || !strings.HasSuffix(kind.Value, "List") {
		return 1
	}
	items := mappingValue(n, "items")
	if items == nil {
		return 1 // not a collection: kustomize keeps it as one object
	}
	if items.Kind == yaml.ScalarNode && items.Tag == "!!null" {
		return 0 // an empty list
	}
	if items.Kind != yaml.SequenceNode {
		return 1 // kustomize refuses it
	}
	count := 0
	for _, it := range items.Content {
		count += countObjects(resolveAlias(it), depth+1)
	}
	return count
}

// checkBuiltinConfigs checks the builtin plugin configurations among the
// objects kustomize will make of n (Lists expanded, as in countObjects).
func checkBuiltinConfigs(rel string, n *yaml.Node, depth int) error {
	if n.Kind != yaml.MappingNode || depth >= maxListDepth {
		return nil
	}
	if isBuiltinConfig(n) {
		var v any
		if err := n.Decode(&v); err != nil {
			return nil // kustomize refuses it
		}
		return checkPluginConfig(rel, v)
	}
	kind := mappingValue(n, "kind")
	items := mappingValue(n, "items")
	if kind == nil || kind.Kind != yaml.ScalarNode || !strings.HasSuffix(kind.Value, "List") || items == nil || items.Kind != yaml.SequenceNode {
		return nil
	}
	for _, it := range items.Content {
		if err := checkBuiltinConfigs(rel, resolveAlias(it), depth+1); err != nil {
			return err
		}
	}
	return nil
}

func isBuiltinConfig(n *yaml.Node) bool {
	var av, kind string
	if v := mappingValue(n, "apiVersion"); v != nil && v.Kind == yaml.ScalarNode {
		av = v.Value
	}
	if v := mappingValue(n, "kind"); v != nil && v.Kind == yaml.ScalarNode {
		kind = v.Value
	}
	return isPluginConfig(av, kind)
}

var (
	topLevelKindRE = regexp.MustCompile(`(?m)^kind:[ \t]*\S`)
	jsonKindRE     = regexp.MustCompile(`"kind"\s*:`)
)

// estimateObjects estimates the objects of a file that does not parse: one
// per top-level kind field in YAML or kind key in JSON.
func estimateObjects(data []byte) int {
	return max(len(topLevelKindRE.FindAllIndex(data, -1)), len(jsonKindRE.FindAllIndex(data, -1)))
}
