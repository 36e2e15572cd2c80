package reconcile

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Phase is where a unit stands with respect to Git.
type Phase string

// The phases. Only [PhaseReady] is compliant.
const (
	// PhaseReady: the unit's objects match its last fetched revision and are
	// healthy. Compliant.
	PhaseReady Phase = "Ready"
	// PhaseNotReady: the last reconcile failed (fetch, build, apply, prune or
	// health); the reason says which. Non-compliant.
	PhaseNotReady Phase = "NotReady"
	// PhasePending: the unit has not been reconciled, because it has not run
	// yet or because a dependency is not Ready. Non-compliant.
	PhasePending Phase = "Pending"
	// PhaseSuspended: the unit is suspended and left alone. Non-compliant,
	// since nothing vouches for its objects.
	PhaseSuspended Phase = "Suspended"
)

// Reasons for a unit's phase, stable strings callers may branch on.
const (
	ReasonSucceeded          = "ReconciliationSucceeded"
	ReasonDependencyNotReady = "DependencyNotReady"
	ReasonFetchFailed        = "FetchFailed"
	ReasonBuildFailed        = "BuildFailed"
	ReasonPolicyViolation    = "PolicyViolation"
	ReasonApplyFailed        = "ApplyFailed"
	ReasonPruneFailed        = "PruneFailed"
	ReasonHealthCheckFailed  = "HealthCheckFailed"
	ReasonSuspended          = "Suspended"
	ReasonNotReconciled      = "NotReconciledYet"
)

// Counts summarise what a reconcile did to a unit's objects.
type Counts struct {
	Created, Configured, Unchanged, Deleted, Skipped int
}

// String returns every count, zeros included, in a fixed order, so that
// lines of a log or table line up: "2 created, 0 configured, ...".
func (c Counts) String() string {
	return fmt.Sprintf("%d created, %d configured, %d unchanged, %d pruned, %d skipped",
		c.Created, c.Configured, c.Unchanged, c.Deleted, c.Skipped)
}

// UnitStatus is the compliance state of one unit.
type UnitStatus struct {
	Name      string
	Phase     Phase
	Reason    string // one of the Reason constants
	Message   string // human-readable detail
	DependsOn []string
	// DeclaredBy is the unit whose build declared this one (a Flux
	// Kustomization or HelmRelease found in a build), "" for a unit of the
	// configuration: the status tree.
	DeclaredBy string
	// FluxObject is "Kind namespace/name" of the Flux object the unit
	// comes from, "" for a unit declared in Go.
	FluxObject string
	// LastAppliedRevision is the revision whose objects were last applied
	// successfully and found healthy; LastAttemptedRevision the revision the
	// last reconcile worked on (they differ when it failed).
	LastAppliedRevision   string
	LastAttemptedRevision string
	Counts                Counts
	Objects               int // objects in the unit's inventory
	LastReconciled        time.Time
	Duration              time.Duration
}

// Compliant reports whether the unit is Ready.
func (s UnitStatus) Compliant() bool { return s.Phase == PhaseReady }

// SourceStatus is the state of one source of the configuration (a Flux
// GitRepository, or a Source declared in Go): the revision its units build
// from, or why it could not be fetched. A source that fails fails the units
// that build from it, so compliance covers sources through their units.
type SourceStatus struct {
	Name string `json:"name"`
	// URL is the repository's URL with any credential removed.
	URL string `json:"url,omitempty"`
	// DeclaredBy is the unit whose build declared the source, "" for a
	// source of the configuration.
	DeclaredBy string `json:"declaredBy,omitempty"`
	// Ready reports that the last fetch succeeded; false also before the
	// first fetch.
	Ready bool `json:"ready"`
	// Revision is the revision last fetched, such as "main@sha1:<hash>".
	Revision string `json:"revision,omitempty"`
	// Message says why the last fetch failed, or "not fetched yet", or
	// that no kustomize unit builds from the source (a source of charts
	// only, which the Helm units fetch themselves).
	Message     string    `json:"message,omitempty"`
	LastFetched time.Time `json:"lastFetched,omitzero"`
}

// Status is the compliance state of a configuration: compliant only when
// every unit is.
type Status struct {
	Units []UnitStatus // in dependency order
	// Sources are the configuration's sources and those its units' builds
	// declared, by name.
	Sources []SourceStatus
}

