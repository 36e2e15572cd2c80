package faults_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"

	"github.com/gitopskit/gitopskit/cluster"
	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/gitopstest/localcluster"
	"github.com/gitopskit/gitopskit/inventory"
	"github.com/gitopskit/gitopskit/reconcile"
)

// recordsNamespace holds the configurations' records and the units'
// inventories.
const recordsNamespace = "faults-system"

// runTimeout bounds every reconcile a test makes: a fault must never hang it.
const runTimeout = 3 * time.Minute

// env is one case's world: a Git server with one repository, a configuration
// reconciling it, the objects "someone else" made before the case, and the
// events the case's reconcilers emitted.
type env struct {
	t      *testing.T
	c      *localcluster.Cluster
	kube   kubernetes.Interface
	meta   metadata.Interface
	access *cluster.Cluster // see admin
	git    *gitserver.Server
	repo   *gitserver.Repo
	conf   reconcile.Configuration
	events *eventLog

	sentinels []sentinel
	// foreign are objects carrying a unit's ownership labels that the unit
	// did not make: they are exempt from invariant 1 (they cannot be in the
	// inventory) and are sentinels (they must survive untouched).
	foreign map[inventory.ID]bool
}

// newEnv serves files from a new Git repository and returns a configuration
// named name (which must be unique in the cluster: it names the records and
// inventories) reconciling units from it.
func newEnv(t *testing.T, c *localcluster.Cluster, name string, files map[string]string, units ...reconcile.Unit) *env {
	t.Helper()
	e := &env{
		t: t, c: c, events: &eventLog{}, foreign: map[inventory.ID]bool{},
		kube: kubernetes.NewForConfigOrDie(c.Config),
		meta: metadata.NewForConfigOrDie(quiet(c.Config)),
	}
	e.git = gitopstest.StartGitServer(t, gitserver.Options{})
	e.repo = gitopstest.NewGitRepo(t, e.git, name)
	gitopstest.GitCommit(t, e.repo, gitserver.CommitOptions{Files: files, Message: "first"})
	e.conf = reconcile.Configuration{
		Name:      name,
		Namespace: recordsNamespace,
		Sources:   []reconcile.Source{{Name: "repo", URL: e.repo.HTTPURL()}},
		Units:     units,
	}
	e.ensureNamespace(recordsNamespace)
	return e
}

// commit commits to the repository's main branch and returns the commit ID.
func (e *env) commit(opts gitserver.CommitOptions) string {
	e.t.Helper()
	return gitopstest.GitCommit(e.t, e.repo, opts)
}

// reconciler returns a Reconciler of the env's configuration that applies
// with cfg (the cluster's admin config when nil) and reports its events to
// the env's log as well as to opts.OnEvent.
func (e *env) reconciler(cfg *rest.Config, opts reconcile.Options) *reconcile.Reconciler {
	e.t.Helper()
	if cfg == nil {
		cfg = e.c.Config
	}
	user := opts.OnEvent
	opts.OnEvent = func(ev reconcile.Event) {
		e.events.add(ev)
		if user != nil {
			user(ev)
		}
	}
	kube, err := cluster.New(cfg, cluster.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	r, err := reconcile.New(kube, e.conf, opts)
	if err != nil {
		e.t.Fatalf("reconcile.New: %v", err)
	}
	e.t.Cleanup(func() { _ = r.Close() })
	return r
}

// run reconciles once, failing the test if Run does not return within
// runTimeout.
func (e *env) run(r *reconcile.Reconciler) reconcile.Status {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.t.Context(), runTimeout)
	defer cancel()
	s, err := r.Run(ctx)
	if err != nil {
		e.t.Fatalf("Run: %v (status %s)", err, s)
	}
	logStatus(e.t, s)
	return s
}

func logStatus(t *testing.T, s reconcile.Status) {
	t.Helper()
	var b strings.Builder
	_ = s.WriteTable(&b)
	t.Logf("%s\n%s", s, b.String())
	for _, u := range s.Units {
		if u.Phase != reconcile.PhaseReady {
			t.Logf("unit %s: %s (%s): %s", u.Name, u.Phase, u.Reason, u.Message)
		}
	}
}

// unitStatus returns the named unit's status.
func unitStatus(t *testing.T, s reconcile.Status, name string) reconcile.UnitStatus {
	t.Helper()
	u, ok := s.Unit(name)
	if !ok {
		t.Fatalf("no unit %s in %s", name, s)
	}
	return u
}

