package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"sigs.k8s.io/yaml"

	"github.com/gitopskit/gitopskit/reconcile"
)

// ANSI colours, used only on a terminal (see env.colour).
const (
	red    = "\x1b[31m"
	green  = "\x1b[32m"
	yellow = "\x1b[33m"
	bold   = "\x1b[1m"
	reset  = "\x1b[0m"
)

// painter colours text when enabled.
type painter bool

func (p painter) paint(colour, s string) string {
	if !p || s == "" || colour == "" {
		return s
	}
	return colour + s + reset
}

// phaseColour is the colour of a unit's phase.
func phaseColour(p reconcile.Phase) string {
	switch p {
	case reconcile.PhaseReady:
		return green
	case reconcile.PhaseNotReady:
		return red
	}
	return yellow
}

// writeStructured writes v as indented JSON or as YAML.
func writeStructured(w io.Writer, format string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", format, err)
	}
	if format == "yaml" {
		if b, err = yaml.JSONToYAML(b); err != nil {
			return fmt.Errorf("encode yaml: %w", err)
		}
	} else {
		b = append(b, '\n')
	}
	_, err = w.Write(b)
	return err
}

// table writes rows in aligned columns, two spaces apart, with no trailing
// blanks. Colours are applied after padding so that they do not count.
type table struct {
	rows    [][]string
	colours [][]string // per cell, may be short
}

func (t *table) add(colours []string, cells ...string) {
	t.rows = append(t.rows, cells)
	t.colours = append(t.colours, colours)
}

