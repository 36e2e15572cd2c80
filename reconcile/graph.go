package reconcile

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"

	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/gitopskit/apply"
	"github.com/gitopskit/gitopskit/depgraph"
	"github.com/gitopskit/gitopskit/helmrelease"
)

// FluxObjectPolicy says what a reconcile does with the Flux objects
// (Kustomizations, HelmReleases and their sources) found in a unit's build.
type FluxObjectPolicy int

const (
	// ReconcileFluxObjects makes them units and sources of the
	// configuration, reconciled in process as Flux would (the default).
	ReconcileFluxObjects FluxObjectPolicy = iota
	// ApplyFluxObjects applies them as objects, for an installed Flux to
	// reconcile, and reconciles nothing of theirs: for clusters that run
	// both.
	ApplyFluxObjects
)

// DefaultMaxDepth bounds how deeply Flux objects found in builds may
// declare more Flux objects.
const DefaultMaxDepth = 10

// ErrTooDeep matches the error of a unit whose build declares Flux units
// deeper than [Options.MaxDepth].
var ErrTooDeep = errors.New("flux objects nested too deeply")

// The graph of units grows while a configuration runs: the Flux objects a
// unit's build declares become units (and sources) of the configuration,
// children of the unit (its "parent"). A child runs after its parent in a
// round, whether or not the parent succeeded (the child keeps its last
// declaration until the parent builds again). What a parent stops declaring
// is removed after the parent applied and pruned successfully, the way Flux
// garbage-collects a child Kustomization or HelmRelease: deleted when both
// prune, orphaned otherwise.

// unit returns the named unit's state, or nil.
func (r *Reconciler) unit(name string) *unitState {
	r.graphMu.RLock()
	defer r.graphMu.RUnlock()
	return r.units[name]
}

// unitOrder returns the names of all units in dependency order (a child
// after its parent).
func (r *Reconciler) unitOrder() []string {
	r.graphMu.RLock()
	defer r.graphMu.RUnlock()
	return slices.Clone(r.order)
}

// source returns the named source's state, or nil.
func (r *Reconciler) source(name string) *sourceState {
	r.graphMu.RLock()
	defer r.graphMu.RUnlock()
	return r.sources[name]
}

// childrenOf returns the units the unit's build declared.
func (r *Reconciler) childrenOf(parent string) []string {
	var dormant []string
	r.recMu.Lock()
	for name, ru := range r.dormant {
		if ru.Parent == parent {
			dormant = append(dormant, name)
		}
	}
	r.recMu.Unlock()
	var out []string
	r.graphMu.RLock()
	for name := range r.children[parent] {
		out = append(out, name)
	}
	for _, name := range dormant {
		if r.units[name] == nil {
			out = append(out, name)
		}
	}
	r.graphMu.RUnlock()
	slices.Sort(out)
	return out
}

// declared is what one build of a unit declares as Flux configuration,
// ready to be made part of the graph.
type declared struct {
	batch   *fluxBatch
	conf    Configuration
	gone    []string // child units no longer declared
	added   []string // child units new to the graph
	changed bool     // a child's or a source's declaration changed
}

