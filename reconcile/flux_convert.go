package reconcile

import (
	"context"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
	"time"

	kustv1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/kustomize"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/gitopskit/gitopskit/build"
	"github.com/gitopskit/gitopskit/health"
	"github.com/gitopskit/gitopskit/source"
)

// source converts a GitRepository.
func (b *fluxBatch) source(ctx context.Context, d *fluxDoc) (Source, error) {
	spec := d.spec.(*sourcev1.GitRepositorySpec)
	s := Source{Name: d.unitName, URL: spec.URL}
	if s.URL == "" {
		return Source{}, d.failf("spec.url", "required")
	}
	interval, err := required(d, "spec.interval", spec.Interval)
	if err != nil {
		return Source{}, err
	}
	b.intervals[d.key()] = interval
	if r := spec.Reference; r != nil && *r != (sourcev1.GitRepositoryRef{}) {
		s.Ref = source.Ref{Branch: r.Branch, Tag: r.Tag, SemVer: r.SemVer, Name: r.Name, Commit: r.Commit}
	} else {
		s.Ref = source.Ref{Branch: "master"}
	}
	if err := s.Ref.Validate(); err != nil {
		return Source{}, d.fail("spec.ref", err)
	}
	s.Timeout = optional(spec.Timeout)
	if spec.SecretRef != nil {
		data, err := b.l.secret(ctx, d, "spec.secretRef.name", spec.SecretRef.Name)
		if err != nil {
			return Source{}, err
		}
		if s.Auth, err = source.AuthFromSecretData(data); err != nil {
			return Source{}, d.failf("spec.secretRef.name", "Secret %s: %w", spec.SecretRef.Name, err)
		}
	}
	if v := spec.Verification; v != nil {
		ver := &source.Verification{}
		switch v.Mode {
		case "HEAD", "head":
			ver.Mode = source.VerifyHead
		case "Tag":
			ver.Mode = source.VerifyTag
		default:
			return Source{}, d.failf("spec.verify.mode", "%q is not supported: want HEAD or Tag", v.Mode)
		}
		if v.SecretRef.Name == "" {
			return Source{}, d.failf("spec.verify.secretRef", "required: the Secret holding the trusted public keys")
		}
		data, err := b.l.secret(ctx, d, "spec.verify.secretRef.name", v.SecretRef.Name)
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
		s.Ignore = ignoreLines(*spec.Ignore)
	}
	return s, nil
}

// ociSource converts an OCIRepository into a source: an artifact whose
// layer (a tar.gz of manifests, as `flux push artifact` writes) is
// extracted. An OCIRepository a HelmRelease uses as its chart is read as
// a chart too (chartSource).
func (b *fluxBatch) ociSource(ctx context.Context, d *fluxDoc) (Source, error) {
	spec := d.spec.(*sourcev1.OCIRepositorySpec)
	s := Source{Name: d.unitName, URL: strings.TrimSuffix(spec.URL, "/"), OCI: &OCIArtifact{PlainHTTP: spec.Insecure}}
	if !strings.HasPrefix(s.URL, "oci://") {
		return Source{}, d.failf("spec.url", "%q: want oci://registry/repository", spec.URL)
	}
	interval, err := required(d, "spec.interval", spec.Interval)
	if err != nil {
		return Source{}, err
	}
	b.intervals[d.key()] = interval
	if r := spec.Reference; r != nil {
		s.OCI.Ref = source.OCIRef{Tag: r.Tag, SemVer: r.SemVer, SemVerFilter: r.SemverFilter, Digest: r.Digest}
	}
	if err := s.OCI.Ref.Validate(); err != nil {
		return Source{}, d.fail("spec.ref", err)
	}
	if ls := spec.LayerSelector; ls != nil {
		// Flux's copy keeps the layer as it is, and kustomize-controller
		// extracts it: for a tar.gz both give the same files.
		if ls.Operation != "" && ls.Operation != sourcev1.OCILayerCopy && ls.Operation != sourcev1.OCILayerExtract {
			return Source{}, d.failf("spec.layerSelector.operation", "%q: want %s or %s", ls.Operation, sourcev1.OCILayerExtract, sourcev1.OCILayerCopy)
		}
		s.OCI.MediaType = ls.MediaType
	}
	s.Timeout = optional(spec.Timeout)
	if spec.SecretRef != nil {
		data, err := b.l.secret(ctx, d, "spec.secretRef.name", spec.SecretRef.Name)
		if err != nil {
			return Source{}, err
		}
		ba, err := registryAuth(spec.URL, data)
		if err != nil {
			return Source{}, d.failf("spec.secretRef.name", "Secret %s: %v", spec.SecretRef.Name, err)
		}
		s.Auth = &source.Auth{Username: ba.Username, Password: ba.Password}
	}
	if spec.Ignore != nil {
		s.Ignore = ignoreLines(*spec.Ignore)
	}
	return s, nil
}

