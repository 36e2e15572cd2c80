package reconcile

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	swapi "github.com/fluxcd/source-watcher/api/v2/v1beta1"

	"github.com/gitopskit/gitopskit/source"
)

var fluxAliasRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9_-]*[a-z0-9])?$`)

// checkGenerator checks an ArtifactGenerator: its sources exist (in the
// configuration, under the lockdown), its copy operations name them and
// use a strategy gitopskit has, and revision and originRevision name an
// alias.
func (b *fluxBatch) checkGenerator(d *fluxDoc) error {
	spec := d.spec.(*swapi.ArtifactGeneratorSpec)
	if len(spec.Sources) == 0 {
		return d.failf("spec.sources", "required")
	}
	if len(spec.OutputArtifacts) == 0 {
		return d.failf("spec.artifacts", "required")
	}
	aliases := map[string]bool{}
	for i, s := range spec.Sources {
		field := fmt.Sprintf("spec.sources[%d]", i)
		if !fluxAliasRE.MatchString(s.Alias) {
			return d.failf(field+".alias", "%q: want lower case letters, digits, '-' and '_'", s.Alias)
		}
		if aliases[s.Alias] {
			return d.failf(field+".alias", "%q is used twice", s.Alias)
		}
		aliases[s.Alias] = true
		switch s.Kind {
		case "GitRepository", "OCIRepository", "HelmChart", "ExternalArtifact":
		case "Bucket":
			return d.failf(field+".kind", "%q is not supported", s.Kind)
		default:
			return d.failf(field+".kind", "%q: want GitRepository, OCIRepository, HelmChart, ExternalArtifact or Bucket", s.Kind)
		}
		if s.Kind != "ExternalArtifact" {
			if _, err := b.ref(d, field, s.Kind, s.Namespace, s.Name); err != nil {
				return err
			}
		}
	}
	isAlias := func(v string) bool { return strings.HasPrefix(v, "@") && aliases[v[1:]] }
	names := map[string]bool{}
	for i, a := range spec.OutputArtifacts {
		field := fmt.Sprintf("spec.artifacts[%d]", i)
		if a.Name == "" {
			return d.failf(field+".name", "required")
		}
		if names[a.Name] {
			return d.failf(field+".name", "%q is generated twice", a.Name)
		}
		names[a.Name] = true
		if a.Revision != "" && !isAlias(a.Revision) {
			return d.failf(field+".revision", "%q: want @<alias> with an alias of spec.sources", a.Revision)
		}
		if a.OriginRevision != "" && !isAlias(a.OriginRevision) {
			return d.failf(field+".originRevision", "%q: want @<alias> with an alias of spec.sources", a.OriginRevision)
		}
		if len(a.Copy) == 0 {
			return d.failf(field+".copy", "required")
		}
		for j, c := range a.Copy {
			cf := fmt.Sprintf("%s.copy[%d]", field, j)
			alias, _, _ := copySource(c.From)
			if !strings.HasPrefix(c.From, "@") || !aliases[alias] {
				return d.failf(cf+".from", "%q: want @<alias>/<glob> with an alias of spec.sources", c.From)
			}
			if c.To != "@artifact" && !strings.HasPrefix(c.To, "@artifact/") {
				return d.failf(cf+".to", "%q: want @artifact/<path>", c.To)
			}
			if c.Strategy != "" && c.Strategy != swapi.OverwriteStrategy {
				return d.fail(cf+".strategy", fmt.Errorf("%w (%q: only the default %s strategy is supported)", ErrUnsupportedField, c.Strategy, swapi.OverwriteStrategy))
			}
		}
	}
	return nil
}

// externalArtifact resolves a reference at field (a Kustomization's
// spec.sourceRef, a HelmRelease's spec.chartRef) to an ExternalArtifact
// of an ArtifactGenerator of the namespace, made of files of one
// GitRepository. It returns the GitRepository and either the directory
// the artifact is (an artifact that copies one directory to its root,
// built where it is) or the copy operations that compose the artifact out
// of the repository's tree ([Unit.Compose]).
func (b *fluxBatch) externalArtifact(d *fluxDoc, field, namespace, name string) (*fluxDoc, string, []source.Copy, error) {
	if name == "" {
		return nil, "", nil, d.failf(field+".name", "required")
	}
	if namespace == "" {
		namespace = d.namespace
	}
	if namespace != d.namespace && b.l.opts.NoCrossNamespaceRefs {
		return nil, "", nil, d.fail(field+".namespace", fmt.Errorf("%w: ExternalArtifact %s/%s is in another namespace than %q, and cross-namespace references are not allowed",
			ErrCrossNamespaceRef, namespace, name, d.namespace))
	}
	var gens []*fluxDoc
	for _, m := range []map[fluxKey]*fluxDoc{b.objects, b.l.objects} {
		for k, g := range m {
			if k.kind == "ArtifactGenerator" && k.namespace == namespace {
				gens = append(gens, g)
			}
		}
	}
	slices.SortFunc(gens, func(x, y *fluxDoc) int { return strings.Compare(x.name, y.name) })
	for _, g := range gens {
		spec := g.spec.(*swapi.ArtifactGeneratorSpec)
		for i, a := range spec.OutputArtifacts {
			if a.Name != name {
				continue
			}
			// Every copy must read the same GitRepository: a unit has
			// one source.
			var src *fluxDoc
			for j, c := range a.Copy {
				alias, _, _ := copySource(c.From)
				for k, s := range spec.Sources {
					if s.Alias != alias {
						continue
					}
					if s.Kind != "GitRepository" {
						return nil, "", nil, g.failf(fmt.Sprintf("spec.sources[%d].kind", k), "%q: artifact %q is used by %s %s/%s, and only artifacts of a GitRepository are supported",
							s.Kind, name, d.kind, d.namespace, d.name)
					}
					s2, err := b.ref(g, fmt.Sprintf("spec.sources[%d]", k), "GitRepository", s.Namespace, s.Name)
					if err != nil {
						return nil, "", nil, err
					}
					if src != nil && s2 != src {
						return nil, "", nil, g.failf(fmt.Sprintf("spec.artifacts[%d].copy[%d].from", i, j), "artifact %q is used by %s %s/%s and copies from two GitRepositories (%s and %s): gitopskit builds a unit from one source",
							name, d.kind, d.namespace, d.name, src.name, s2.name)
					}
					src = s2
				}
			}
			if alias, dir, ok := simpleCopy(a.Copy); ok && alias != "" {
				return src, dir, nil, nil
			}
			ops := make([]source.Copy, 0, len(a.Copy))
			for _, c := range a.Copy {
				_, from, _ := copySource(c.From)
				to := strings.TrimPrefix(strings.TrimPrefix(c.To, "@artifact"), "/")
				ops = append(ops, source.Copy{From: from, To: to, Exclude: c.Exclude})
			}
			return src, "", ops, nil
		}
	}
	if ea := b.lookup(fluxKey{"ExternalArtifact", namespace, name}); ea != nil {
		return nil, "", nil, d.failf(field+".name", "ExternalArtifact %s/%s is not generated by an ArtifactGenerator of the configuration, so its artifact cannot be fetched", namespace, name)
	}
	return nil, "", nil, d.failf(field+".name", "no ArtifactGenerator in namespace %q generates the ExternalArtifact %q", namespace, name)
}

// copySource splits a copy operation's from, "@alias/path", into the
// alias and the path; found is false without a "/".
func copySource(from string) (alias, p string, found bool) {
	return strings.Cut(strings.TrimPrefix(from, "@"), "/")
}

// simpleCopy recognizes one copy of a directory to the artifact's root,
// from "@alias/dir/**" (or "@alias/**") to "@artifact/", with no excludes:
// the artifact is that directory.
func simpleCopy(ops []swapi.CopyOperation) (alias, dir string, ok bool) {
	if len(ops) != 1 || len(ops[0].Exclude) > 0 || (ops[0].To != "@artifact/" && ops[0].To != "@artifact") {
		return "", "", false
	}
	alias, glob, found := copySource(ops[0].From)
	if !found {
		return "", "", false
	}
	switch {
	case glob == "**":
		return alias, "", true
	case strings.HasSuffix(glob, "/**"):
		dir = strings.TrimSuffix(glob, "/**")
		if dir == "" || strings.ContainsAny(dir, "*?[{") || strings.HasPrefix(dir, "../") || dir == ".." {
			return "", "", false
		}
		return alias, strings.Trim(dir, "/"), true
	}
	return "", "", false
}
