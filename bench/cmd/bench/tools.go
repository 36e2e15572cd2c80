package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/polling"
	fluxobject "github.com/fluxcd/cli-utils/pkg/object"
	"github.com/fluxcd/pkg/ssa"
	"github.com/fluxcd/pkg/ssa/normalize"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	cuapply "sigs.k8s.io/cli-utils/pkg/apply"
	cuevent "sigs.k8s.io/cli-utils/pkg/apply/event"
	cucommon "sigs.k8s.io/cli-utils/pkg/common"
	cuinventory "sigs.k8s.io/cli-utils/pkg/inventory"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	"github.com/gitopskit/gitopskit/apply"
	"github.com/gitopskit/gitopskit/cluster"
	"github.com/gitopskit/gitopskit/inventory"
)

// inventoryNamespace holds every tool's inventory (gitopskit's Secrets,
// cli-utils' ConfigMaps, kubectl's ApplySet parent Secrets).
const inventoryNamespace = "bench-inventory"

// tool is one contender of the apply scenarios. A round starts with begin
// (a fresh unit and fresh namespaces) and then reconciles versions of the
// object set; each reconcile is apply + prune, as a GitOps reconciler does
// it, and is the only thing timed.
type tool interface {
	name() string  // column header
	short() string // namespace prefix
	note() string  // how it is configured
	begin(ctx context.Context, unit string) error
	reconcile(ctx context.Context, objs []*unstructured.Unstructured) (sample, error)
}

// inProcess runs fn with cnt reset, timing it and sampling the heap.
func inProcess(cnt *counter, fn func() error) (sample, error) {
	cnt.reset()
	s, err := measureInProcess(fn)
	s.requests = cnt.snapshot()
	return s, err
}

// ---- gitopskit ----

type gitopskitTool struct {
	cl    *cluster.Cluster
	cnt   *counter
	m     *apply.Manager
	store *inventory.Store
}

func newGitopskit(base *rest.Config) (*gitopskitTool, error) {
	t := &gitopskitTool{cnt: newCounter()}
	cl, err := cluster.New(t.cnt.wrap(base), cluster.Options{})
	if err != nil {
		return nil, err
	}
	t.cl = cl
	m, err := apply.NewManager(cl, apply.ManagerOptions{})
	if err != nil {
		return nil, err
	}
	t.m = m
	return t, nil
}

func (t *gitopskitTool) name() string  { return "gitopskit" }
func (t *gitopskitTool) short() string { return "gk" }
func (t *gitopskitTool) note() string {
	return "apply.Manager.Apply (defaults: concurrency 8, inventory Secret, TakeOverConflicts) + Manager.Prune"
}

func (t *gitopskitTool) begin(_ context.Context, unit string) error {
	s, err := inventory.NewStore(t.cl, inventory.StoreOptions{Name: unit, Namespace: inventoryNamespace})
	t.store = s
	return err
}

func (t *gitopskitTool) reconcile(ctx context.Context, objs []*unstructured.Unstructured) (sample, error) {
	return inProcess(t.cnt, func() error {
		cs, err := t.m.Apply(ctx, objs, apply.ApplyOptions{Inventory: t.store, TakeOverConflicts: true})
		if err != nil {
			return err
		}
		_, err = t.m.Prune(ctx, cs, apply.PruneOptions{})
		return err
	})
}

// ---- fluxcd/pkg/ssa, as kustomize-controller uses it ----

type ssaTool struct {
	concurrency int // 0: the library's default
	cnt         *counter
	rm          *ssa.ResourceManager
	unit        string
	// inv is the previous apply's objects with their versions: what
	// kustomize-controller keeps in the Kustomization's status.inventory.
	inv map[fluxobject.ObjMetadata]string
}

const fluxGroup = "kustomize.toolkit.fluxcd.io"

func newSSA(base *rest.Config, concurrency int) (*ssaTool, error) {
	t := &ssaTool{cnt: newCounter(), concurrency: concurrency}
	cfg := t.cnt.wrap(base)
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	mapper, err := apiutil.NewDynamicRESTMapper(cfg, hc)
	if err != nil {
		return nil, err
	}
	kc, err := client.New(cfg, client.Options{HTTPClient: hc, Mapper: mapper})
	if err != nil {
		return nil, err
	}
	poller := polling.NewStatusPoller(kc, mapper, polling.Options{})
	t.rm = ssa.NewResourceManager(kc, poller, ssa.Owner{Field: "kustomize-controller", Group: fluxGroup})
	if concurrency > 0 {
		t.rm.SetConcurrency(concurrency)
	}
	return t, nil
}

func (t *ssaTool) name() string {
	if t.concurrency > 0 {
		return fmt.Sprintf("flux ssa c=%d", t.concurrency)
	}
	return "flux ssa"
}

