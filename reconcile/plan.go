package reconcile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/gitopskit/gitopskit/apply"
)

// Plan is what a reconcile would do, unit by unit, in dependency order.
type Plan struct {
	Units []UnitPlan
}

// UnitPlan is what reconciling one unit would do.
type UnitPlan struct {
	Name     string
	Revision string
	// Apply is the dry-run change set: created, configured (with the drift
	// that would be corrected) and unchanged objects.
	Apply *apply.ChangeSet
	// Prune lists the objects that would be deleted; nil when the unit does
	// not prune.
	Prune *apply.ChangeSet
	// Err says why the unit could not be planned (fetch, build, policy, or
	// a dry run the API server refused, for example because a dependency
	// has not created a CRD yet).
	Err error
}

// Plan computes what [Reconciler.Run] would do for every unit, with
// server-side dry runs, without changing the cluster. Dependencies are not
// gated: every unit is planned against the cluster as it is now.
func (r *Reconciler) Plan(ctx context.Context) (Plan, error) {
	var p Plan
	for _, level := range r.levels {
		for _, name := range level {
			p.Units = append(p.Units, r.planUnit(ctx, r.units[name]))
			if err := ctx.Err(); err != nil {
				return p, err
			}
		}
	}
	return p, nil
}

func (r *Reconciler) planUnit(ctx context.Context, st *unitState) (up UnitPlan) {
	st.run.Lock()
	defer st.run.Unlock()
	u := st.spec
	up.Name = u.Name
	if u.Helm != nil {
		up.Err = errors.New("planning Helm units is not supported: Helm has no server-side dry run of an upgrade")
		return up
	}
	art, err := r.fetch(ctx, u.Source)
	if err != nil {
		up.Err = err
		return up
	}
	up.Revision = art.Revision
	objs, err := r.build(ctx, u, art)
	if err != nil {
		up.Err = err
		return up
	}
	if err := checkTenancy(u.Name, r.conf.Tenancy, objs, r.mapper.RESTMapper()); err != nil {
		up.Err = err
		return up
	}
	manager, _, err := r.clientsFor(u)
	if err != nil {
		up.Err = err
		return up
	}
	if up.Apply, err = manager.Apply(ctx, objs, apply.ApplyOptions{
		Inventory: st.store, Policy: u.Policy, Force: u.Force, TakeOverConflicts: true,
		Ignore: u.Ignore, Concurrency: r.opts.Concurrency, DryRun: true,
	}); err != nil {
		up.Err = err
		return up
	}
	if u.Prune {
		up.Prune, up.Err = manager.Prune(ctx, up.Apply, apply.PruneOptions{Concurrency: r.opts.Concurrency})
	}
	return up
}

// WriteText writes the plan for humans: per unit the objects that would be
// created, changed (with their drift) or deleted.
func (p Plan) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, u := range p.Units {
		fmt.Fprintf(&b, "%s @ %s\n", u.Name, u.Revision)
		if u.Err != nil {
			fmt.Fprintf(&b, "  error: %v\n", u.Err)
			continue
		}
		changes := 0
		for _, c := range u.Apply.Changes {
			switch c.Action {
			case apply.Created, apply.Configured:
				changes++
				fmt.Fprintf(&b, "  %s %s\n", planVerb(c.Action), c.Object)
				for _, d := range c.Drift {
					fmt.Fprintf(&b, "      %s\n", d)
				}
			}
		}
		if u.Prune != nil {
			for _, c := range u.Prune.Changes {
				if c.Action == apply.Deleted {
					changes++
					fmt.Fprintf(&b, "  delete %s\n", c.Object)
				}
			}
		}
		if changes == 0 {
			b.WriteString("  no changes\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func planVerb(a apply.Action) string {
	if a == apply.Created {
		return "create"
	}
	return "update"
}
