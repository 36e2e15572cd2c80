package object

import (
	"bytes"
	"fmt"

	yaml "go.yaml.in/yaml/v3"
)

// MaxAliasExpansion is how many nodes YAML aliases may add to a document
// when expanded. Kustomize expands ("de-anchors") aliases by copying nodes,
// so a few hundred bytes of nested aliases (a "billion laughs" document)
// would otherwise run it out of time and memory.
const MaxAliasExpansion = 1_000_000

// CheckAliases reports a document of data whose aliases would expand to more
// than [MaxAliasExpansion] extra nodes, as a [*DecodeError]. Input that does
// not parse as YAML is not its concern and passes.
func CheckAliases(data []byte, source string) error {
	if !bytes.Contains(data, []byte("&")) || !bytes.Contains(data, []byte("*")) {
		return nil // no anchor or no alias
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			return nil
		}
		c := aliasCounter{memo: map[*yaml.Node]int64{}, seen: map[*yaml.Node]bool{}}
		expanded := c.expanded(&doc)
		if extra := expanded - c.parsed; extra > MaxAliasExpansion {
			return &DecodeError{Source: source, Line: doc.Line, Err: fmt.Errorf("YAML aliases expand the document by more than %d nodes", MaxAliasExpansion)}
		}
	}
}

type aliasCounter struct {
	memo   map[*yaml.Node]int64
	seen   map[*yaml.Node]bool
	parsed int64
}

// expanded returns the node count of n with aliases expanded, saturating
// just above the limit; it also counts the parsed nodes.
func (c *aliasCounter) expanded(n *yaml.Node) int64 {
	if v, ok := c.memo[n]; ok {
		return v
	}
	if !c.seen[n] {
		c.seen[n] = true
		c.parsed++
	}
	c.memo[n] = 1 // an alias cycle counts once
	total := int64(1)
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		total += c.expanded(n.Alias)
	}
	for _, ch := range n.Content {
		total += c.expanded(ch)
		if total > 2*MaxAliasExpansion+c.parsed {
			break
		}
	}
	c.memo[n] = total
	return total
}
