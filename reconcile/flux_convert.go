package reconcile

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/gitopskit/gitopskit/build"
	"github.com/gitopskit/gitopskit/health"
	"github.com/gitopskit/gitopskit/source"
)

// source converts a GitRepository.
func (l *fluxLoader) source(ctx context.Context, d *fluxDoc) (Source, error) {
	spec := d.spec.(*fluxGitRepositorySpec)
	s := Source{Name: d.name, URL: spec.URL}
	if s.URL == "" {
		return Source{}, d.failf("spec.url", "required")
	}
	interval, err := d.duration("spec.interval", spec.Interval, true)
	if err != nil {
		return Source{}, err
	}
	if l.intervals == nil {
		l.intervals = map[string]time.Duration{}
	}
	l.intervals[d.name] = interval
	if r := spec.Ref; r != nil && *r != (fluxGitRef{}) {
		s.Ref = source.Ref{Branch: r.Branch, Tag: r.Tag, SemVer: r.SemVer, Name: r.Name, Commit: r.Commit}
	} else {
		s.Ref = source.Ref{Branch: "master"}
	}
	if err := s.Ref.Validate(); err != nil {
		return Source{}, d.fail("spec.ref", err)
	}
	timeout, err := d.duration("spec.timeout", spec.Timeout, false)
	if err != nil {
		return Source{}, err
	}
	s.Timeout = timeout
	if spec.SecretRef != nil {
		data, err := l.secret(ctx, d, "spec.secretRef.name", spec.SecretRef.Name)
		if err != nil {
			return Source{}, err
		}
		if s.Auth, err = source.AuthFromSecretData(data); err != nil {
			return Source{}, d.failf("spec.secretRef.name", "Secret %s: %w", spec.SecretRef.Name, err)
		}
	}
	if v := spec.Verify; v != nil {
		ver := &source.Verification{}
		switch v.Mode {
		case "HEAD", "head":
			ver.Mode = source.VerifyHead
		case "Tag":
			ver.Mode = source.VerifyTag
		default:
			return Source{}, d.failf("spec.verify.mode", "%q is not supported: want HEAD or Tag", v.Mode)
		}
		if v.SecretRef == nil {
			return Source{}, d.failf("spec.verify.secretRef", "required: the Secret holding the trusted public keys")
		}
		data, err := l.secret(ctx, d, "spec.verify.secretRef.name", v.SecretRef.Name)
		if err != nil {
			return Source{}, err
		}
		for _, k := range slices.Sorted(maps.Keys(data)) {
			ver.Keys = append(ver.Keys, data[k])
		}
		if len(ver.Keys) == 0 {
			return Source{}, d.failf("spec.verify.secretRef.name", "Secret %s holds no keys", v.SecretRef.Name)
		}
		s.Verify = ver
	}
	if spec.Ignore != nil {
		for line := range strings.SplitSeq(*spec.Ignore, "\n") {
			if line = strings.TrimRight(line, "\r"); strings.TrimSpace(line) != "" {
				s.Ignore = append(s.Ignore, line)
			}
		}
	}
	return s, nil
}