func (t *ssaTool) short() string {
	if t.concurrency > 0 {
		return fmt.Sprintf("ssa%d", t.concurrency)
	}
	return "ssa"
}

func (t *ssaTool) note() string {
	c := "default concurrency (1)"
	if t.concurrency > 0 {
		c = fmt.Sprintf("SetConcurrency(%d)", t.concurrency)
	}
	return "normalize.UnstructuredList + SetOwnerLabels + ApplyAllStaged(DefaultApplyOptions) + DeleteAll(stale), " + c
}

func (t *ssaTool) begin(_ context.Context, unit string) error {
	t.unit, t.inv = unit, nil
	return nil
}

func (t *ssaTool) reconcile(ctx context.Context, objs []*unstructured.Unstructured) (sample, error) {
	return inProcess(t.cnt, func() error {
		if err := normalize.UnstructuredList(objs); err != nil {
			return err
		}
		t.rm.SetOwnerLabels(objs, t.unit, "flux-system")
		cs, err := t.rm.ApplyAllStaged(ctx, objs, ssa.DefaultApplyOptions())
		if err != nil {
			return err
		}
		next := map[fluxobject.ObjMetadata]string{}
		for _, e := range cs.Entries {
			next[e.ObjMetadata] = e.GroupVersion
		}
		var stale []*unstructured.Unstructured
		for id, version := range t.inv {
			if _, ok := next[id]; ok {
				continue
			}
			u := &unstructured.Unstructured{}
			u.SetGroupVersionKind(schema.GroupVersionKind{Group: id.GroupKind.Group, Version: version, Kind: id.GroupKind.Kind})
			u.SetNamespace(id.Namespace)
			u.SetName(id.Name)
			stale = append(stale, u)
		}
		if len(stale) > 0 {
			_, err := t.rm.DeleteAll(ctx, stale, ssa.DeleteOptions{
				PropagationPolicy: metav1.DeletePropagationBackground,
				Inclusions:        t.rm.GetOwnerLabels(t.unit, "flux-system"),
				Exclusions:        map[string]string{fluxGroup + "/prune": "disabled"},
			})
			if err != nil {
				return err
			}
		}
		t.inv = next
		return nil
	})
}

// ---- sigs.k8s.io/cli-utils Applier ----

type cliUtilsTool struct {
	cnt     *counter
	applier *cuapply.Applier
	inv     *unstructured.Unstructured
}

func newCLIUtils(kubeconfig, cacheDir string) (*cliUtilsTool, error) {
	t := &cliUtilsTool{cnt: newCounter()}
	flags := genericclioptions.NewConfigFlags(true)
	flags.KubeConfig = &kubeconfig
	flags.CacheDir = &cacheDir
	flags.WrapConfigFn = t.cnt.wrap
	f := cmdutil.NewFactory(flags)
	invClient, err := cuinventory.ClusterClientFactory{StatusPolicy: cuinventory.StatusPolicyNone}.NewClient(f)
	if err != nil {
		return nil, err
	}
	a, err := cuapply.NewApplierBuilder().WithFactory(f).WithInventoryClient(invClient).Build()
	if err != nil {
		return nil, err
	}
	t.applier = a
	return t, nil
}

func (t *cliUtilsTool) name() string  { return "cli-utils" }
func (t *cliUtilsTool) short() string { return "cu" }
func (t *cliUtilsTool) note() string {
	return "Applier.Run with a ConfigMap inventory, ServerSideApply + ForceConflicts, default status watcher, " +
		"ReconcileTimeout = PruneTimeout = 1 ms (no readiness wait, like the others; 0 would wait forever for Deployments on a bare API server); no concurrency knob"
}

func (t *cliUtilsTool) begin(_ context.Context, unit string) error {
	inv := newObj("v1", "ConfigMap", inventoryNamespace, "inventory-"+unit, nil)
	inv.SetLabels(map[string]string{cucommon.InventoryLabel: unit})
	t.inv = inv
	return nil
}

func (t *cliUtilsTool) reconcile(ctx context.Context, objs []*unstructured.Unstructured) (sample, error) {
	return inProcess(t.cnt, func() error {
		ch := t.applier.Run(ctx, cuinventory.WrapInventoryInfoObj(t.inv.DeepCopy()), objs, cuapply.ApplierOptions{
			ServerSideOptions: cucommon.ServerSideOptions{ServerSideApply: true, ForceConflicts: true, FieldManager: "cli-utils"},
			ReconcileTimeout:  time.Millisecond,
			PruneTimeout:      time.Millisecond,
		})
		var errs []error
		for e := range ch {
			switch e.Type {
			case cuevent.ErrorType:
				errs = append(errs, e.ErrorEvent.Err)
			case cuevent.ApplyType:
				if e.ApplyEvent.Error != nil {
					errs = append(errs, e.ApplyEvent.Error)
				}
			case cuevent.PruneType:
				if e.PruneEvent.Error != nil {
					errs = append(errs, e.PruneEvent.Error)
				}
			case cuevent.ValidationType:
				if e.ValidationEvent.Error != nil {
					errs = append(errs, e.ValidationEvent.Error)
				}
			}
		}
		return errors.Join(errs...)
	})
}