// declare loads the Flux objects of a unit's build. It checks them (the
// loader's rules, tenancy, the depth bound, cycles) without changing the
// graph; [Reconciler.adopt] makes them part of it.
func (r *Reconciler) declare(ctx context.Context, st *unitState, u Unit, flux []*unstructured.Unstructured, restEmpty bool, mapper meta.RESTMapper, dryRun bool) (*declared, error) {
	if err := checkTenancy(u.Name, r.conf.Tenancy, flux, mapper); err != nil {
		return nil, err
	}
	before := r.childrenOf(u.Name)
	if len(flux) == 0 && len(before) == 0 {
		return nil, nil
	}
	r.fluxMu.Lock() // released by adopt or abandon
	b, conf, err := r.flux.fromObjects(ctx, u.Name, flux)
	if err != nil {
		r.fluxMu.Unlock()
		return nil, err
	}
	d := &declared{batch: b, conf: conf}
	fail := func(err error) (*declared, error) {
		r.fluxMu.Unlock()
		return nil, &ConfigError{Configuration: r.conf.Name, Err: fmt.Errorf("unit %s: %w", u.Name, err)}
	}
	if len(conf.Units) > 0 && st.depth+1 > r.opts.MaxDepth {
		return fail(fmt.Errorf("%w: its build declares %s at depth %d, deeper than %d", ErrTooDeep,
			conf.Units[0].FluxObject, st.depth+1, r.opts.MaxDepth))
	}
	now := map[string]bool{}
	r.graphMu.RLock()
	g := depgraph.New[string]()
	for name, other := range r.units {
		if other.parent != u.Name {
			g.Add(name, other.edges()...)
		}
	}
	for i := range conf.Units {
		c := &conf.Units[i]
		r.inherit(c, u)
		now[c.Name] = true
		switch prev := r.units[c.Name]; {
		case prev == nil:
			d.added = append(d.added, c.Name)
			d.changed = true
		case prev.parent != u.Name:
			r.graphMu.RUnlock()
			return fail(fmt.Errorf("it declares %s, which is also unit %s of the configuration", c.FluxObject, c.Name))
		case !reflect.DeepEqual(prev.spec, *c):
			d.changed = true
		}
		g.Add(c.Name, append([]string{u.Name}, c.DependsOn...)...)
	}
	for _, s := range conf.Sources {
		if prev := r.sources[s.Name]; prev == nil || !reflect.DeepEqual(prev.spec, s) {
			d.changed = true
		}
	}
	r.graphMu.RUnlock()
	for _, name := range g.Nodes() {
		for _, dep := range g.DependenciesOf(name) {
			if !g.Has(dep) {
				g.Add(dep) // not declared (yet): the unit waits for it
			}
		}
	}
	if _, err := g.Levels(); err != nil {
		return fail(err)
	}
	for _, name := range before {
		if !now[name] {
			d.gone = append(d.gone, name)
		}
	}
	if len(d.gone) > 0 && u.Prune && !dryRun {
		switch {
		case len(flux) == 0 && restEmpty && !u.AllowEmpty:
			r.fluxMu.Unlock()
			return nil, &apply.PruneRefusedError{Deletions: len(d.gone), Owned: len(before),
				Reason: "the build declares none of the unit's Flux units (set AllowEmpty to remove them all)"}
		case u.MaxPruneShare > 0 && float64(len(d.gone)) > u.MaxPruneShare*float64(len(before)):
			r.fluxMu.Unlock()
			return nil, &apply.PruneRefusedError{Deletions: len(d.gone), Owned: len(before),
				Reason: fmt.Sprintf("removing %d of its %d Flux units exceeds MaxPruneShare %.0f%%", len(d.gone), len(before), 100*u.MaxPruneShare)}
		}
	}
	return d, nil
}

// declare makes the Flux objects of a unit's build part of the graph and
// of the round (see [Reconciler.declare] and [Reconciler.adopt]), and
// returns the units the build no longer declares.
func (rd *round) declare(ctx context.Context, st *unitState, u Unit, flux []*unstructured.Unstructured, restEmpty bool, id *identity) ([]string, error) {
	r := rd.r
	var mapper meta.RESTMapper
	if id != nil {
		mapper = id.cluster.RESTMapper()
		if err := authorizeFlux(ctx, u.Name, id, flux); err != nil {
			return nil, err
		}
	}
	d, err := r.declare(ctx, st, u, flux, restEmpty, mapper, rd.dryRun)
	if err != nil || d == nil {
		return nil, err
	}
	for _, k := range d.batch.overridden {
		r.emit(Event{Type: EventProgress, Unit: u.Name, Stage: StageBuild,
			Message: fmt.Sprintf("its build declares %s differently from the configuration: the configuration's declaration is used", k)})
	}
	if d.changed {
		var names []string
		for _, c := range d.conf.Units {
			names = append(names, c.FluxObject)
		}
		for _, s := range d.conf.Sources {
			names = append(names, "source "+s.Name)
		}
		r.emit(Event{Type: EventProgress, Unit: u.Name, Stage: StageBuild,
			Message: fmt.Sprintf("its build declares %d Flux unit(s) and %d source(s): %s", len(d.conf.Units), len(d.conf.Sources), strings.Join(names, ", "))})
	}
	schedule, err := r.adopt(st, d)
	if err != nil {
		return nil, err
	}
	if d.changed && !rd.dryRun {
		// The record lists a unit a build declares before it first
		// applies, so that a new process knows it (and removes it with
		// its parent) even if this one dies before the round ends.
		if err := r.saveRecord(ctx); err != nil {
			return nil, err
		}
	}
	if rd.sched != nil {
		rd.sched.add(schedule...)
	}
	return d.gone, nil
}

