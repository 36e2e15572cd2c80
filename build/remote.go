package build

import (
	"errors"
	"regexp"
	"strings"

	"sigs.k8s.io/kustomize/api/types"
)

// errNeedsExclusiveSchema is returned by the kustomization check in a
// shared build that meets an openapi field; the build is then run again
// holding the schema lock exclusively (see schema.go).
var errNeedsExclusiveSchema = errors.New("kustomization sets the OpenAPI schema")

var scpUserRE = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9-]*@`)

// isRemote reports whether kustomize would fetch ref over the network: a
// URL of any scheme, scp-like git@host:path, or a github.com/ path. This is
// a superset of what kustomize's loader treats as remote.
func isRemote(ref string) bool {
	s := strings.ToLower(strings.TrimSpace(ref))
	s = strings.TrimPrefix(s, "git::")
	return strings.Contains(s, "://") ||
		strings.HasPrefix(s, "github.com/") || strings.HasPrefix(s, "github.com:") ||
		scpUserRE.MatchString(strings.TrimSpace(ref))
}

// kustomizationRefs returns every path-like reference in k: resources,
// components, bases, CRDs, configurations, generator/transformer/validator
// files, patch files, replacement files, the OpenAPI schema file, generator
// sources and Helm chart repositories. Inline content (entries spanning
// several lines) is skipped.
func kustomizationRefs(k *types.Kustomization) []string {
	var refs []string
	add := func(ss ...string) {
		for _, s := range ss {
			if s != "" && !strings.Contains(s, "\n") {
				refs = append(refs, s)
			}
		}
	}
	add(k.Resources...)
	// Deprecated fields are still honoured by kustomize, so they must be
	// checked too.
	add(k.Bases...) //lint:ignore SA1019 kustomize still reads bases
	add(k.Components...)
	add(k.Crds...)
	add(k.Configurations...)
	add(k.Generators...)
	add(k.Transformers...)
	add(k.Validators...)
	//lint:ignore SA1019 kustomize still reads it
	for _, p := range k.PatchesStrategicMerge {
		add(string(p))
	}
	for _, p := range k.Patches {
		add(p.Path)
	}
	//lint:ignore SA1019 kustomize still reads it
	for _, p := range k.PatchesJson6902 {
		add(p.Path)
	}
	for _, r := range k.Replacements {
		add(r.Path)
	}
	add(k.OpenAPI["path"])
	gens := func(a types.GeneratorArgs) {
		for _, src := range a.FileSources {
			if _, after, ok := strings.Cut(src, "="); ok {
				src = after
			}
			add(src)
		}
		add(a.EnvSources...)
		add(a.EnvSource)
	}
	for _, g := range k.ConfigMapGenerator {
		gens(g.GeneratorArgs)
	}
	for _, g := range k.SecretGenerator {
		gens(g.GeneratorArgs)
	}
	for _, h := range k.HelmCharts {
		add(h.Repo)
	}
	for _, h := range k.HelmChartInflationGenerator {
		add(h.ChartRepoURL)
	}
	return refs
}

// kustomizationCheck returns the check run on every kustomization file a
// build reads (see confinedFS.onKustomization).
func kustomizationCheck(allowRemote, exclusive bool) func(rel string, data []byte) error {
	return func(rel string, data []byte) error {
		var k types.Kustomization
		if err := k.Unmarshal(data); err != nil {
			return nil // kustomize reports it, and we diagnose it after
		}
		if !allowRemote {
			for _, ref := range kustomizationRefs(&k) {
				if isRemote(ref) {
					return &RemoteBaseError{Kustomization: rel, Ref: ref}
				}
			}
		}
		if len(k.OpenAPI) > 0 && !exclusive {
			return errNeedsExclusiveSchema
		}
		return nil
	}
}