func (e *env) ensureNamespace(name string) {
	e.t.Helper()
	_, err := e.kube.CoreV1().Namespaces().Create(e.t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		e.t.Fatalf("create namespace %s: %v", name, err)
	}
}

// ---- Invariant 2: sentinels ----

// sentinel is an object someone other than the unit made before the case.
type sentinel struct {
	gvr             schema.GroupVersionResource
	namespace, name string
	uid             types.UID
	resourceVersion string
}

func (s sentinel) String() string {
	return fmt.Sprintf("%s %s/%s", s.gvr.Resource, s.namespace, s.name)
}

var (
	configMapsGVR   = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	secretsGVR      = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	clusterRolesGVR = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles"}
)

// plantSentinels makes, as someone else, objects the units must never touch:
// in each namespace (created when missing) a plain ConfigMap, a ConfigMap
// labelled as another unit's and a Secret; a ConfigMap next to the
// inventories; and a cluster-scoped ClusterRole.
func (e *env) plantSentinels(namespaces ...string) {
	e.t.Helper()
	ctx := e.t.Context()
	name := "sentinel-" + e.conf.Name
	other, err := inventory.NewOwner("someone-else", recordsNamespace, inventory.ParentSecret)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, ns := range append(slices.Clone(namespaces), recordsNamespace) {
		e.ensureNamespace(ns)
		cm, err := e.kube.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": e.conf.Name}},
			Data:       map[string]string{"owner": "someone else"},
		}, metav1.CreateOptions{FieldManager: "someone-else"})
		e.addSentinel(configMapsGVR, cm.ObjectMeta, err)
		if ns == recordsNamespace {
			continue
		}
		cm, err = e.kube.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: name + "-other-unit", Labels: other.Labels()},
			Data:       map[string]string{"owner": "another unit"},
		}, metav1.CreateOptions{FieldManager: "someone-else"})
		e.addSentinel(configMapsGVR, cm.ObjectMeta, err)
		sec, err := e.kube.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			StringData: map[string]string{"password": "hunter2"},
		}, metav1.CreateOptions{FieldManager: "someone-else"})
		e.addSentinel(secretsGVR, sec.ObjectMeta, err)
	}
	cr, err := e.kube.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get"}}},
	}, metav1.CreateOptions{FieldManager: "someone-else"})
	e.addSentinel(clusterRolesGVR, cr.ObjectMeta, err)
}

// plantForeign makes, as someone else, a ConfigMap carrying the ownership
// labels of the unit (copied, as operators copying labels do) although the
// unit never applied it.
func (e *env) plantForeign(unit, namespace, name string) {
	e.t.Helper()
	owner := e.owner(unit)
	e.ensureNamespace(namespace)
	cm, err := e.kube.CoreV1().ConfigMaps(namespace).Create(e.t.Context(), &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: owner.Labels()},
		Data:       map[string]string{"owner": "someone else, with copied labels"},
	}, metav1.CreateOptions{FieldManager: "label-copier"})
	e.addSentinel(configMapsGVR, cm.ObjectMeta, err)
	e.foreign[inventory.ID{Kind: "ConfigMap", Namespace: namespace, Name: name}] = true
}

func (e *env) addSentinel(gvr schema.GroupVersionResource, m metav1.ObjectMeta, err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatalf("plant %s: %v", gvr.Resource, err)
	}
	e.sentinels = append(e.sentinels, sentinel{gvr: gvr, namespace: m.Namespace, name: m.Name, uid: m.UID, resourceVersion: m.ResourceVersion})
}

// checkSentinels is invariant 2: every sentinel still exists, is the same
// object (UID), unchanged (resourceVersion) and not being deleted.
func (e *env) checkSentinels() int {
	e.t.Helper()
	for _, s := range e.sentinels {
		live, err := e.meta.Resource(s.gvr).Namespace(s.namespace).Get(e.t.Context(), s.name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			e.t.Errorf("INVARIANT 2: sentinel %s was deleted", s)
		case err != nil:
			e.t.Errorf("get sentinel %s: %v", s, err)
		case live.UID != s.uid:
			e.t.Errorf("INVARIANT 2: sentinel %s was deleted and recreated (uid %s, was %s)", s, live.UID, s.uid)
		case live.DeletionTimestamp != nil:
			e.t.Errorf("INVARIANT 2: sentinel %s is being deleted", s)
		case live.ResourceVersion != s.resourceVersion:
			e.t.Errorf("INVARIANT 2: sentinel %s was changed (resourceVersion %s, was %s; labels %v)", s, live.ResourceVersion, s.resourceVersion, live.Labels)
		}
	}
	return len(e.sentinels)
}

