package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gitopskit/gitopskit/apply"
	"github.com/gitopskit/gitopskit/cluster"
	"github.com/gitopskit/gitopskit/reconcile"
)

func newPlanCommand(e *env, g *globalFlags) *cobra.Command {
	f := &configFlags{}
	cmd := &cobra.Command{
		Use:   "plan [-f FILE | --url URL ...]",
		Short: "Show what a sync would create, update and delete, changing nothing",
		Long: `plan runs the same pipeline as sync (fetch, build, admission, ownership and prune guards)
with server-side dry runs against the cluster, and prints per unit the objects that would be
created, updated (with the fields that differ) or deleted. Nothing is changed, not even
the configuration's records. Every unit is planned against the cluster as it is now, so
a unit whose dependency has not created a CRD or a namespace yet may fail to plan.

A Helm unit cannot be dry-run through an upgrade: it is reported as a change.

Exit codes: 0 nothing would change, 3 something would change, 1 a unit could not be
planned (the reason is printed with the unit).`,
		Example: `  # Before merging: what would this configuration change in the current context?
  gitopskit plan -f clusters/prod/flux-system/gotk-sync.yaml

  # In CI, against a named context, as JSON; exit 3 means changes.
  gitopskit plan -f fleet.yaml --context prod -o json > plan.json

  # One path of one repository, at a pull request's commit.
  gitopskit plan --url https://github.com/org/fleet.git --branch main --commit "$SHA" --path ./apps`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.validate(cmd); err != nil {
				return err
			}
			return runPlan(cmd.Context(), e, g, f)
		},
	}
	f.addFlags(cmd.Flags())
	return cmd
}

func runPlan(ctx context.Context, e *env, g *globalFlags, f *configFlags) error {
	kc, err := g.kube.clusterHandle()
	if err != nil {
		return failure(err)
	}
	conf, err := f.load(ctx, e.stdin, clusterData(kc.Kubernetes()))
	if err != nil {
		return failure(err)
	}
	return planAndReport(ctx, e, g, kc, conf, reconcile.Options{})
}

// planAndReport plans conf against the cluster kc and prints the plan;
// the error carries the exit code (3 when something would change).
func planAndReport(ctx context.Context, e *env, g *globalFlags, kc *cluster.Cluster, conf reconcile.Configuration, opts reconcile.Options) error {
	r, err := reconcile.New(kc, conf, opts)
	if err != nil {
		return failure(err)
	}
	defer r.Close()
	p, err := r.Plan(ctx)
	if err != nil {
		return failure(fmt.Errorf("plan: %w", err))
	}
	v := newPlanView(p)
	if g.output == "text" {
		err = writePlanText(e.stdout, painter(e.colour(e.stdout)), v)
	} else {
		err = writeStructured(e.stdout, g.output, v)
	}
	if err != nil {
		return failure(err)
	}
	switch {
	case v.Failed > 0:
		return failure(fmt.Errorf("%d of %d unit(s) could not be planned", v.Failed, len(v.Units)))
	case v.Changes:
		return &exitErr{code: exitNotCompliant}
	}
	return nil
}

// planView is a plan in json and yaml output.
type planView struct {
	// Changes says whether something would change (the exit code 3).
	Changes bool `json:"changes"`
	// Create, Update and Delete count objects over every unit.
	Create int `json:"create"`
	Update int `json:"update"`
	Delete int `json:"delete"`
	// Failed counts the units that could not be planned.
	Failed int            `json:"failed"`
	Units  []unitPlanView `json:"units"`
}

type unitPlanView struct {
	Name     string `json:"name"`
	Revision string `json:"revision,omitempty"`
	// Error says why the unit could not be planned.
	Error string `json:"error,omitempty"`
	// Helm says what would happen to a Helm unit's release.
	Helm    string       `json:"helm,omitempty"`
	Changes []changeView `json:"changes"`
}

type changeView struct {
	// Action is create, update or delete.
	Action string `json:"action"`
	// Object is "group/Kind/namespace/name" ("core" for the core group).
	Object string `json:"object"`
	// Drift lists the fields an update would change, Secret values masked.
	Drift []driftView `json:"drift,omitempty"`
}

type driftView struct {
	Path    string `json:"path"`
	Live    any    `json:"live"`
	Desired any    `json:"desired"`
}

func newPlanView(p reconcile.Plan) planView {
	v := planView{Units: []unitPlanView{}}
	for _, u := range p.Units {
		uv := unitPlanView{Name: u.Name, Revision: u.Revision, Helm: u.Helm, Changes: []changeView{}}
		switch {
		case u.Err != nil:
			uv.Error = u.Err.Error()
			v.Failed++
		case u.Helm != "":
			v.Changes = true
		}
		if u.Err == nil && u.Apply != nil {
			for _, c := range u.Apply.Changes {
				cv := changeView{Object: c.Object.String()}
				switch c.Action {
				case apply.Created:
					cv.Action = "create"
					v.Create++
				case apply.Configured:
					cv.Action = "update"
					v.Update++
				default:
					continue
				}
				for _, d := range c.Drift {
					cv.Drift = append(cv.Drift, driftView{Path: d.Path, Live: d.Live, Desired: d.Desired})
				}
				uv.Changes = append(uv.Changes, cv)
			}
		}
		if u.Err == nil && u.Prune != nil {
			for _, c := range u.Prune.Changes {
				if c.Action == apply.Deleted {
					uv.Changes = append(uv.Changes, changeView{Action: "delete", Object: c.Object.String()})
					v.Delete++
				}
			}
		}
		v.Units = append(v.Units, uv)
	}
	v.Changes = v.Changes || v.Create+v.Update+v.Delete > 0
	return v
}

// writePlanText writes the plan for people: per unit its changes, then a
// summary line.
func writePlanText(w io.Writer, p painter, v planView) error {
	var b strings.Builder
	verb := map[string]string{"create": green, "update": yellow, "delete": red}
	for _, u := range v.Units {
		rev := u.Revision
		if rev == "" {
			rev = "-"
		}
		fmt.Fprintf(&b, "%s @ %s\n", p.paint(bold, u.Name), rev)
		switch {
		case u.Error != "":
			fmt.Fprintf(&b, "  %s %s\n", p.paint(red, "error:"), u.Error)
			continue
		case u.Helm != "":
			fmt.Fprintf(&b, "  %s\n", p.paint(yellow, u.Helm))
		case len(u.Changes) == 0:
			b.WriteString("  no changes\n")
		}
		for _, c := range u.Changes {
			fmt.Fprintf(&b, "  %s %s\n", p.paint(verb[c.Action], c.Action), c.Object)
			for _, d := range c.Drift {
				fmt.Fprintf(&b, "      %s\n", oneLine(apply.FieldDiff{Path: d.Path, Live: d.Live, Desired: d.Desired}.String()))
			}
		}
	}
	summary := fmt.Sprintf("plan: %d to create, %d to update, %d to delete", v.Create, v.Update, v.Delete)
	if v.Failed > 0 {
		summary += fmt.Sprintf("; %d unit(s) could not be planned", v.Failed)
	}
	if !v.Changes && v.Failed == 0 {
		summary = "plan: no changes"
	}
	b.WriteString(summary + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}
