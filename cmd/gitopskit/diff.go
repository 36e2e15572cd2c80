package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gitopskit/gitopskit/reconcile"
	"github.com/gitopskit/gitopskit/source"
)

type diffFlags struct {
	config     configFlags
	offline    offlineFlags
	from, to   string
	sourceName string
	cluster    bool
}

func newDiffCommand(e *env, g *globalFlags) *cobra.Command {
	f := &diffFlags{}
	cmd := &cobra.Command{
		Use:   "diff [-f FILE | --url URL ...] --to REF [--from REF]",
		Short: "Show what changes between two references of a configuration, or one and a cluster",
		Long: `diff renders a configuration twice with no cluster, as render does, with one of its
sources at --from and then at --to, and prints per unit the objects added, removed and
changed (with the paths of the fields that differ), units added and removed, and the
charts of Helm units that change version: what a pull request would change. Secret
values never appear, only the paths of their fields.

The references apply to the source --source names (a source of the configuration, or
one a build declares), or to the configuration's only source. Without --from the source
is rendered at its own reference (the file's). ` + refSyntax + `

With --cluster, diff compares --to with what a cluster has, through plan: the
configuration's source is pinned to --to and planned against the cluster of the
kubeconfig (server-side dry runs, nothing changed), and the output is plan's.

Exit codes: 0 no change, 3 changes, 1 a unit could not be rendered (at either reference)
or planned, 2 a bad flag or an invalid configuration.`,
		Example: `  # What does the pull request at $SHA change on the prod cluster's overlay?
  gitopskit diff -f clusters/prod/flux-system/gotk-sync.yaml --from main --to $SHA

  # Between two tags, as JSON.
  gitopskit diff -f fleet.yaml --source fleet --from tag:v1.2.0 --to tag:v1.3.0 -o json

  # The pull request's head against what the production cluster runs now.
  gitopskit diff -f clusters/prod/flux-system/gotk-sync.yaml --to refs/pull/42/head --cluster --context prod`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.config.validate(cmd); err != nil {
				return err
			}
			var from, to *source.Ref
			for _, r := range []struct {
				flag, value string
				ref         **source.Ref
			}{{"from", f.from, &from}, {"to", f.to, &to}} {
				if !cmd.Flags().Changed(r.flag) {
					continue
				}
				ref, err := parseRef(r.value)
				if err != nil {
					return usagef("--%s: %w", r.flag, err)
				}
				*r.ref = &ref
			}
			if f.cluster {
				for _, flag := range []string{"from", "objects"} {
					if cmd.Flags().Changed(flag) {
						return usagef("--%s cannot be combined with --cluster: the cluster is the other side", flag)
					}
				}
				return runClusterDiff(cmd.Context(), e, g, f, to)
			}
			if to == nil {
				return usagef("--to is required (the reference to compare with --from, or with the source's own)")
			}
			return runDiff(cmd.Context(), e, g, f, from, to)
		},
	}
	fs := cmd.Flags()
	f.config.addFlags(fs)
	f.offline.addFlags(fs)
	fs.StringVar(&f.from, "from", "", "reference the diff starts from (default: the source's own)")
	fs.StringVar(&f.to, "to", "", "reference the diff goes to (required without --cluster)")
	fs.StringVar(&f.sourceName, "source", "", "the source --from and --to apply to (default: the configuration's only source)")
	fs.BoolVar(&f.cluster, "cluster", false, "compare --to with the cluster of the kubeconfig (plan) instead of with --from; with diff, --context chooses the cluster")
	return cmd
}

// diffSource names the source the references apply to: --source, or the
// configuration's only source.
func (f *diffFlags) diffSource(conf reconcile.Configuration) (string, error) {
	if f.sourceName != "" {
		return f.sourceName, nil
	}
	// Only a Git source has revisions to compare (an OCI artifact's tags
	// are not refs of a repository).
	var names []string
	for _, s := range conf.Sources {
		if !strings.HasPrefix(s.URL, "oci://") {
			names = append(names, s.Name)
		}
	}
	if len(names) != 1 {
		return "", usagef("the configuration has %d Git sources (%s): say which one with --source", len(names), strings.Join(names, ", "))
	}
	return names[0], nil
}

