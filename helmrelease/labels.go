package helmrelease

import (
	"strings"

	"github.com/gitopskit/gitopskit/helmrelease/internal/driver"
)

// Labels that helmrelease stores on Helm release records (the Secrets
// holding each revision, visible with `helm history` as the release's
// labels). They are how the lifecycle is decided without any state outside
// the cluster: what each revision was made from, and which revisions were
// failed attempts. Digest values are the first 32 hex digits of a SHA-256.
const (
	// LabelChartDigest is the digest of the chart's files.
	LabelChartDigest = "helmrelease.gitopskit.io/chart-digest"
	// LabelValuesDigest is the digest of the merged values.
	LabelValuesDigest = "helmrelease.gitopskit.io/values-digest"
	// LabelConfigDigest is the digest of the release configuration that
	// shapes rendered objects ([Release.Labels]).
	LabelConfigDigest = "helmrelease.gitopskit.io/config-digest"
	// LabelFailed is "true" on a revision that was a failed attempt, even
	// after it was rolled back or uninstalled.
	LabelFailed = "helmrelease.gitopskit.io/failed"
	// LabelUninstalled is "true" on a failed attempt that was uninstalled:
	// the revisions before it are no longer deployed (Helm's next install
	// marks it superseded, which would hide that).
	LabelUninstalled = "helmrelease.gitopskit.io/uninstalled"
	// LabelPhase is "install" on a revision written while nothing was
	// deployed (an install, or an attempt on a failed install) and
	// "upgrade" on one written over a deployed release: failed attempts
	// are counted against the retries of their phase.
	LabelPhase = "helmrelease.gitopskit.io/phase"
)

// Values of [LabelPhase].
const (
	phaseInstall = "install"
	phaseUpgrade = "upgrade"
)

// desired is what the release should be made of, as label values.
type desired struct {
	chart, values, config string
}

func shortDigest(d string) string {
	d = strings.TrimPrefix(d, "sha256:")
	if len(d) > 32 {
		d = d[:32]
	}
	return d
}

func (d desired) labels() map[string]string {
	return map[string]string{
		LabelChartDigest:  d.chart,
		LabelValuesDigest: d.values,
		LabelConfigDigest: d.config,
		LabelFailed:       "null", // Helm: drop the label merged from the previous record
	}
}

func (d desired) matches(r *driver.Release) bool {
	return r.Labels[LabelChartDigest] == d.chart &&
		r.Labels[LabelValuesDigest] == d.values &&
		r.Labels[LabelConfigDigest] == d.config
}

// changed names what differs between r and d, for messages.
func (d desired) changed(r *driver.Release) string {
	var what []string
	if r.Labels[LabelChartDigest] != d.chart {
		what = append(what, "chart")
	}
	if r.Labels[LabelValuesDigest] != d.values {
		what = append(what, "values")
	}
	if r.Labels[LabelConfigDigest] != d.config {
		what = append(what, "configuration")
	}
	return strings.Join(what, ", ")
}

func isFailed(r *driver.Release) bool { return r.Labels[LabelFailed] == "true" }

// inPhase reports whether r was written in phase; a revision without the
// label (written before it existed) counts for both.
func inPhase(r *driver.Release, phase string) bool {
	p := r.Labels[LabelPhase]
	return p == "" || p == phase
}