// ---- kubectl apply --server-side ----

type kubectlTool struct {
	dyn        dynamic.Interface
	bin        string
	version    string // e.g. v1.37.2
	title      string // column header; default "kubectl"
	short_     string
	limited    bool   // scenarios 1 and 2 only
	kubeconfig string // context namespace: the inventory namespace (the ApplySet parent's)
	cacheDir   string
	dir        string
	unit       string
	calls      int
}

func (t *kubectlTool) name() string {
	if t.title != "" {
		return t.title
	}
	return "kubectl"
}
func (t *kubectlTool) short() string { return t.short_ }
func (t *kubectlTool) note() string {
	return t.version + " (" + t.bin + "): `KUBECTL_APPLYSET=true kubectl apply --server-side --force-conflicts --prune --applyset=" + applySetResource + "/<unit> -f set.yaml`; " +
		"-v=6 to count requests; discovery cache warm; one process per reconcile; no concurrency knob. " +
		"The ApplySet parent is a cluster-scoped custom resource created before the first apply (not timed), because kubectl refuses a " +
		"Secret parent for objects in several namespaces, and its legacy --prune -l does not work with --server-side"
}

func (t *kubectlTool) begin(ctx context.Context, unit string) error {
	t.unit = unit
	// kubectl adopts an existing custom-resource parent only if it already
	// names kubectl as its tool and carries the ApplySet ID (computed as
	// kubectl does, which is gitopskit's inventory.ApplySetID).
	parent := newObj(applySetGVR.GroupVersion().String(), "ApplySet", "", unit, nil)
	parent.SetLabels(map[string]string{"applyset.kubernetes.io/id": inventory.ApplySetID(unit, "", "ApplySet", applySetGVR.Group)})
	parent.SetAnnotations(map[string]string{"applyset.kubernetes.io/tooling": "kubectl/" + t.version, "applyset.kubernetes.io/contains-group-kinds": ""})
	_, err := t.dyn.Resource(applySetGVR).Create(ctx, parent, metav1.CreateOptions{})
	return err
}

// The ApplySet parent type of kubectl: a cluster-scoped custom resource
// whose CRD carries the applyset.kubernetes.io/is-parent-type label.
const applySetResource = "applysets.bench.gitopskit.dev"

var applySetGVR = schema.GroupVersionResource{Group: "bench.gitopskit.dev", Version: "v1", Resource: "applysets"}

var applySetCRD = map[string]any{
	"apiVersion": "apiextensions.k8s.io/v1",
	"kind":       "CustomResourceDefinition",
	"metadata": map[string]any{
		"name":   applySetResource,
		"labels": map[string]any{"applyset.kubernetes.io/is-parent-type": "true"},
	},
	"spec": map[string]any{
		"group": "bench.gitopskit.dev",
		"scope": "Cluster",
		"names": map[string]any{"plural": "applysets", "singular": "applyset", "kind": "ApplySet", "listKind": "ApplySetList"},
		"versions": []any{map[string]any{
			"name": "v1", "served": true, "storage": true,
			"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
		}},
	},
}