// ---- Invariant 1: labelled objects are in the inventory ----

// owner returns the ownership identity of one of the configuration's units.
func (e *env) owner(unit string) inventory.Owner {
	e.t.Helper()
	return e.store(unit).Owner()
}

// admin returns the access to the cluster as its administrator, made once
// per env.
func (e *env) admin() *cluster.Cluster {
	e.t.Helper()
	if e.access == nil {
		access, err := cluster.New(e.c.Config, cluster.Options{})
		if err != nil {
			e.t.Fatal(err)
		}
		e.access = access
	}
	return e.access
}

// store returns the unit's inventory as the configuration keeps it, in
// a ledger read afresh.
func (e *env) store(unit string) *inventory.LedgerUnit {
	e.t.Helper()
	u, err := e.ledger().Unit(e.conf.Name + "-" + unit)
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

// ledger returns a new reader of the configuration's inventory ledger.
func (e *env) ledger() *inventory.Ledger {
	e.t.Helper()
	l, err := inventory.NewLedger(e.admin(), inventory.LedgerOptions{Name: e.conf.Name, Namespace: e.conf.Namespace})
	if err != nil {
		e.t.Fatal(err)
	}
	return l
}

// rewriteInventory changes the unit's stored inventory through the ledger,
// as a program that gets the encoding right would.
func (e *env) rewriteInventory(unit string, change func(*inventory.Inventory)) {
	e.t.Helper()
	ctx := e.t.Context()
	l := e.ledger()
	u, err := l.Unit(e.conf.Name + "-" + unit)
	if err != nil {
		e.t.Fatal(err)
	}
	inv, err := u.Load(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	change(&inv)
	if err := u.Save(ctx, &inv); err != nil {
		e.t.Fatal(err)
	}
	if err := l.Flush(ctx); err != nil {
		e.t.Fatal(err)
	}
}

// hasInventory reports whether the configuration's ledger holds the unit.
func (e *env) hasInventory(unit string) bool {
	e.t.Helper()
	units, err := e.ledger().Units(e.t.Context())
	if err != nil {
		e.t.Fatal(err)
	}
	return slices.Contains(units, e.conf.Name+"-"+unit)
}

// inventoryPage is the Secret that holds the inventories of the
// configuration's first units (all of them, in these tests).
func (e *env) inventoryPage() string { return e.ledger().PageName(0) }

// loadInventory returns the unit's stored inventory.
func (e *env) loadInventory(unit string) inventory.Inventory {
	e.t.Helper()
	inv, err := e.store(unit).Load(e.t.Context())
	if err != nil {
		e.t.Fatalf("load the inventory of %s: %v", unit, err)
	}
	return inv
}

// liveObject is what the invariants need of a live object.
type liveObject struct {
	uid             types.UID
	resourceVersion string
	labels          map[string]string
	deleting        bool
}

// labelled lists every object in the cluster, of every resource the API
// server serves, that carries the unit's ownership labels: its ApplySet
// membership label, or its readable unit and unit-namespace labels.
func (e *env) labelled(owner inventory.Owner) map[inventory.ID]liveObject {
	e.t.Helper()
	ctx := e.t.Context()
	dc := discovery.NewDiscoveryClientForConfigOrDie(quiet(e.c.Config))
	lists, err := dc.ServerPreferredResources()
	if err != nil && !discovery.IsGroupDiscoveryFailedError(err) {
		e.t.Fatalf("discovery: %v", err)
	}
	selectors := []string{
		labels.SelectorFromSet(labels.Set{inventory.LabelApplySetPartOf: owner.ID}).String(),
		labels.SelectorFromSet(labels.Set{inventory.LabelUnit: owner.Unit, inventory.LabelUnitNamespace: owner.Namespace}).String(),
	}
	out := map[inventory.ID]liveObject{}
	for _, list := range lists {
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil {
			continue
		}
		for _, res := range list.APIResources {
			if strings.Contains(res.Name, "/") || !slices.Contains(res.Verbs, "list") {
				continue
			}
			gvr := gv.WithResource(res.Name)
			for _, sel := range selectors {
				items, err := e.meta.Resource(gvr).List(ctx, metav1.ListOptions{LabelSelector: sel})
				if err != nil {
					e.t.Fatalf("list %s with %s: %v", gvr, sel, err)
				}
				for _, o := range items.Items {
					id := inventory.ID{Group: gv.Group, Kind: res.Kind, Namespace: o.Namespace, Name: o.Name}
					out[id] = liveObject{uid: o.UID, resourceVersion: o.ResourceVersion, labels: o.Labels, deleting: o.DeletionTimestamp != nil}
				}
			}
		}
	}
	return out
}

// checkInventories is invariant 1 for every unit of the configuration: each
// labelled object (other than the planted foreign ones) is in the unit's
// stored inventory. It returns the number of labelled objects.
func (e *env) checkInventories() int {
	e.t.Helper()
	n := 0
	for _, u := range e.conf.Units {
		inv := e.loadInventory(u.Name)
		idx := inv.Index()
		live := e.labelled(e.owner(u.Name))
		for id := range live {
			if e.foreign[id] {
				continue
			}
			n++
			if _, ok := idx[id]; !ok {
				e.t.Errorf("INVARIANT 1: %s carries the labels of unit %s but is not in its inventory (an orphan nobody will prune)", id, u.Name)
			}
		}
		if dups := duplicates(inv); len(dups) > 0 {
			e.t.Errorf("INVARIANT 1: the inventory of %s lists %v more than once", u.Name, dups)
		}
	}
	return n
}

func duplicates(inv inventory.Inventory) []inventory.ID {
	seen := map[inventory.ID]bool{}
	var dups []inventory.ID
	for _, en := range inv.Entries {
		if seen[en.ID()] {
			dups = append(dups, en.ID())
		}
		seen[en.ID()] = true
	}
	return dups
}

// check asserts invariants 1 and 2.
func (e *env) check() {
	e.t.Helper()
	labelled := e.checkInventories()
	sentinels := e.checkSentinels()
	e.t.Logf("invariants 1 and 2: %d labelled objects all in inventories; %d sentinels intact", labelled, sentinels)
}

// ---- Invariant 3: a re-run converges ----

// converge is invariant 3, then 1 and 2: r makes every unit Ready, a second
// run creates, configures and prunes nothing, and each unit's labelled
// objects are exactly its inventory.
func (e *env) converge(r *reconcile.Reconciler) {
	e.t.Helper()
	s := e.run(r)
	if !s.Compliant() {
		e.t.Fatalf("INVARIANT 3: the re-run did not converge: %s", s)
	}
	s = e.run(r)
	for _, u := range s.Units {
		if u.Phase != reconcile.PhaseReady || u.Counts.Created+u.Counts.Configured+u.Counts.Deleted != 0 {
			e.t.Errorf("INVARIANT 3: unit %s is not stable on a second run: %s (%s) %s", u.Name, u.Phase, u.Counts, u.Message)
		}
	}
	e.checkExact()
	e.checkSentinels()
}

// checkExact asserts that, for every unit, the labelled objects (other than
// the foreign ones) and the inventory are the same set, live and not being
// deleted, without duplicates.
func (e *env) checkExact() {
	e.t.Helper()
	total := 0
	for _, u := range e.conf.Units {
		inv := e.loadInventory(u.Name)
		live := e.labelled(e.owner(u.Name))
		for id := range e.foreign {
			delete(live, id)
		}
		idx := inv.Index()
		for id := range live {
			if _, ok := idx[id]; !ok {
				e.t.Errorf("INVARIANT 1: %s carries the labels of unit %s but is not in its inventory", id, u.Name)
			}
		}
		for id := range idx {
			o, ok := live[id]
			switch {
			case !ok:
				e.t.Errorf("INVARIANT 3: the inventory of %s lists %s, which does not exist (or lost its labels) after convergence", u.Name, id)
			case o.deleting:
				e.t.Errorf("INVARIANT 3: %s of unit %s is being deleted after convergence", id, u.Name)
			}
		}
		if dups := duplicates(inv); len(dups) > 0 {
			e.t.Errorf("INVARIANT 3: the inventory of %s lists %v more than once", u.Name, dups)
		}
		total += len(live)
	}
	e.t.Logf("invariant 3: converged; %d objects, each labelled and in its unit's inventory", total)
}

// ---- "Nothing applied, nothing pruned" ----

// snapshot is every unit's labelled objects and inventory version.
type snapshot struct {
	objects     map[inventory.ID]liveObject
	inventories map[string]string // unit -> resourceVersion of its inventory
}

func (e *env) snapshot() snapshot {
	e.t.Helper()
	s := snapshot{objects: map[inventory.ID]liveObject{}, inventories: map[string]string{}}
	for _, u := range e.conf.Units {
		maps.Copy(s.objects, e.labelled(e.owner(u.Name)))
		s.inventories[u.Name] = e.inventoryVersion(u.Name)
	}
	return s
}

// inventoryVersion returns the resourceVersions of the Secrets holding
// the configuration's inventories ("" when there are none), whether or not
// their content or labels are valid: it changes with any inventory write.
func (e *env) inventoryVersion(string) string {
	e.t.Helper()
	list, err := e.kube.CoreV1().Secrets(e.conf.Namespace).List(e.t.Context(), metav1.ListOptions{})
	if err != nil {
		e.t.Fatalf("list the inventories: %v", err)
	}
	var versions []string
	for _, s := range list.Items {
		if e.ledger().IsPageName(s.Name) {
			versions = append(versions, s.Name+"@"+s.ResourceVersion)
		}
	}
	slices.Sort(versions)
	return strings.Join(versions, ",")
}

// unchanged asserts that since before no object of any unit was created,
// changed or deleted, and no inventory was written.
func (e *env) unchanged(before snapshot) {
	e.t.Helper()
	after := e.snapshot()
	for id, o := range before.objects {
		a, ok := after.objects[id]
		switch {
		case !ok:
			e.t.Errorf("%s was deleted (pruned?)", id)
		case a.uid != o.uid:
			e.t.Errorf("%s was recreated", id)
		case a.resourceVersion != o.resourceVersion:
			e.t.Errorf("%s was changed (applied?)", id)
		case a.deleting:
			e.t.Errorf("%s is being deleted", id)
		}
	}
	for id := range after.objects {
		if _, ok := before.objects[id]; !ok {
			e.t.Errorf("%s was created (applied?)", id)
		}
	}
	for unit, rv := range before.inventories {
		if after.inventories[unit] != rv {
			e.t.Errorf("the inventory of %s was written (resourceVersion %s, was %s)", unit, after.inventories[unit], rv)
		}
	}
	if !e.t.Failed() {
		e.t.Logf("nothing applied, nothing pruned: %d objects and %d inventories unchanged", len(before.objects), len(before.inventories))
	}
}

// ---- Events ----

// eventLog records the events of a case's reconcilers.
type eventLog struct {
	mu     sync.Mutex
	events []reconcile.Event
}

func (l *eventLog) add(e reconcile.Event) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
}

// errs returns the errors the unit's events carried, oldest first.
func (l *eventLog) errs(unit string) []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []error
	for _, e := range l.events {
		if e.Unit == unit && e.Err != nil {
			out = append(out, e.Err)
		}
	}
	return out
}

