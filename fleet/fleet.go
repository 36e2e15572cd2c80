package fleet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/gitopskit/gitopskit/cluster"
	"github.com/gitopskit/gitopskit/reconcile"
	"github.com/gitopskit/gitopskit/source"
)

// Member is one cluster of the fleet.
type Member struct {
	// Name identifies the cluster in reports; unique in the fleet.
	Name string
	// Labels group members in [Report.Summarize] ("clusterType": "prod").
	Labels map[string]string
	// Cluster is the handle the member's reconcilers act through.
	Cluster *cluster.Cluster
}

// Options configure a [Fleet].
type Options struct {
	// Concurrency bounds the members reconciled at the same time.
	// Default 4.
	Concurrency int
	// ProbeTimeout bounds the health probe of a member's API server before
	// it is reconciled. Default 10s.
	ProbeTimeout time.Duration
	// MemberTimeout bounds one member's run (all its configurations).
	// Default: none beyond each unit's own timeout.
	MemberTimeout time.Duration
	// Reconcile are the options of every member's reconcilers. OnEvent,
	// when set, receives every member's events; use [Options.OnEvent] to
	// know which member an event is from. Default SourceCache: one cache
	// for the whole fleet, removed by [Fleet.Close].
	Reconcile reconcile.Options
	// OnEvent receives each member's events with the member's name.
	OnEvent func(member string, e reconcile.Event)
}

// ErrInvalidFleet matches the errors of [New] about its arguments.
var ErrInvalidFleet = errors.New("invalid fleet")

// Fleet reconciles configurations onto its members. Its methods are safe
// for concurrent use (a unit is never reconciled twice at the same time).
type Fleet struct {
	opts    Options
	members []*member
	tmpDir  string
}

type member struct {
	spec        Member
	reconcilers []*reconcile.Reconciler // one per configuration, in order
	confs       []reconcile.Configuration
}

// New checks the members and configurations and returns a Fleet. Nothing
// is contacted until [Fleet.Run].
func New(members []Member, confs []reconcile.Configuration, opts Options) (*Fleet, error) {
	if len(members) == 0 || len(confs) == 0 {
		return nil, fmt.Errorf("fleet: %w: at least one member and one configuration are needed", ErrInvalidFleet)
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 4
	}
	if opts.ProbeTimeout <= 0 {
		opts.ProbeTimeout = 10 * time.Second
	}
	f := &Fleet{opts: opts}
	ok := false
	defer func() {
		if !ok {
			_ = f.Close()
		}
	}()
	if opts.Reconcile.SourceCache == nil {
		dir, err := os.MkdirTemp("", "gitopskit-fleet-sources-")
		if err != nil {
			return nil, fmt.Errorf("fleet: %w", err)
		}
		f.tmpDir = dir
		if f.opts.Reconcile.SourceCache, err = source.NewCache(dir); err != nil {
			return nil, fmt.Errorf("fleet: %w", err)
		}
	}
	seen := map[string]bool{}
	for _, m := range members {
		switch {
		case m.Name == "":
			return nil, fmt.Errorf("fleet: %w: a member has no name", ErrInvalidFleet)
		case seen[m.Name]:
			return nil, fmt.Errorf("fleet: %w: member %q twice", ErrInvalidFleet, m.Name)
		case m.Cluster == nil:
			return nil, fmt.Errorf("fleet: %w: member %q has no cluster", ErrInvalidFleet, m.Name)
		}
		seen[m.Name] = true
		ms := &member{spec: m, confs: confs}
		ropts := f.opts.Reconcile
		if f.opts.OnEvent != nil {
			name, next := m.Name, ropts.OnEvent
			ropts.OnEvent = func(e reconcile.Event) {
				f.opts.OnEvent(name, e)
				if next != nil {
					next(e)
				}
			}
		}
		for _, conf := range confs {
			r, err := reconcile.New(m.Cluster, conf, ropts)
			if err != nil {
				return nil, fmt.Errorf("fleet: member %s: %w", m.Name, err)
			}
			ms.reconcilers = append(ms.reconcilers, r)
		}
		f.members = append(f.members, ms)
	}
	ok = true
	return f, nil
}

// Close removes the reconcilers' temporary caches and the fleet's source
// cache.
func (f *Fleet) Close() error {
	var errs []error
	for _, m := range f.members {
		for _, r := range m.reconcilers {
			errs = append(errs, r.Close())
		}
	}
	if f.tmpDir != "" {
		errs = append(errs, os.RemoveAll(f.tmpDir))
	}
	return errors.Join(errs...)
}

// Run reconciles every configuration on every member once and returns the
// roll-up, members in the order given to New. A member that fails is a
// row of the report, not an error; the error is non-nil only when ctx
// ended.
func (f *Fleet) Run(ctx context.Context) (Report, error) {
	rows := make([][]Row, len(f.members))
	g := new(errgroup.Group)
	g.SetLimit(f.opts.Concurrency)
	for i, m := range f.members {
		g.Go(func() error {
			rows[i] = f.runMember(ctx, m)
			return nil
		})
	}
	_ = g.Wait()
	var rep Report
	for _, rs := range rows {
		rep.Rows = append(rep.Rows, rs...)
	}
	return rep, ctx.Err()
}

// runMember probes the member's API server, then reconciles its
// configurations one after the other.
func (f *Fleet) runMember(ctx context.Context, m *member) []Row {
	row := func(conf reconcile.Configuration) Row {
		return Row{Member: m.spec.Name, Labels: m.spec.Labels, Configuration: conf.Name}
	}
	var rows []Row
	if err := f.probe(ctx, m.spec.Cluster); err != nil {
		for _, conf := range m.confs {
			r := row(conf)
			r.State, r.Reason, r.Err = StateUnreachable, "API server unreachable: "+err.Error(), err
			rows = append(rows, r)
		}
		return rows
	}
	if f.opts.MemberTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.opts.MemberTimeout)
		defer cancel()
	}
	for i, rec := range m.reconcilers {
		r := row(m.confs[i])
		start := time.Now()
		s, err := rec.Run(ctx)
		r.Duration = time.Since(start)
		r.Status = s
		for _, u := range s.Units {
			r.Units++
			if u.Compliant() {
				r.Ready++
			} else if r.Reason == "" {
				r.Reason = fmt.Sprintf("unit %s %s (%s): %s", u.Name, u.Phase, u.Reason, u.Message)
			}
		}
		switch {
		case err != nil:
			r.State, r.Err = StateFailed, err
			r.Reason = "run stopped: " + err.Error()
		case s.Compliant():
			r.State = StateCompliant
		default:
			r.State = StateNonCompliant
		}
		rows = append(rows, r)
	}
	return rows
}

// probe asks the API server's /readyz, within ProbeTimeout.
func (f *Fleet) probe(ctx context.Context, c *cluster.Cluster) error {
	ctx, cancel := context.WithTimeout(ctx, f.opts.ProbeTimeout)
	defer cancel()
	return c.Kubernetes().Discovery().RESTClient().Get().AbsPath("/readyz").Do(ctx).Error()
}