// ensureApplySetCRD creates the ApplySet parent CRD and waits until it is
// served.
func ensureApplySetCRD(ctx context.Context, dyn dynamic.Interface) error {
	crds := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	_, err := dyn.Resource(crds).Create(ctx, &unstructured.Unstructured{Object: applySetCRD}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	deadline := time.Now().Add(time.Minute)
	for {
		_, err := dyn.Resource(applySetGVR).List(ctx, metav1.ListOptions{Limit: 1})
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("ApplySet CRD not served: %w", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// kubectl -v=6 logs one line per HTTP request, e.g.
//
//	"Response" verb="GET" url="https://127.0.0.1:1234/api/v1/..." status="200 OK" milliseconds=3
//	GET https://127.0.0.1:1234/api/v1/... 200 OK in 3 milliseconds
var (
	kubectlReqStructured = regexp.MustCompile(`"Response" verb="([A-Z]+)" url="([^"]+)"`)
	kubectlReqPlain      = regexp.MustCompile(`\] (GET|POST|PUT|PATCH|DELETE) (https?://\S+) \d{3} `)
)

func parseKubectlRequests(stderr string) requestCounts {
	out := requestCounts{}
	for _, line := range strings.Split(stderr, "\n") {
		m := kubectlReqStructured.FindStringSubmatch(line)
		if m == nil {
			m = kubectlReqPlain.FindStringSubmatch(line)
		}
		if m == nil {
			continue
		}
		u, err := url.Parse(m[2])
		if err != nil {
			continue
		}
		out[classify(m[1], u, "")]++
	}
	return out
}

func (t *kubectlTool) reconcile(ctx context.Context, objs []*unstructured.Unstructured) (sample, error) {
	t.calls++
	file := filepath.Join(t.dir, fmt.Sprintf("%s-%d.yaml", t.unit, t.calls))
	if err := writeYAML(file, objs); err != nil {
		return sample{}, err
	}
	defer os.Remove(file)
	res, err := runCmd(ctx, "", []string{"KUBECTL_APPLYSET=true"}, t.bin,
		"apply", "--server-side", "--force-conflicts", "--prune", "--applyset="+applySetResource+"/"+t.unit,
		"-f", file, "--kubeconfig", t.kubeconfig, "--cache-dir", t.cacheDir, "-v=6")
	if os.Getenv("BENCH_DEBUG_KUBECTL") != "" {
		_ = os.WriteFile(file+".log", []byte(res.stderr), 0o644)
	}
	s := sample{dur: res.dur, peakMem: res.maxRSS, extProc: true, requests: parseKubectlRequests(res.stderr)}
	return s, err
}

// ---- lower bounds ----

// boundTool is not a tool but the two lower bounds, on its own object set:
// in the first-apply scenario one server-side apply request per object
// (namespaces first, then the rest, 8 in flight, like gitopskit); in the
// no-op scenario one metadata-only, label-selected LIST per (kind,
// namespace), 8 in flight.
type boundTool struct {
	cnt    *counter
	dyn    dynamic.Interface
	md     metadata.Interface
	set    objectSet
	mode   string // "ssa" or "list"
	limit  int
	mapper map[string]schema.GroupVersionResource
}

func newBound(base *rest.Config) (*boundTool, error) {
	t := &boundTool{cnt: newCounter(), limit: 8}
	cfg := t.cnt.wrap(base)
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	if t.dyn, err = dynamic.NewForConfigAndClient(cfg, hc); err != nil {
		return nil, err
	}
	if t.md, err = metadata.NewForConfigAndClient(cfg, hc); err != nil {
		return nil, err
	}
	t.mapper = map[string]schema.GroupVersionResource{"Namespace": gvrNamespace, "ConfigMap": gvrConfigMap, "Service": gvrService, "Deployment": gvrDeployment}
	return t, nil
}

func (t *boundTool) name() string  { return "bound" }
func (t *boundTool) short() string { return "bound" }
func (t *boundTool) note() string {
	return "first apply: 1 SSA PATCH per object, 8 in flight (namespaces first); no-op: 1 metadata LIST per (kind, namespace), label-selected, 8 in flight"
}
func (t *boundTool) begin(context.Context, string) error { return nil }

func (t *boundTool) reconcile(ctx context.Context, objs []*unstructured.Unstructured) (sample, error) {
	return inProcess(t.cnt, func() error {
		if t.mode == "list" {
			return t.lists(ctx)
		}
		var nss, rest []*unstructured.Unstructured
		for _, o := range objs {
			if o.GetKind() == "Namespace" {
				nss = append(nss, o)
			} else {
				rest = append(rest, o)
			}
		}
		if err := t.applyAll(ctx, nss); err != nil {
			return err
		}
		return t.applyAll(ctx, rest)
	})
}

func (t *boundTool) applyAll(ctx context.Context, objs []*unstructured.Unstructured) error {
	return forEach(len(objs), t.limit, func(i int) error {
		o := objs[i]
		_, err := t.dyn.Resource(t.mapper[o.GetKind()]).Namespace(o.GetNamespace()).Apply(ctx, o.GetName(), o,
			metav1.ApplyOptions{FieldManager: "bound", Force: true})
		return err
	})
}

func (t *boundTool) lists(ctx context.Context) error {
	n := namespacesPerSet * len(namespaced)
	return forEach(n, t.limit, func(i int) error {
		ns, gvr := t.set.namespace(i/len(namespaced)), namespaced[i%len(namespaced)]
		_, err := t.md.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{LabelSelector: benchLabel + "=" + t.set.prefix})
		return err
	})
}

// forEach runs fn for 0..n-1 with at most limit at once and returns the
// errors joined.
func forEach(n, limit int, fn func(i int) error) error {
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := fn(i); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