func runDiff(ctx context.Context, e *env, g *globalFlags, f *diffFlags, from, to *source.Ref) error {
	setup, err := f.offline.setup(f.config.namespace, e.stderr)
	if err != nil {
		return failure(err)
	}
	defer setup.cleanup()
	conf, err := f.config.load(ctx, e.stdin, setup.lookups)
	if err != nil {
		return failure(err)
	}
	name, err := f.diffSource(conf)
	if err != nil {
		return err
	}
	render := func(ref *source.Ref) (*reconcile.Rendering, error) {
		opts := reconcile.RenderOptions{Objects: setup.objects, SourceCache: setup.cache, OnEvent: f.offline.events(e)}
		if ref != nil {
			opts.Refs = map[string]source.Ref{name: *ref}
		}
		return reconcile.Render(ctx, conf, opts)
	}
	old, err := render(from)
	if err != nil {
		return failure(fmt.Errorf("render --from: %w", err))
	}
	niu, err := render(to)
	if err != nil {
		return failure(fmt.Errorf("render --to: %w", err))
	}
	fromName := "its own reference"
	for _, s := range conf.Sources {
		if s.Name == name {
			fromName = s.Ref.String()
		}
	}
	if from != nil {
		fromName = from.String()
	}
	v := newDiffView(name, fromName, to.String(), old, niu)
	// What the output does not say: gaps, and why units failed.
	for _, side := range []struct {
		name string
		r    *reconcile.Rendering
	}{{"--from", old}, {"--to", niu}} {
		for _, u := range side.r.Units {
			for _, gap := range u.Gaps {
				fmt.Fprintf(e.stderr, "gitopskit: %s: unit %s: gap: %s\n", side.name, u.Name, gap)
			}
			if u.Err != nil {
				fmt.Fprintf(e.stderr, "gitopskit: %s: unit %s: %v\n", side.name, u.Name, u.Err)
			}
		}
	}
	if g.output == "text" {
		err = writeDiffText(e.stdout, painter(e.colour(e.stdout)), v)
	} else {
		err = writeStructured(e.stdout, g.output, v)
	}
	if err != nil {
		return failure(err)
	}
	switch {
	case v.Failed > 0:
		return failure(fmt.Errorf("%d unit(s) could not be rendered (see above): the diff is incomplete", v.Failed))
	case v.Changes:
		return &exitErr{code: exitNotCompliant}
	}
	return nil
}

// runClusterDiff is plan with the source pinned to to (when given).
func runClusterDiff(ctx context.Context, e *env, g *globalFlags, f *diffFlags, to *source.Ref) error {
	kc, err := g.kube.clusterHandle()
	if err != nil {
		return failure(err)
	}
	conf, err := f.config.load(ctx, e.stdin, clusterData(kc.Kubernetes()))
	if err != nil {
		return failure(err)
	}
	if to != nil {
		name, err := f.diffSource(conf)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(conf.Sources, func(s reconcile.Source) bool { return s.Name == name })
		if i < 0 {
			return usagef("--source %q: not a source of the configuration (with --cluster, only the configuration's own sources can be pinned)", name)
		}
		conf.Sources[i].Ref = *to
	}
	setup, err := f.offline.setup(f.config.namespace, e.stderr)
	if err != nil {
		return failure(err)
	}
	defer setup.cleanup()
	return planAndReport(ctx, e, g, kc, conf, reconcile.Options{SourceCache: setup.cache, OnEvent: f.offline.events(e)})
}

// diffView is a diff in json and yaml output.
type diffView struct {
	// Changes says whether something changes (the exit code 3).
	Changes bool `json:"changes"`
	// Source is the source the references apply to; From and To describe
	// them.
	Source string `json:"source"`
	From   string `json:"from"`
	To     string `json:"to"`
	// Added, Changed and Removed count objects over every unit.
	Added   int `json:"added"`
	Changed int `json:"changed"`
	Removed int `json:"removed"`
	// Failed counts the units that could not be rendered, at From or at
	// To (exit code 1): the diff of such a unit is not what would change.
	Failed int            `json:"failed"`
	Units  []unitDiffView `json:"units"`
}

type unitDiffView struct {
	Name string `json:"name"`
	// Change is added, removed or changed; unknown for a unit that a unit
	// which could not be rendered at --to would declare, or not.
	Change string `json:"change"`
	// Chart says how a Helm unit's chart changes ("prometheus 25.8.0 ->
	// prometheus 25.9.0").
	Chart string `json:"chart,omitempty"`
	// Error is why the unit could not be rendered, at From or at To;
	// then no object changes are listed.
	Error   string           `json:"error,omitempty"`
	Added   []string         `json:"added,omitempty"`
	Changed []objectDiffView `json:"changed,omitempty"`
	Removed []string         `json:"removed,omitempty"`
}