// unit converts a Kustomization.
func (l *fluxLoader) unit(ctx context.Context, d *fluxDoc) (Unit, error) {
	spec := d.spec.(*fluxKustomizationSpec)
	u := Unit{Name: d.name, Prune: spec.Prune, Wait: spec.Wait, Force: spec.Force, Suspend: spec.Suspend,
		ServiceAccountName: spec.ServiceAccountName}

	ref := spec.SourceRef
	switch {
	case ref.Kind == "":
		return Unit{}, d.failf("spec.sourceRef.kind", "required: GitRepository")
	case ref.Kind != "GitRepository":
		return Unit{}, d.failf("spec.sourceRef.kind", "%q is not supported: want GitRepository", ref.Kind)
	case ref.APIVersion != "" && !strings.HasPrefix(ref.APIVersion, "source.toolkit.fluxcd.io/"):
		return Unit{}, d.failf("spec.sourceRef.apiVersion", "%q: want %s", ref.APIVersion, FluxSourceAPIVersion)
	case ref.Namespace != "" && ref.Namespace != d.namespace:
		return Unit{}, d.failf("spec.sourceRef.namespace", "%q: a source in another namespace than %q is not supported", ref.Namespace, d.namespace)
	case ref.Name == "":
		return Unit{}, d.failf("spec.sourceRef.name", "required")
	case l.repoByName[ref.Name] == nil:
		return Unit{}, d.failf("spec.sourceRef.name", "no GitRepository %q in the stream", ref.Name)
	}
	u.Source = ref.Name

	interval, err := d.duration("spec.interval", spec.Interval, true)
	if err != nil {
		return Unit{}, err
	}
	u.Interval = min(interval, l.intervals[ref.Name])
	if u.RetryInterval, err = d.duration("spec.retryInterval", spec.RetryInterval, false); err != nil {
		return Unit{}, err
	}
	if u.Timeout, err = d.duration("spec.timeout", spec.Timeout, false); err != nil {
		return Unit{}, err
	}
	if u.Timeout == 0 {
		u.Timeout = interval
	}

	if spec.Path != "" {
		p := path.Clean(spec.Path)
		if p == ".." || strings.HasPrefix(p, "../") {
			return Unit{}, d.failf("spec.path", "%q leaves the repository", spec.Path)
		}
		u.Path = strings.TrimPrefix(p, "/")
		if u.Path == "" {
			u.Path = "."
		}
	}

	for i, dep := range spec.DependsOn {
		field := fmt.Sprintf("spec.dependsOn[%d]", i)
		switch {
		case dep.Name == "":
			return Unit{}, d.failf(field+".name", "required")
		case dep.Namespace != "" && dep.Namespace != d.namespace:
			return Unit{}, d.failf(field+".namespace", "%q: a dependency in another namespace than %q is not supported", dep.Namespace, d.namespace)
		case l.kustByName[dep.Name] == nil:
			return Unit{}, d.failf(field+".name", "no Kustomization %q in the stream", dep.Name)
		}
		u.DependsOn = append(u.DependsOn, dep.Name)
	}

	if u.Build, err = l.buildOptions(ctx, d, spec); err != nil {
		return Unit{}, err
	}
	for i, c := range spec.HealthCheckExprs {
		field := fmt.Sprintf("spec.healthCheckExprs[%d]", i)
		if c.APIVersion == "" || c.Kind == "" || c.Current == "" {
			return Unit{}, d.failf(field, "apiVersion, kind and current are required")
		}
		u.HealthChecks = append(u.HealthChecks, health.CELCheck{APIVersion: c.APIVersion, Kind: c.Kind,
			Current: c.Current, InProgress: c.InProgress, Failed: c.Failed})
	}
	return u, nil
}

