package reconcile

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/gitopskit/internal/object"
	"github.com/gitopskit/gitopskit/source"
)

// ErrOutsideSource is matched by the error of a Helm unit whose chart path,
// or a symlink in its chart, leads outside the unit's source.
var ErrOutsideSource = errors.New("outside the source")

// ReasonHelmReleaseFailed is the reason of a Helm unit whose release is not
// Ready; the message carries helmrelease's own reason and message.
const ReasonHelmReleaseFailed = "HelmReleaseFailed"

// helm is the Helm stage of the unit pipeline: the release is installed,
// upgraded or left alone by package helmrelease acting as the unit's
// identity, after every rendered object (templates, hooks, CRDs) passed the
// same admission as a kustomize unit's objects. A dry run does not run
// Helm: it reports that the release would be reconciled.
func (rd *round) helm(ctx context.Context, st *unitState, id *identity, art *source.Artifact, out outcome,
	ev func(Event), fail func(Stage, string, error) outcome) outcome {
	r := rd.r
	u := st.specOf()
	rel := *u.Helm
	if rel.Timeout == 0 {
		rel.Timeout = u.Timeout
	}
	if !u.Wait && !rel.DisableWait {
		rel.DisableWait = true
	}
	rel.DependsOn = nil // gated by the configuration
	values, err := r.helmValues(ctx, u)
	if err != nil {
		return fail(StageHelm, ReasonHelmReleaseFailed, err)
	}
	rel.ValuesFrom = values
	if rel.Chart.Path != "" && rel.Chart.RepoURL == "" {
		p, err := chartInArtifact(art, rel.Chart.Path)
		if err != nil {
			return fail(StageBuild, ReasonBuildFailed, err)
		}
		rel.Chart.Path = p
	}
	if rd.dryRun {
		out.helm = fmt.Sprintf("release %s/%s would be reconciled (Helm has no server-side dry run of an upgrade)", rel.Namespace, rel.Name)
		// What the chart would create, for the dry runs of the units
		// after it.
		if err := rd.planHelmCreates(ctx, u.Name, rel); err != nil {
			out.helm += fmt.Sprintf("; its chart did not render, so the CRDs it would create are not known to the plan: %v", err)
		}
		return out
	}
	hr, err := r.helmFor(id.cluster.Identity())
	if err != nil {
		return fail(StageHelm, ReasonHelmReleaseFailed, err)
	}
	ctx = context.WithValue(ctx, admitKey{}, admission(func(ctx context.Context, objs []*unstructured.Unstructured) error {
		objs = inReleaseNamespace(objs, rel.Namespace, id.cluster.RESTMapper())
		if err := rd.admit(ctx, u.Name, objs, id); err != nil {
			ev(Event{Type: EventFailed, Stage: StagePolicy, Message: err.Error(), Err: err})
			return err
		}
		return nil
	}))
	ev(Event{Type: EventProgress, Stage: StageHelm, Message: fmt.Sprintf("reconciling Helm release %s/%s", rel.Namespace, rel.Name)})
	hs, err := hr.Reconcile(ctx, rel)
	revision := fmt.Sprintf("%s@%s (release revision %d)", hs.Chart.Name, hs.ChartVersion, hs.Revision)
	if out.revision == "" {
		out.revision = revision
	}
	if err != nil || !hs.Ready {
		msg := hs.Message
		if err != nil {
			msg = err.Error()
		}
		reason := ReasonHelmReleaseFailed
		if hs.Reason == "PolicyViolation" {
			reason = ReasonPolicyViolation
		}
		return fail(StageHelm, reason, fmt.Errorf("%s: %s", hs.Reason, msg))
	}
	out.helm = fmt.Sprintf("release %s/%s %s: %s", rel.Namespace, rel.Name, revision, hs.Message)
	return out
}

// inReleaseNamespace gives namespaced objects without a namespace the
// release's, as Helm does when it creates them. With no mapper (offline),
// the built-in table says which kinds are cluster-scoped.
func inReleaseNamespace(objs []*unstructured.Unstructured, ns string, mapper meta.RESTMapper) []*unstructured.Unstructured {
	out := make([]*unstructured.Unstructured, len(objs))
	for i, o := range objs {
		out[i] = o
		if o.GetNamespace() != "" {
			continue
		}
		gvk := o.GroupVersionKind()
		var m *meta.RESTMapping
		err := errors.New("no RESTMapper")
		if mapper != nil {
			m, err = mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		}
		if err == nil && m.Scope.Name() == meta.RESTScopeNameRoot {
			continue
		}
		if err != nil && object.IsBuiltinClusterScoped(gvk.GroupKind()) {
			continue
		}
		c := o.DeepCopy()
		c.SetNamespace(ns)
		out[i] = c
	}
	return out
}

// chartInArtifact resolves a chart directory inside the artifact, refusing
// paths that leave it and charts holding a symlink that points outside the
// artifact (Helm's loader follows symlinks: a chart could read host files
// into its templates' .Files).
func chartInArtifact(art *source.Artifact, p string) (string, error) {
	if art == nil {
		return "", fmt.Errorf("chart path %q needs a source", p)
	}
	clean := filepath.Clean(filepath.FromSlash(p))
	if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%w: chart path %q leaves the source", ErrOutsideSource, p)
	}
	root, err := filepath.EvalSymlinks(art.Dir)
	if err != nil {
		return "", err
	}
	resolved, err := filepath.EvalSymlinks(filepath.Join(art.Dir, clean))
	if err != nil {
		return "", fmt.Errorf("chart path %q: %w", p, err)
	}
	inside := func(path string) bool {
		rel, err := filepath.Rel(root, path)
		return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
	}
	if !inside(resolved) {
		return "", fmt.Errorf("%w: chart path %q leaves the source through a symlink", ErrOutsideSource, p)
	}
	err = filepath.WalkDir(resolved, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&os.ModeSymlink == 0 {
			return nil
		}
		target, err := filepath.EvalSymlinks(path)
		if err != nil {
			return fmt.Errorf("%w: chart %q: symlink %s: %v", ErrOutsideSource, p, path, err)
		}
		if !inside(target) {
			rel, _ := filepath.Rel(root, path)
			return fmt.Errorf("%w: chart %q: symlink %s points outside the source", ErrOutsideSource, p, rel)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return resolved, nil
}