type objectDiffView struct {
	Object string `json:"object"`
	// Paths are the fields that differ, such as "spec.replicas".
	Paths []string `json:"paths"`
}

// newDiffView is the diff of old and niu. A unit that could not be
// rendered on either side has its error instead of object changes, which
// would be those of a missing rendering; so does a unit that seems removed
// because the unit declaring it could not be rendered.
func newDiffView(src, from, to string, old, niu *reconcile.Rendering) diffView {
	failed := map[string]string{}
	for _, side := range []struct {
		name string
		r    *reconcile.Rendering
	}{{"--from", old}, {"--to", niu}} {
		for _, u := range side.r.Units {
			if u.Err != nil && failed[u.Name] == "" {
				failed[u.Name] = fmt.Sprintf("at %s: %v", side.name, u.Err)
			}
		}
	}
	d := reconcile.DiffRenderings(old, niu)
	v := diffView{Changes: !d.Empty(), Source: src, From: from, To: to, Failed: len(failed), Units: []unitDiffView{}}
	// brokenAncestor names the nearest unit above name, in the old
	// rendering's tree, that could not be rendered: what it would declare
	// is unknown, not removed.
	brokenAncestor := func(name string) string {
		for seen := map[string]bool{}; !seen[name]; {
			seen[name] = true
			u, ok := old.Unit(name)
			if !ok || u.DeclaredBy == "" {
				return ""
			}
			if name = u.DeclaredBy; failed[name] != "" {
				return name
			}
		}
		return ""
	}
	for _, u := range d.Units {
		uv := unitDiffView{Name: u.Name, Change: u.Change, Chart: u.Chart, Error: failed[u.Name]}
		if a := brokenAncestor(u.Name); u.Change == "removed" && a != "" {
			uv.Change, uv.Error = "unknown", fmt.Sprintf("declared by unit %s, which could not be rendered", a)
		}
		if uv.Error == "" {
			uv.Added, uv.Removed = u.Added, u.Removed
			for _, c := range u.Changed {
				uv.Changed = append(uv.Changed, objectDiffView{Object: c.Object, Paths: c.Paths})
			}
		}
		v.Added += len(uv.Added)
		v.Changed += len(uv.Changed)
		v.Removed += len(uv.Removed)
		v.Units = append(v.Units, uv)
	}
	return v
}

// writeDiffText writes the diff as [reconcile.RenderDiff.WriteText] does
// (coloured on a terminal), after a line naming the references and before
// a summary line.
func writeDiffText(w io.Writer, p painter, v diffView) error {
	var b strings.Builder
	fmt.Fprintf(&b, "diff of source %s: %s -> %s\n", v.Source, v.From, v.To)
	if !v.Changes {
		b.WriteString("no changes\n")
	}
	for _, u := range v.Units {
		fmt.Fprintf(&b, "%s (%s)\n", p.paint(bold, u.Name), u.Change)
		if u.Chart != "" {
			fmt.Fprintf(&b, "  chart %s\n", u.Chart)
		}
		if u.Error != "" {
			fmt.Fprintf(&b, "  %s %v\n", p.paint(red, "error:"), u.Error)
		}
		for _, k := range u.Added {
			fmt.Fprintf(&b, "  %s %s\n", p.paint(green, "+"), k)
		}
		for _, c := range u.Changed {
			fmt.Fprintf(&b, "  %s %s\n", p.paint(yellow, "~"), c.Object)
			for _, path := range c.Paths {
				fmt.Fprintf(&b, "      %s\n", path)
			}
		}
		for _, k := range u.Removed {
			fmt.Fprintf(&b, "  %s %s\n", p.paint(red, "-"), k)
		}
	}
	summary := "diff: no changes"
	if v.Changes {
		summary = fmt.Sprintf("diff: %d unit(s) differ; objects: %d added, %d changed, %d removed", len(v.Units), v.Added, v.Changed, v.Removed)
	}
	if v.Failed > 0 {
		summary += fmt.Sprintf("; %d unit(s) could not be rendered", v.Failed)
	}
	b.WriteString(summary + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}