// find reports whether an event of the unit satisfies match.
func (l *eventLog) find(unit string, match func(reconcile.Event) bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.events {
		if e.Unit == unit && match(e) {
			return true
		}
	}
	return false
}

// reached reports whether the unit's events reached one of the stages.
func (l *eventLog) reached(unit string, stages ...reconcile.Stage) bool {
	return l.find(unit, func(e reconcile.Event) bool { return slices.Contains(stages, e.Stage) })
}

func (l *eventLog) reset() {
	l.mu.Lock()
	l.events = nil
	l.mu.Unlock()
}

// errorIs reports whether one of the unit's event errors matches target.
func (l *eventLog) errorIs(unit string, target error) bool {
	for _, err := range l.errs(unit) {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// ---- Manifests ----

func nsYAML(name string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n", name)
}

func cmYAML(ns, name, value string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n  namespace: %s\ndata:\n  value: %q\n", name, ns, value)
}

// configMaps returns the files of n ConfigMaps cm-000... in ns, in dir.
func configMaps(dir, ns string, n int, value string) map[string]string {
	files := map[string]string{}
	for i := range n {
		name := fmt.Sprintf("cm-%03d", i)
		files[dir+"/"+name+".yaml"] = cmYAML(ns, name, value)
	}
	return files
}

func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		maps.Copy(out, m)
	}
	return out
}

// configMapValue returns data.value of a ConfigMap.
func (e *env) configMapValue(ns, name string) (string, error) {
	cm, err := e.kube.CoreV1().ConfigMaps(ns).Get(e.t.Context(), name, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	return cm.Data["value"], nil
}

// unique returns prefix with a random suffix, for a case's configuration
// name and namespaces: configurations sharing a name share records, and a
// second run of the case (go test -count=N) on the same API server must find
// none of the first run's objects, records or inventories.
func unique(prefix string) string { return gitopstest.UniqueName(prefix) }

// quiet returns a copy of cfg that drops the API server's warnings: the
// invariant checks list every resource, deprecated ones too.
func quiet(cfg *rest.Config) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.WarningHandler = rest.NoWarnings{}
	return c
}