// authorizeFlux asks the API server whether the unit's identity may
// create each Flux object its build declares, as Flux's controller would
// have to when it applies them: a unit acting as a service account may not
// declare, say, a Kustomization in another tenant's namespace naming that
// tenant's account. Gitopskit's own identity is not asked (the
// configuration's Tenancy bounds it). A denial is a [*PolicyError].
func authorizeFlux(ctx context.Context, unit string, id *identity, flux []*unstructured.Unstructured) error {
	if id.cluster.Identity() == "" || len(flux) == 0 {
		return nil
	}
	var bad []string
	for _, o := range flux {
		gvk := o.GroupVersionKind()
		review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
			ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: o.GetNamespace(), Verb: "create",
				Group: gvk.Group, Resource: plural(gvk.Kind), Name: o.GetName()}}}
		res, err := id.cluster.Kubernetes().AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("reconcile: unit %s: asking whether %s may create %s %s/%s: %w", unit, id.cluster.Identity(), gvk.Kind, o.GetNamespace(), o.GetName(), err)
		}
		if !res.Status.Allowed {
			bad = append(bad, fmt.Sprintf("%s/%s/%s/%s: %s may not create it (RBAC)", gvk.Group, gvk.Kind, o.GetNamespace(), o.GetName(), id.cluster.Identity()))
		}
	}
	if len(bad) > 0 {
		return &PolicyError{Unit: unit, Objects: bad}
	}
	return nil
}

// plural is the resource name of a Flux kind (GitRepository:
// gitrepositories, Kustomization: kustomizations).
func plural(kind string) string {
	k := strings.ToLower(kind)
	if strings.HasSuffix(k, "y") {
		return strings.TrimSuffix(k, "y") + "ies"
	}
	return k + "s"
}

// sourceURL is the named source's URL, for messages.
func (r *Reconciler) sourceURL(name string) string {
	if spec, ok := r.sourceSpec(name); ok {
		return spec.URL
	}
	return name
}