// buildOptions converts a Kustomization's kustomize and post-build fields.
func (l *fluxLoader) buildOptions(ctx context.Context, d *fluxDoc, spec *fluxKustomizationSpec) (build.KustomizeOptions, error) {
	b := build.KustomizeOptions{TargetNamespace: spec.TargetNamespace, NamePrefix: spec.NamePrefix,
		NameSuffix: spec.NameSuffix, Components: spec.Components}
	if ns := spec.TargetNamespace; ns != "" {
		if msgs := validation.IsDNS1123Label(ns); len(msgs) > 0 {
			return b, d.failf("spec.targetNamespace", "%q: %s", ns, strings.Join(msgs, "; "))
		}
	}
	if m := spec.CommonMetadata; m != nil {
		b.CommonLabels, b.CommonAnnotations = m.Labels, m.Annotations
	}
	for i, p := range spec.Patches {
		if strings.TrimSpace(p.Patch) == "" {
			return b, d.failf(fmt.Sprintf("spec.patches[%d].patch", i), "required")
		}
		bp := build.Patch{Patch: p.Patch}
		if t := p.Target; t != nil {
			bp.Target = &build.Selector{Group: t.Group, Version: t.Version, Kind: t.Kind, Namespace: t.Namespace,
				Name: t.Name, LabelSelector: t.LabelSelector, AnnotationSelector: t.AnnotationSelector}
		}
		b.Patches = append(b.Patches, bp)
	}
	for i, img := range spec.Images {
		if img.Name == "" {
			return b, d.failf(fmt.Sprintf("spec.images[%d].name", i), "required")
		}
		b.Images = append(b.Images, build.Image{Name: img.Name, NewName: img.NewName, NewTag: img.NewTag, Digest: img.Digest})
	}
	if spec.PostBuild == nil {
		return b, nil
	}
	vars := map[string]string{}
	for i, ref := range spec.PostBuild.SubstituteFrom {
		field := fmt.Sprintf("spec.postBuild.substituteFrom[%d]", i)
		if ref.Name == "" {
			return b, d.failf(field+".name", "required")
		}
		var data map[string]string
		var err error
		switch ref.Kind {
		case "ConfigMap":
			data, err = l.configMap(ctx, d, field+".name", ref.Name)
		case "Secret":
			var raw map[string][]byte
			if raw, err = l.secret(ctx, d, field+".name", ref.Name); err == nil {
				data = map[string]string{}
				for k, v := range raw {
					data[k] = string(v)
				}
			}
		default:
			return b, d.failf(field+".kind", "%q: want ConfigMap or Secret", ref.Kind)
		}
		if err != nil {
			var fe *FluxError
			if ref.Optional && errors.As(err, &fe) && isNotFound(fe.Err) {
				continue
			}
			return b, err
		}
		for _, k := range slices.Sorted(maps.Keys(data)) {
			if !isVarName(k) {
				return b, d.failf(field, "%s %s: key %q is not a valid variable name (want %s)", ref.Kind, ref.Name, k, varNamePattern)
			}
			vars[k] = strings.ReplaceAll(data[k], "\n", "")
		}
	}
	for _, k := range slices.Sorted(maps.Keys(spec.PostBuild.Substitute)) {
		if !isVarName(k) {
			return b, d.failf(joinPath("spec.postBuild.substitute", k), "not a valid variable name (want %s)", varNamePattern)
		}
		vars[k] = strings.ReplaceAll(spec.PostBuild.Substitute[k], "\n", "")
	}
	if len(vars) > 0 {
		b.Substitute = vars
	}
	return b, nil
}

const varNamePattern = "^[_[:alpha:]][_[:alpha:][:digit:]]*$"

func isVarName(s string) bool {
	for i, c := range s {
		if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return s != ""
}

// secret reads a Secret of the configuration's namespace once.
func (l *fluxLoader) secret(ctx context.Context, d *fluxDoc, field, name string) (map[string][]byte, error) {
	if name == "" {
		return nil, d.failf(field, "required")
	}
	if l.opts.SecretData == nil {
		return nil, d.failf(field, "refers to Secret %s, and FluxOptions.SecretData is not set", name)
	}
	r, ok := l.secrets[name]
	if !ok {
		r.data, r.err = l.opts.SecretData(ctx, d.namespace, name)
		l.secrets[name] = r
	}
	if r.err != nil {
		fe := d.failf(field, "Secret %s/%s: %w", d.namespace, name, r.err)
		fe.lookup = true
		return nil, fe
	}
	return r.data, nil
}

// configMap reads a ConfigMap of the configuration's namespace once.
func (l *fluxLoader) configMap(ctx context.Context, d *fluxDoc, field, name string) (map[string]string, error) {
	if l.opts.ConfigMapData == nil {
		return nil, d.failf(field, "refers to ConfigMap %s, and FluxOptions.ConfigMapData is not set", name)
	}
	r, ok := l.configMaps[name]
	if !ok {
		r.data, r.err = l.opts.ConfigMapData(ctx, d.namespace, name)
		l.configMaps[name] = r
	}
	if r.err != nil {
		fe := d.failf(field, "ConfigMap %s/%s: %w", d.namespace, name, r.err)
		fe.lookup = true
		return nil, fe
	}
	return r.data, nil
}
