package fleet

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gitopskit/gitopskit/reconcile"
)

// State is a configuration's compliance state on a member.
type State string

const (
	// StateCompliant: every unit is Ready.
	StateCompliant State = "Compliant"
	// StateNonCompliant: the run completed and some unit is not Ready.
	StateNonCompliant State = "NonCompliant"
	// StateUnreachable: the member's API server did not answer the probe.
	StateUnreachable State = "Unreachable"
	// StateFailed: the member's run was stopped (its context ended).
	StateFailed State = "Failed"
)

// Report is the roll-up of a fleet run: one row per member and
// configuration.
type Report struct {
	Rows []Row
}

// Row is one configuration on one member.
type Row struct {
	Member        string
	Labels        map[string]string
	Configuration string
	State         State
	// Ready of Units are Ready.
	Ready, Units int
	// Reason says why the row is not Compliant: the probe's error or the
	// first unit that is not Ready.
	Reason   string
	Err      error
	Duration time.Duration
	// Status is the configuration's full status on the member (empty when
	// Unreachable).
	Status reconcile.Status
}

// Compliant reports whether every row is Compliant.
func (r Report) Compliant() bool {
	for _, row := range r.Rows {
		if row.State != StateCompliant {
			return false
		}
	}
	return len(r.Rows) > 0
}

// Row returns the row of a member and configuration.
func (r Report) Row(member, configuration string) (Row, bool) {
	for _, row := range r.Rows {
		if row.Member == member && row.Configuration == configuration {
			return row, true
		}
	}
	return Row{}, false
}

// Summary counts rows by group.
type Summary struct {
	// By are the grouping keys: "complianceState", "configuration",
	// "member", or a member label.
	By     []string
	Groups []Group
}

// Group is one group of a [Summary]: the values of the keys, in the order
// of Summary.By, and the number of rows.
type Group struct {
	Values []string
	Count  int
}

// Summarize counts the rows by the given keys, as "summarize count() by
// complianceState, clusterType" does: "complianceState" is the row's
// State, "configuration" and "member" its names, any other key the
// member's label of that name ("" when it has none). Groups are sorted by
// their values.
func (r Report) Summarize(by ...string) Summary {
	counts := map[string]*Group{}
	for _, row := range r.Rows {
		var vals []string
		for _, k := range by {
			switch k {
			case "complianceState":
				vals = append(vals, string(row.State))
			case "configuration":
				vals = append(vals, row.Configuration)
			case "member":
				vals = append(vals, row.Member)
			default:
				vals = append(vals, row.Labels[k])
			}
		}
		key := strings.Join(vals, "\x00")
		if counts[key] == nil {
			counts[key] = &Group{Values: vals}
		}
		counts[key].Count++
	}
	s := Summary{By: by}
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		s.Groups = append(s.Groups, *counts[k])
	}
	return s
}

// WriteTable writes the summary as a table: the keys, then count_.
func (s Summary) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(append(slices.Clone(s.By), "count_"), "\t"))
	for _, g := range s.Groups {
		fmt.Fprintf(tw, "%s\t%d\n", strings.Join(g.Values, "\t"), g.Count)
	}
	return tw.Flush()
}

// WriteTable writes one line per member and configuration.
func (r Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MEMBER\tCONFIGURATION\tSTATE\tREADY\tREASON")
	for _, row := range r.Rows {
		reason := row.Reason
		if row.State == StateCompliant {
			reason = ""
		}
		if len(reason) > 100 {
			reason = reason[:97] + "..."
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%s\n", row.Member, row.Configuration, row.State, row.Ready, row.Units,
			strings.ReplaceAll(reason, "\n", " "))
	}
	return tw.Flush()
}