func (t *table) write(w io.Writer, p painter) error {
	var widths []int
	for _, r := range t.rows {
		for i, c := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	var b strings.Builder
	for ri, r := range t.rows {
		var line strings.Builder
		for i, c := range r {
			pad := ""
			if i < len(r)-1 {
				pad = strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)+2)
			}
			colour := ""
			if i < len(t.colours[ri]) {
				colour = t.colours[ri][i]
			}
			line.WriteString(p.paint(colour, c) + pad)
		}
		b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// unitView is a unit's status in json and yaml output.
type unitView struct {
	Name                  string          `json:"name"`
	Phase                 reconcile.Phase `json:"phase"`
	Reason                string          `json:"reason,omitempty"`
	Message               string          `json:"message,omitempty"`
	DependsOn             []string        `json:"dependsOn,omitempty"`
	LastAppliedRevision   string          `json:"lastAppliedRevision,omitempty"`
	LastAttemptedRevision string          `json:"lastAttemptedRevision,omitempty"`
	LastReconciled        time.Time       `json:"lastReconciled,omitzero"`
	// What the last reconcile did; sync only (the record holds no counts).
	Objects *int        `json:"objects,omitempty"`
	Counts  *countsView `json:"counts,omitempty"`
}

// countsView is what the last reconcile did to a unit's objects.
type countsView struct {
	Created    int `json:"created"`
	Configured int `json:"configured"`
	Unchanged  int `json:"unchanged"`
	Pruned     int `json:"pruned"`
	Skipped    int `json:"skipped"`
}

// statusView is a configuration's status in json and yaml output.
type statusView struct {
	Configuration string                   `json:"configuration"`
	Namespace     string                   `json:"namespace"`
	Compliant     bool                     `json:"compliant"`
	Summary       string                   `json:"summary"`
	Units         []unitView               `json:"units"`
	Sources       []reconcile.SourceStatus `json:"sources,omitempty"`
}

func newStatusView(name, namespace string, s reconcile.Status, counts bool) statusView {
	v := statusView{Configuration: name, Namespace: namespace, Compliant: s.Compliant(), Summary: s.String(), Units: []unitView{}}
	for _, u := range s.Units {
		uv := unitView{Name: u.Name, Phase: u.Phase, Reason: u.Reason, Message: u.Message, DependsOn: u.DependsOn,
			LastAppliedRevision: u.LastAppliedRevision, LastAttemptedRevision: u.LastAttemptedRevision,
			LastReconciled: u.LastReconciled.UTC()}
		if counts {
			uv.Objects = &u.Objects
			uv.Counts = &countsView{Created: u.Counts.Created, Configured: u.Counts.Configured,
				Unchanged: u.Counts.Unchanged, Pruned: u.Counts.Deleted, Skipped: u.Counts.Skipped}
		}
		v.Units = append(v.Units, uv)
	}
	for _, src := range s.Sources {
		src.LastFetched = src.LastFetched.UTC()
		v.Sources = append(v.Sources, src)
	}
	return v
}

// writeStatus prints a configuration's status: a table and a summary line,
// or json/yaml. counts adds what the last reconcile did (sync); without it
// the table shows when each unit was last reconciled (status).
func writeStatus(w io.Writer, format string, p painter, now time.Time, name, namespace string, s reconcile.Status, counts bool) error {
	if format != "text" {
		return writeStructured(w, format, newStatusView(name, namespace, s, counts))
	}
	var t table
	if counts {
		t.add(nil, "UNIT", "READY", "REVISION", "OBJECTS", "CREATED", "CONFIGURED", "PRUNED", "DEPENDS ON", "MESSAGE")
	} else {
		t.add(nil, "UNIT", "READY", "REVISION", "LAST RECONCILED", "DEPENDS ON", "MESSAGE")
	}
	for _, u := range s.Units {
		rev := u.LastAppliedRevision
		if rev == "" {
			rev = u.LastAttemptedRevision
		}
		ready, msg := "True", ""
		if u.Phase != reconcile.PhaseReady {
			ready, msg = fmt.Sprintf("%s (%s)", u.Phase, u.Reason), oneLine(u.Message)
		}
		deps := strings.Join(u.DependsOn, ",")
		if deps == "" {
			deps = "-"
		}
		colours := []string{"", phaseColour(u.Phase)}
		if counts {
			t.add(colours, u.Name, ready, shortRevision(rev), fmt.Sprint(u.Objects), fmt.Sprint(u.Counts.Created),
				fmt.Sprint(u.Counts.Configured), fmt.Sprint(u.Counts.Deleted), deps, msg)
		} else {
			t.add(colours, u.Name, ready, shortRevision(rev), age(now, u.LastReconciled), deps, msg)
		}
	}
	if err := t.write(w, p); err != nil {
		return err
	}
	if len(s.Sources) > 0 {
		var st table
		st.add(nil, "SOURCE", "READY", "REVISION", "DECLARED BY", "LAST FETCHED", "URL", "MESSAGE")
		for _, src := range s.Sources {
			ready, colour, msg := "True", green, ""
			if !src.Ready {
				ready, colour, msg = "False", red, oneLine(src.Message)
			}
			declaredBy := src.DeclaredBy
			if declaredBy == "" {
				declaredBy = "-"
			}
			st.add([]string{"", colour}, src.Name, ready, shortRevision(src.Revision), declaredBy, age(now, src.LastFetched), src.URL, msg)
		}
		if _, err := fmt.Fprintln(w); err != nil {
			return err
		}
		if err := st.write(w, p); err != nil {
			return err
		}
	}
	summary := s.String()
	if s.Compliant() {
		summary = p.paint(green, summary)
	} else {
		summary = p.paint(red, summary)
	}
	_, err := fmt.Fprintf(w, "%s (configuration %s in namespace %s)\n", summary, name, namespace)
	return err
}

// age says how long ago t was, as kubectl's AGE column does.
func age(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t).Round(time.Second)
	switch {
	case d < 0:
		return "0s ago"
	case d < 2*time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < 2*time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

// shortRevision abbreviates the commit of "ref@sha1:<hex>" to 12 digits.
func shortRevision(rev string) string {
	if rev == "" {
		return "-"
	}
	i := strings.LastIndex(rev, ":")
	if i < 0 || len(rev)-i-1 <= 12 {
		return rev
	}
	return rev[:i+13]
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > 120 {
		s = string([]rune(s)[:117]) + "..."
	}
	return s
}

// events prints reconcile events one line each, as they come. Units run in
// parallel, so it locks.
type events struct {
	mu sync.Mutex
	w  io.Writer
	p  painter
}

func (l *events) handle(e reconcile.Event) {
	msg := e.Message
	colour := ""
	switch e.Type {
	case reconcile.EventObject:
		if e.Action == "unchanged" {
			return
		}
		msg = fmt.Sprintf("%s %s", e.Object, e.Action)
		if e.Err != nil {
			msg += ": " + e.Err.Error()
			colour = red
		}
	case reconcile.EventFailed:
		colour = red
	case reconcile.EventDone:
		if e.Status != nil {
			msg = fmt.Sprintf("%s (%s)", e.Status.Phase, e.Status.Reason)
			if e.Status.Phase != reconcile.PhaseReady {
				msg += ": " + e.Status.Message
			}
			colour = phaseColour(e.Status.Phase)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "%s %-12s %-7s %s\n", e.Time.Format("15:04:05"), e.Unit, e.Stage, l.p.paint(colour, msg))
}