// sourceSpec returns the named source's spec, and whether there is one.
func (r *Reconciler) sourceSpec(name string) (Source, bool) {
	ss := r.source(name)
	if ss == nil {
		return Source{}, false
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.spec, true
}

// substitutions returns the unit's post-build variables: its SubstituteFrom
// objects, read now (as gitopskit's identity, in the namespace each names),
// overridden by Build.Substitute.
func (r *Reconciler) substitutions(ctx context.Context, u Unit) (map[string]string, error) {
	if len(u.SubstituteFrom) == 0 {
		return u.Build.Substitute, nil
	}
	vars := map[string]string{}
	for _, ref := range u.SubstituteFrom {
		ns := ref.Namespace
		if ns == "" {
			ns = r.conf.Namespace
		}
		data := map[string]string{}
		var err error
		switch ref.Kind {
		case "ConfigMap":
			data, err = r.readConfigMap(ctx, ns, ref.Name)
		case "Secret":
			var raw map[string][]byte
			if raw, err = r.readSecret(ctx, ns, ref.Name); err == nil {
				for k, v := range raw {
					data[k] = string(v)
				}
			}
		default:
			return nil, fmt.Errorf("reconcile: substituteFrom kind %q: want ConfigMap or Secret", ref.Kind)
		}
		if apierrors.IsNotFound(err) && ref.Optional {
			continue
		}
		if apierrors.IsNotFound(err) && r.offline != nil {
			if st := r.unit(u.Name); st != nil {
				r.offline.gap(st, "substituteFrom %s %s/%s: no earlier unit renders it and it was not supplied; its variables are not substituted", ref.Kind, ns, ref.Name)
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reconcile: substituteFrom %s %s/%s: %w", ref.Kind, ns, ref.Name, err)
		}
		for _, k := range slices.Sorted(maps.Keys(data)) {
			if !isVarName(k) {
				return nil, fmt.Errorf("reconcile: substituteFrom %s %s/%s: key %q is not a valid variable name (want %s)",
					ref.Kind, ns, ref.Name, k, varNamePattern)
			}
			vars[k] = strings.ReplaceAll(data[k], "\n", "")
		}
	}
	maps.Copy(vars, u.Build.Substitute)
	return vars, nil
}

// helmValues returns the values a Helm unit's release merges: those of
// [helmrelease.Release.ValuesFrom], then its [Unit.ValuesFrom] objects,
// read now (as gitopskit's identity, in the namespace each names), so
// that one an earlier unit of the round created counts. Offline, an object
// neither the render nor [RenderOptions.Objects] has is a gap, left out.
func (r *Reconciler) helmValues(ctx context.Context, u Unit) ([]helmrelease.ValuesFrom, error) {
	out := slices.Clone(u.Helm.ValuesFrom)
	for _, ref := range u.ValuesFrom {
		ns := ref.Namespace
		if ns == "" {
			ns = r.conf.Namespace
		}
		vf := helmrelease.ValuesFrom{Kind: ref.Kind, Name: ref.Name, ValuesKey: ref.ValuesKey, TargetPath: ref.TargetPath, Optional: ref.Optional}
		var err error
		switch ref.Kind {
		case "ConfigMap":
			var data map[string]string
			if data, err = r.readConfigMap(ctx, ns, ref.Name); err == nil {
				vf.Data = helmrelease.ConfigMapData(data)
				if vf.Data == nil {
					vf.Data = map[string][]byte{} // an empty ConfigMap exists
				}
			}
		case "Secret":
			if vf.Data, err = r.readSecret(ctx, ns, ref.Name); err == nil && vf.Data == nil {
				vf.Data = map[string][]byte{}
			}
		default:
			return nil, fmt.Errorf("reconcile: valuesFrom kind %q: want ConfigMap or Secret", ref.Kind)
		}
		switch {
		case apierrors.IsNotFound(err) && ref.Optional:
		case apierrors.IsNotFound(err) && r.offline != nil:
			if st := r.unit(u.Name); st != nil {
				r.offline.gap(st, "valuesFrom %s %s/%s: no earlier unit renders it and it was not supplied; its values are not merged", ref.Kind, ns, ref.Name)
			}
			continue
		case err != nil:
			return nil, fmt.Errorf("reconcile: valuesFrom %s %s/%s: %w", ref.Kind, ns, ref.Name, err)
		}
		out = append(out, vf)
	}
	return out, nil
}

// notReadyBelow says why the units the dependents of dep wait for besides
// dep (see waitedUnits) are not all Ready, recursively, or "" when they
// are; waiter is the dependent asking.
func (r *Reconciler) notReadyBelow(dep, waiter string) string {
	return r.notReadyBelowOf(dep, waiter, map[string]bool{dep: true, waiter: true})
}

func (r *Reconciler) notReadyBelowOf(name, waiter string, seen map[string]bool) string {
	for _, c := range r.waitedUnits(name, waiter) {
		if seen[c] {
			continue
		}
		seen[c] = true
		st := r.unit(c)
		if st == nil {
			return fmt.Sprintf("unit %s is not declared again yet", c)
		}
		if s := st.status(); s.Phase != PhaseReady {
			return fmt.Sprintf("unit %s is %s (%s)", c, s.Phase, s.Reason)
		}
		if why := r.notReadyBelowOf(c, waiter, seen); why != "" {
			return why
		}
	}
	return ""
}

// waitedUnits returns the units whose readiness the dependents of a unit
// wait for besides its own: all it declares when it waits (a Flux
// Kustomization that waits is Ready only with its HelmReleases), otherwise
// the units its HealthCheckRefs name (Flux's spec.healthChecks of a
// HelmRelease or Kustomization of the configuration). A unit that runs
// after waiter (through parents and dependencies) is left out: waiting
// for it would wait for waiter itself.
func (r *Reconciler) waitedUnits(name, waiter string) []string {
	st := r.unit(name)
	if st == nil {
		return nil
	}
	var units []string
	if spec := st.specOf(); spec.Wait {
		units = r.childrenOf(name)
	} else {
		_, units = r.healthChecks(spec.HealthCheckRefs)
	}
	return slices.DeleteFunc(units, func(u string) bool { return r.runsAfter(u, waiter) })
}

// healthChecks splits a unit's health checks into the objects it waits
// for after apply and the units of the configuration that its dependents
// wait for (the HelmReleases and Kustomizations that are units; one that
// is not is an object of the cluster, whose Ready condition is waited for
// as Flux does).
func (r *Reconciler) healthChecks(refs []ObjectRef) (objs []*unstructured.Unstructured, units []string) {
	if len(refs) == 0 {
		return nil, nil
	}
	byFluxObject := map[string]string{}
	r.graphMu.RLock()
	for n, u := range r.units {
		if k := u.specOf().FluxObject; k != "" {
			byFluxObject[k] = n
		}
	}
	r.graphMu.RUnlock()
	for _, ref := range refs {
		if k, ok := ref.fluxObject(); ok {
			if n, ok := byFluxObject[k]; ok {
				units = append(units, n)
				continue
			}
		}
		o := &unstructured.Unstructured{}
		o.SetAPIVersion(ref.APIVersion)
		o.SetKind(ref.Kind)
		o.SetNamespace(ref.Namespace)
		o.SetName(ref.Name)
		objs = append(objs, o)
	}
	slices.Sort(units)
	return objs, slices.Compact(units)
}

// runsAfter says whether unit a runs after unit b, through its parents
// and dependencies, transitively (a unit runs after itself).
func (r *Reconciler) runsAfter(a, b string) bool {
	if b == "" {
		return false
	}
	seen := map[string]bool{}
	var visit func(n string) bool
	visit = func(n string) bool {
		if n == b {
			return true
		}
		if seen[n] {
			return false
		}
		seen[n] = true
		st := r.unit(n)
		if st == nil {
			return false
		}
		return slices.ContainsFunc(st.edges(), visit)
	}
	return visit(a)
}

// edges are what a unit runs after: its parent and its dependencies.
func (st *unitState) edges() []string {
	deps := st.specOf().DependsOn
	if st.parent == "" {
		return deps
	}
	return append([]string{st.parent}, deps...)
}

// inherit gives a child the defaults a unit of the configuration gets, and
// its parent's identity when it names no service account: a child never
// acts with more rights than the unit that declared it.
func (r *Reconciler) inherit(c *Unit, parent Unit) {
	if c.ServiceAccountName == "" {
		if t := r.conf.Tenancy; t != nil && t.ServiceAccountName != "" {
			c.ServiceAccountName, c.ServiceAccountNamespace = t.ServiceAccountName, r.conf.Namespace
		} else {
			c.ServiceAccountName, c.ServiceAccountNamespace = parent.ServiceAccountName, parent.ServiceAccountNamespace
		}
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Interval <= 0 {
		c.Interval = DefaultInterval
	}
	if c.RetryInterval <= 0 {
		c.RetryInterval = c.Interval
	}
}

// adopt makes a declaration part of the graph: new sources and units are
// added, changed ones take their new spec (a running unit keeps the spec it
// started with), and the loader keeps the objects. It returns the units to
// schedule in this round.
func (r *Reconciler) adopt(parent *unitState, d *declared) ([]string, error) {
	defer r.fluxMu.Unlock()
	d.batch.commit()
	r.graphMu.Lock()
	defer r.graphMu.Unlock()
	for _, s := range d.conf.Sources {
		if ss := r.sources[s.Name]; ss != nil {
			ss.mu.Lock()
			if !reflect.DeepEqual(ss.spec, s) {
				ss.spec, ss.artifact = s, nil
			}
			ss.mu.Unlock()
			continue
		}
		r.sources[s.Name] = &sourceState{spec: s, declaredBy: parent.spec.Name}
	}
	var schedule []string
	for _, c := range d.conf.Units {
		schedule = append(schedule, c.Name)
		if st := r.units[c.Name]; st != nil {
			st.mu.Lock()
			st.spec = c
			st.state.DependsOn = c.DependsOn
			st.mu.Unlock()
			continue
		}
		store, err := r.newStore(c.Name)
		if err != nil {
			return nil, err
		}
		st := &unitState{spec: c, store: store, parent: parent.spec.Name, depth: parent.depth + 1}
		st.state = newUnitStatus(c, st.parent)
		r.units[c.Name] = st
		if r.children[st.parent] == nil {
			r.children[st.parent] = map[string]bool{}
		}
		r.children[st.parent][c.Name] = true
	}
	r.recMu.Lock()
	for _, c := range d.conf.Units {
		delete(r.dormant, c.Name)
	}
	r.recMu.Unlock()
	return schedule, r.reorder()
}

// reorder recomputes the dependency order of all units. Dependencies on
// units not in the graph are left out (such a unit is Pending until one
// declares it).
func (r *Reconciler) reorder() error {
	g := depgraph.New[string]()
	for name, st := range r.units {
		var deps []string
		for _, dep := range st.edges() {
			if r.units[dep] != nil {
				deps = append(deps, dep)
			}
		}
		g.Add(name, deps...)
	}
	levels, err := g.Levels()
	if err != nil {
		return err
	}
	r.order = r.order[:0]
	for _, level := range levels {
		r.order = append(r.order, level...)
	}
	return nil
}

// removeChildren removes the units a parent no longer declares, and their
// own children, deepest first: deleted when the parent prunes and the
// child's DeletionPolicy deletes, orphaned otherwise. A unit whose removal fails stays in the records
// and is retried at the next round.
func (r *Reconciler) removeChildren(ctx context.Context, parent Unit, gone []string) error {
	if len(gone) == 0 {
		return nil
	}
	removed := map[string]recordUnit{}
	var collect func(names []string, prune bool)
	collect = func(names []string, prune bool) {
		for _, name := range names {
			ru := r.recordOf(name)
			ru.Prune = ru.Prune && prune
			ru.WaitForTermination = ru.WaitForTermination && ru.Prune
			if !ru.Prune {
				ru.HelmRelease = "" // orphaned: the release stays
			}
			removed[name] = ru
			collect(r.childrenOf(name), ru.Prune)
		}
	}
	collect(gone, parent.Prune)
	r.graphMu.Lock()
	for name := range removed {
		if st := r.units[name]; st != nil {
			delete(r.children[st.parent], name)
		}
		delete(r.units, name)
	}
	err := r.reorder()
	r.graphMu.Unlock()
	r.recMu.Lock()
	for name, ru := range removed {
		delete(r.dormant, name)
		r.removed[name] = ru
	}
	r.recMu.Unlock()
	r.emit(Event{Type: EventProgress, Unit: parent.Name, Stage: StageRemove,
		Message: fmt.Sprintf("its build no longer declares %s: removing them", strings.Join(slices.Sorted(maps.Keys(removed)), ", "))})
	r.removeUnits(ctx)
	return err
}

// recordOf is what the records keep of a unit of the graph, or of a
// dormant one.
func (r *Reconciler) recordOf(name string) recordUnit {
	if st := r.unit(name); st != nil {
		return st.record()
	}
	r.recMu.Lock()
	defer r.recMu.Unlock()
	return r.dormant[name]
}

// fluxOptions are the options of the engine's loader for a configuration
// declared in Go: Secrets are read from the cluster (or, offline, from the
// render's objects), in the object's own namespace, as gitopskit's
// identity.
func (r *Reconciler) fluxOptions() FluxOptions {
	return FluxOptions{Name: r.conf.Name, Namespace: r.conf.Namespace,
		SecretData: r.readSecret}
}

// readConfigMap returns a ConfigMap's data: from the cluster, or offline
// from the objects given to Render and those rendered so far.
func (r *Reconciler) readConfigMap(ctx context.Context, namespace, name string) (map[string]string, error) {
	if r.offline != nil {
		return r.offline.configMap(namespace, name)
	}
	cm, err := r.cluster.Kubernetes().CoreV1().ConfigMaps(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return cm.Data, nil
}

// readSecret is readConfigMap for Secrets.
func (r *Reconciler) readSecret(ctx context.Context, namespace, name string) (map[string][]byte, error) {
	if r.offline != nil {
		return r.offline.secret(namespace, name)
	}
	s, err := r.cluster.Kubernetes().CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return s.Data, nil
}

// scheduler runs units of a round, each after its parent and its
// dependencies (those in the round), on a bounded number of workers. Units
// may be added while it runs: the children a build declares.
type scheduler struct {
	ctx     context.Context // the round's: units added by a unit outlive its own
	r       *Reconciler
	do      func(ctx context.Context, st *unitState)
	workers chan struct{}
	mu      sync.Mutex
	done    map[string]chan struct{}
	ran     []string
	wg      sync.WaitGroup
}

func (s *scheduler) add(names ...string) {
	s.mu.Lock()
	var start []string
	for _, n := range names {
		if _, ok := s.done[n]; !ok {
			s.done[n] = make(chan struct{})
			s.ran = append(s.ran, n)
			start = append(start, n)
		}
	}
	s.mu.Unlock()
	for _, n := range start {
		s.wg.Go(func() { s.run(s.ctx, n) })
	}
}

// wait waits for the named unit, when it is in the round; false when ctx
// ended first.
func (s *scheduler) wait(ctx context.Context, name string) bool {
	s.mu.Lock()
	c, ok := s.done[name]
	s.mu.Unlock()
	if !ok {
		return true
	}
	select {
	case <-c:
		return true
	case <-ctx.Done():
		return false
	}
}

// waitTree waits, for unit waiter, for its dependency dep and for the
// units the dependents of dep wait for besides it (waitedUnits),
// recursively.
func (s *scheduler) waitTree(ctx context.Context, dep, waiter string) bool {
	return s.waitTreeOf(ctx, dep, waiter, map[string]bool{waiter: true})
}

func (s *scheduler) waitTreeOf(ctx context.Context, name, waiter string, seen map[string]bool) bool {
	if seen[name] {
		return true
	}
	seen[name] = true
	if !s.wait(ctx, name) {
		return false
	}
	for _, c := range s.r.waitedUnits(name, waiter) {
		if !s.waitTreeOf(ctx, c, waiter, seen) {
			return false
		}
	}
	return true
}

func (s *scheduler) run(ctx context.Context, name string) {
	s.mu.Lock()
	ch := s.done[name]
	s.mu.Unlock()
	defer close(ch)
	st := s.r.unit(name)
	if st == nil {
		return // removed meanwhile
	}
	for _, dep := range st.edges() {
		if dep == st.parent {
			if !s.wait(ctx, dep) {
				return
			}
			continue
		}
		// A dependency that waits is Ready only with what it declares (a
		// Kustomization that waits for its HelmReleases, in Flux), one
		// that health-checks HelmReleases or Kustomizations only with
		// them: wait for those in the round too.
		if !s.waitTree(ctx, dep, name) {
			return
		}
	}
	select {
	case s.workers <- struct{}{}:
	case <-ctx.Done():
		return
	}
	release := sync.OnceFunc(func() { <-s.workers })
	defer release()
	if st = s.r.unit(name); st != nil {
		s.do(context.WithValue(ctx, workerKey{}, release), st)
	}
}

// workerKey is the context key of the function that gives up a unit's
// worker (see releaseWorker).
type workerKey struct{}

// releaseWorker gives up the worker the unit of ctx holds, for the rest of
// its reconcile: for its wait, which costs the API server nothing (shared
// watches), so that other units build and apply meanwhile.
func releaseWorker(ctx context.Context) {
	if release, ok := ctx.Value(workerKey{}).(func()); ok {
		release()
	}
}
