package reconcile

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gitopskit/gitopskit/helmrelease"
	"github.com/gitopskit/gitopskit/source"
)

// ReasonHelmReleaseFailed is the reason of a Helm unit whose release is not
// Ready; the message carries helmrelease's own reason and message.
const ReasonHelmReleaseFailed = "HelmReleaseFailed"

// reconcileHelm reconciles a Helm unit with package helmrelease and folds
// its status into the unit's.
func (r *Reconciler) reconcileHelm(ctx context.Context, u Unit, art *source.Artifact, next UnitStatus) UnitStatus {
	rel := *u.Helm
	if rel.Timeout == 0 {
		rel.Timeout = u.Timeout
	}
	if !u.Wait && !rel.DisableWait {
		rel.DisableWait = true
	}
	rel.DependsOn = nil // gated by the configuration
	if rel.Chart.Path != "" && rel.Chart.RepoURL == "" {
		p, err := pathInArtifact(art, rel.Chart.Path)
		if err != nil {
			next.Phase, next.Reason, next.Message = PhaseNotReady, ReasonBuildFailed, err.Error()
			return next
		}
		rel.Chart.Path = p
	}
	hr, err := r.helmReconciler()
	if err != nil {
		next.Phase, next.Reason, next.Message = PhaseNotReady, ReasonHelmReleaseFailed, err.Error()
		return next
	}
	r.emit(Event{Unit: u.Name, Stage: StageApply, Revision: next.LastAttemptedRevision,
		Message: fmt.Sprintf("reconciling Helm release %s/%s", rel.Namespace, rel.Name)})
	st, err := hr.Reconcile(ctx, rel)
	revision := fmt.Sprintf("%s@%s (release revision %d)", st.Chart.Name, st.ChartVersion, st.Revision)
	if next.LastAttemptedRevision == "" {
		next.LastAttemptedRevision = revision
	}
	if err != nil || !st.Ready {
		msg := st.Message
		if err != nil {
			msg = err.Error()
		}
		next.Phase, next.Reason, next.Message = PhaseNotReady, ReasonHelmReleaseFailed, fmt.Sprintf("%s: %s", st.Reason, msg)
		return next
	}
	next.Phase, next.Reason = PhaseReady, ReasonSucceeded
	next.Message = fmt.Sprintf("release %s/%s %s: %s", rel.Namespace, rel.Name, revision, st.Message)
	if art != nil {
		next.LastAppliedRevision = art.Revision
	} else {
		next.LastAppliedRevision = revision
	}
	return next
}

func (r *Reconciler) helmReconciler() (*helmrelease.Reconciler, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.helm != nil {
		return r.helm, nil
	}
	dir, err := os.MkdirTemp("", "gitopskit-charts-")
	if err != nil {
		return nil, fmt.Errorf("reconcile: %w", err)
	}
	r.cleanup = append(r.cleanup, dir)
	hr, err := helmrelease.NewReconciler(r.cfg, helmrelease.Options{CacheDir: dir, Logger: r.opts.Logger, FieldManager: r.fieldManager()})
	if err != nil {
		return nil, err
	}
	r.helm = hr
	return hr, nil
}

// pathInArtifact resolves p inside the artifact, refusing paths (and
// symlinks) that leave it.
func pathInArtifact(art *source.Artifact, p string) (string, error) {
	if art == nil {
		return "", fmt.Errorf("chart path %q needs a source", p)
	}
	clean := filepath.Clean(filepath.FromSlash(p))
	if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("chart path %q leaves the source", p)
	}
	full := filepath.Join(art.Dir, clean)
	resolved, err := filepath.EvalSymlinks(full)
	if err != nil {
		return "", fmt.Errorf("chart path %q: %w", p, err)
	}
	root, err := filepath.EvalSymlinks(art.Dir)
	if err != nil {
		return "", err
	}
	if rel, err := filepath.Rel(root, resolved); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("chart path %q leaves the source through a symlink", p)
	}
	return resolved, nil
}