// ignoreLines splits a Flux spec.ignore into patterns.
func ignoreLines(ignore string) []string {
	var out []string
	for line := range strings.SplitSeq(ignore, "\n") {
		if line = strings.TrimRight(line, "\r"); strings.TrimSpace(line) != "" {
			out = append(out, line)
		}
	}
	return out
}

// required returns a required duration; the format was checked when
// parsing.
func required(d *fluxDoc, field string, v metav1.Duration) (time.Duration, error) {
	if v.Duration <= 0 {
		return 0, d.failf(field, "required, e.g. \"10m\"")
	}
	return v.Duration, nil
}

// optional returns an optional duration, 0 when absent.
func optional(v *metav1.Duration) time.Duration {
	if v == nil {
		return 0
	}
	return v.Duration
}

// unit converts a Kustomization.
func (b *fluxBatch) unit(ctx context.Context, d *fluxDoc) (Unit, error) {
	spec := d.spec.(*kustv1.KustomizationSpec)
	u := Unit{Name: d.unitName, Prune: spec.Prune, Wait: spec.Wait, Force: spec.Force, Suspend: spec.Suspend,
		ServiceAccountName: b.serviceAccount(spec.ServiceAccountName), FluxObject: d.key().String()}
	if u.ServiceAccountName != "" {
		u.ServiceAccountNamespace = d.namespace
	}

	interval, err := required(d, "spec.interval", spec.Interval)
	if err != nil {
		return Unit{}, err
	}
	ref := spec.SourceRef
	var dir string // the ExternalArtifact's directory in the Git source
	var src *fluxDoc
	var compose []source.Copy // or the copies that make the ExternalArtifact
	switch {
	case ref.Kind == "":
		return Unit{}, d.failf("spec.sourceRef.kind", "required: GitRepository or OCIRepository")
	case ref.APIVersion != "" && !strings.HasPrefix(ref.APIVersion, fluxSourceGroup+"/"):
		return Unit{}, d.failf("spec.sourceRef.apiVersion", "%q: want %s", ref.APIVersion, FluxSourceAPIVersion)
	case ref.Kind == "GitRepository", ref.Kind == "OCIRepository":
		if src, err = b.ref(d, "spec.sourceRef", ref.Kind, ref.Namespace, ref.Name); err != nil {
			return Unit{}, err
		}
	case ref.Kind == "ExternalArtifact":
		if src, dir, compose, err = b.externalArtifact(d, "spec.sourceRef", ref.Namespace, ref.Name); err != nil {
			return Unit{}, err
		}
	default:
		return Unit{}, d.failf("spec.sourceRef.kind", "%q is not supported: want GitRepository, OCIRepository (or an ExternalArtifact of an ArtifactGenerator)", ref.Kind)
	}
	u.Source, u.Compose = src.unitName, compose
	u.Interval = interval
	if si := b.intervals[src.key()]; si > 0 {
		u.Interval = min(interval, si)
	} else if si := sourceInterval(src); si > 0 {
		u.Interval = min(interval, si)
	}
	u.RetryInterval = optional(spec.RetryInterval)
	if u.Timeout = optional(spec.Timeout); u.Timeout == 0 {
		u.Timeout = interval
	}

	if spec.Path != "" || dir != "" {
		p := path.Clean(spec.Path)
		if p == ".." || strings.HasPrefix(p, "../") {
			return Unit{}, d.failf("spec.path", "%q leaves the repository", spec.Path)
		}
		p = strings.Trim(path.Join(dir, strings.TrimPrefix(p, "/")), "/")
		if p == "" {
			p = "."
		}
		u.Path = p
	}

	for i, dep := range spec.DependsOn {
		name, err := b.dependency(d, fmt.Sprintf("spec.dependsOn[%d]", i), "Kustomization", dep.Namespace, dep.Name)
		if err != nil {
			return Unit{}, err
		}
		u.DependsOn = append(u.DependsOn, name)
	}

	if u.Build, u.SubstituteFrom, err = b.l.buildOptions(d, spec); err != nil {
		return Unit{}, err
	}
	for i, hc := range spec.HealthChecks {
		field := fmt.Sprintf("spec.healthChecks[%d]", i)
		if hc.Kind == "" || hc.Name == "" {
			return Unit{}, d.failf(field, "kind and name are required")
		}
		ref := ObjectRef{APIVersion: hc.APIVersion, Kind: hc.Kind, Namespace: hc.Namespace, Name: hc.Name}
		if ref.Namespace == "" {
			ref.Namespace = d.namespace
		}
		if ref.APIVersion == "" {
			// Flux finds the version from the kind; the Flux kinds are
			// the ones a repository health-checks without one.
			switch ref.Kind {
			case "HelmRelease":
				ref.APIVersion = FluxHelmAPIVersion
			case "Kustomization":
				ref.APIVersion = FluxKustomizeAPIVersion
			default:
				return Unit{}, d.failf(field+".apiVersion", "required for kind %s", ref.Kind)
			}
		}
		u.HealthCheckRefs = append(u.HealthCheckRefs, ref)
	}
	u.DeletionPolicy = DeletionPolicy(spec.DeletionPolicy)
	if err := u.DeletionPolicy.validate(); err != nil {
		return Unit{}, d.fail("spec.deletionPolicy", err)
	}
	if dec := spec.Decryption; dec != nil {
		if dec.Provider != "sops" {
			return Unit{}, d.failf("spec.decryption.provider", "%q: want sops", dec.Provider)
		}
		if dec.SecretRef == nil || dec.SecretRef.Name == "" {
			// Flux would use the controller's cloud identity or its
			// global age Secret; gitopskit reads keys from a Secret only.
			return Unit{}, d.failf("spec.decryption.secretRef", "required: the keys are read from a Secret of the Kustomization's namespace")
		}
		u.Decryption = &Decryption{Namespace: d.namespace, Name: dec.SecretRef.Name}
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

// sourceInterval is a GitRepository's interval when it was loaded by an
// earlier call.
func sourceInterval(d *fluxDoc) time.Duration {
	switch s := d.spec.(type) {
	case *sourcev1.GitRepositorySpec:
		return s.Interval.Duration
	case *sourcev1.OCIRepositorySpec:
		return s.Interval.Duration
	}
	return 0
}

// buildOptions converts a Kustomization's kustomize and post-build fields.
// substituteFrom is returned as references, read when the unit builds
// (Reconciler.substitutions).
func (l *fluxLoader) buildOptions(d *fluxDoc, spec *kustv1.KustomizationSpec) (build.KustomizeOptions, []SubstituteRef, error) {
	b, err := l.kustomizeOptions(d, spec)
	if err != nil || spec.PostBuild == nil {
		return b, nil, err
	}
	vars := map[string]string{}
	var refs []SubstituteRef
	for i, ref := range spec.PostBuild.SubstituteFrom {
		field := fmt.Sprintf("spec.postBuild.substituteFrom[%d]", i)
		if ref.Name == "" {
			return b, nil, d.failf(field+".name", "required")
		}
		if ref.Kind != "ConfigMap" && ref.Kind != "Secret" {
			return b, nil, d.failf(field+".kind", "%q: want ConfigMap or Secret", ref.Kind)
		}
		refs = append(refs, SubstituteRef{Kind: ref.Kind, Namespace: d.namespace, Name: ref.Name, Optional: ref.Optional})
	}
	for _, k := range slices.Sorted(maps.Keys(spec.PostBuild.Substitute)) {
		if !isVarName(k) {
			return b, nil, d.failf(joinPath("spec.postBuild.substitute", k), "not a valid variable name (want %s)", varNamePattern)
		}
		vars[k] = strings.ReplaceAll(spec.PostBuild.Substitute[k], "\n", "")
	}
	if len(vars) > 0 {
		b.Substitute = vars
	}
	return b, refs, nil
}

// kustomizeOptions converts a Kustomization's kustomize fields.
func (l *fluxLoader) kustomizeOptions(d *fluxDoc, spec *kustv1.KustomizationSpec) (build.KustomizeOptions, error) {
	b := build.KustomizeOptions{TargetNamespace: spec.TargetNamespace, NamePrefix: spec.NamePrefix,
		NameSuffix: spec.NameSuffix, Components: spec.Components,
		IgnoreMissingComponents: spec.IgnoreMissingComponents}
	if ns := spec.TargetNamespace; ns != "" {
		if msgs := validation.IsDNS1123Label(ns); len(msgs) > 0 {
			return b, d.failf("spec.targetNamespace", "%q: %s", ns, strings.Join(msgs, "; "))
		}
	}
	if m := spec.CommonMetadata; m != nil {
		b.CommonLabels, b.CommonAnnotations = m.Labels, m.Annotations
	}
	var err error
	if b.Patches, b.Images, err = fluxPatchesImages(d, "spec.", spec.Patches, spec.Images); err != nil {
		return b, err
	}
	return b, nil
}

// fluxPatchesImages converts Flux's kustomize patches and images (of a
// Kustomization, or of a HelmRelease's post renderer) at field (ending in
// ".").
func fluxPatchesImages(d *fluxDoc, field string, patches []kustomize.Patch, images []kustomize.Image) ([]build.Patch, []build.Image, error) {
	var bps []build.Patch
	var bis []build.Image
	for i, p := range patches {
		if strings.TrimSpace(p.Patch) == "" {
			return nil, nil, d.failf(fmt.Sprintf("%spatches[%d].patch", field, i), "required")
		}
		bp := build.Patch{Patch: p.Patch}
		if t := p.Target; t != nil {
			bp.Target = &build.Selector{Group: t.Group, Version: t.Version, Kind: t.Kind, Namespace: t.Namespace,
				Name: t.Name, LabelSelector: t.LabelSelector, AnnotationSelector: t.AnnotationSelector}
		}
		bps = append(bps, bp)
	}
	for i, img := range images {
		if img.Name == "" {
			return nil, nil, d.failf(fmt.Sprintf("%simages[%d].name", field, i), "required")
		}
		bis = append(bis, build.Image{Name: img.Name, NewName: img.NewName, NewTag: img.NewTag, Digest: img.Digest})
	}
	return bps, bis, nil
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

// secret reads a Secret of d's namespace once.
func (l *fluxLoader) secret(ctx context.Context, d *fluxDoc, field, name string) (map[string][]byte, error) {
	if name == "" {
		return nil, d.failf(field, "required")
	}
	if l.opts.SecretData == nil {
		return nil, d.failf(field, "refers to Secret %s, and FluxOptions.SecretData is not set", name)
	}
	r, ok := l.secrets[d.namespace+"/"+name]
	if !ok {
		r.data, r.err = l.opts.SecretData(ctx, d.namespace, name)
		l.secrets[d.namespace+"/"+name] = r
	}
	if r.err != nil {
		fe := d.failf(field, "Secret %s/%s: %w", d.namespace, name, r.err)
		fe.lookup = true
		return nil, fe
	}
	return r.data, nil
}