// Compliant reports whether every unit is Ready.
func (s Status) Compliant() bool {
	for _, u := range s.Units {
		if !u.Compliant() {
			return false
		}
	}
	return len(s.Units) > 0
}

// Unit returns the status of the named unit.
func (s Status) Unit(name string) (UnitStatus, bool) {
	for _, u := range s.Units {
		if u.Name == name {
			return u, true
		}
	}
	return UnitStatus{}, false
}

// String renders a one-line summary such as
// "compliant: 3/3 units ready" or "non-compliant: 1/3 units ready; apps-dev NotReady (HealthCheckFailed)".
func (s Status) String() string {
	ready := 0
	var bad []string
	for _, u := range s.Units {
		if u.Compliant() {
			ready++
			continue
		}
		bad = append(bad, fmt.Sprintf("%s %s (%s)", u.Name, u.Phase, u.Reason))
	}
	state := "compliant"
	if !s.Compliant() {
		state = "non-compliant"
	}
	line := fmt.Sprintf("%s: %d/%d units ready", state, ready, len(s.Units))
	if len(bad) > 0 {
		line += "; " + strings.Join(bad, ", ")
	}
	return line
}

// WriteTable writes the status as a table for terminals: unit, phase,
// revision, object counts, dependencies and the reason when not Ready. A
// unit a build declared is indented under the unit that declared it. When
// the status has sources, a second table follows: source, ready, revision,
// the unit that declared it, URL and the reason when not Ready.
func (s Status) WriteTable(w io.Writer) error {
	var buf strings.Builder
	tw := tabwriter.NewWriter(&buf, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "UNIT\tREADY\tREVISION\tOBJECTS\tCREATED\tCONFIGURED\tPRUNED\tDEPENDS ON\tMESSAGE")
	declaredBy := map[string]string{}
	for _, u := range s.Units {
		declaredBy[u.Name] = u.DeclaredBy
	}
	depth := func(name string) int {
		d := 0
		for p := declaredBy[name]; p != "" && d < len(s.Units); p = declaredBy[p] {
			d++
		}
		return d
	}
	for _, u := range s.Units {
		rev := u.LastAppliedRevision
		if rev == "" {
			rev = u.LastAttemptedRevision
		}
		msg := u.Message
		if u.Phase == PhaseReady {
			msg = ""
		}
		deps := strings.Join(u.DependsOn, ",")
		if deps == "" {
			deps = "-"
		}
		fmt.Fprintf(tw, "%s%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\n", strings.Repeat("  ", depth(u.Name)), u.Name, readyColumn(u), shortRevision(rev),
			u.Objects, u.Counts.Created, u.Counts.Configured, u.Counts.Deleted, deps, oneLine(msg))
	}
	if len(s.Sources) > 0 {
		fmt.Fprintln(tw)
		fmt.Fprintln(tw, "SOURCE\tREADY\tREVISION\tDECLARED BY\tURL\tMESSAGE")
		for _, src := range s.Sources {
			ready, msg := "True", ""
			if !src.Ready {
				ready, msg = "False", src.Message
			}
			declaredBy := src.DeclaredBy
			if declaredBy == "" {
				declaredBy = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", src.Name, ready, shortRevision(src.Revision), declaredBy, src.URL, oneLine(msg))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var out strings.Builder
	for _, line := range strings.SplitAfter(buf.String(), "\n") {
		out.WriteString(strings.TrimRight(line, " \n"))
		if strings.HasSuffix(line, "\n") {
			out.WriteString("\n")
		}
	}
	_, err := io.WriteString(w, out.String())
	return err
}

func readyColumn(u UnitStatus) string {
	if u.Phase == PhaseReady {
		return "True"
	}
	return fmt.Sprintf("%s (%s)", u.Phase, u.Reason)
}

// shortRevision abbreviates the commit of "ref@sha1:<hex>" to 12 digits.
func shortRevision(rev string) string {
	i := strings.LastIndex(rev, ":")
	if i < 0 || len(rev)-i-1 <= 12 {
		if rev == "" {
			return "-"
		}
		return rev
	}
	return rev[:i+13]
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}
