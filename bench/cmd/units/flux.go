package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"
)

// fluxVersion is the release of kustomize-controller and source-controller
// measured: Flux 2.9's. bench/flux/<controller>/go.mod pins it.
const fluxVersion = "v1.9.6"

// flux-benchmark's settings (manifests/install/kustomization.yaml and
// timoni/modules/flux-ks-bench): kustomize-controller --concurrent=20 with
// the ExternalArtifact feature gate, source-controller --concurrent=10, both
// with a 1 GiB memory limit that GOMEMLIMIT follows; Kustomizations with
// interval 60m, retryInterval 2m, timeout 1m, prune, wait, a
// serviceAccountName and a targetNamespace; a source interval of 60m.
const (
	kcConcurrent = 20
	scConcurrent = 10
	goMemLimit   = "1073741824" // 1 GiB, the containers' limits.memory
)

var (
	gvrKustomization = schema.GroupVersionResource{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Resource: "kustomizations"}
	gvrGitRepository = schema.GroupVersionResource{Group: "source.toolkit.fluxcd.io", Version: "v1", Resource: "gitrepositories"}
	gvrCRD           = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
)

const requestedAtAnnotation = "reconcile.fluxcd.io/requestedAt"

// runFlux runs source-controller and kustomize-controller, each behind its
// own counting proxy, creates the GitRepository and the Kustomizations and
// times until all are Ready; then requests a reconcile of every
// Kustomization (the reconcile.fluxcd.io/requestedAt annotation, as `flux
// reconcile` does) and times until all have handled it and are Ready.
func runFlux(ctx context.Context, c config, e *env, bins binaries) (r row, err error) {
	ns := namespaceOf(toolFlux)
	r = row{Units: e.n, Tool: toolFlux, Date: today()}
	dyn, err := dynamic.NewForConfig(e.admin)
	if err != nil {
		return r, err
	}
	crds, err := installCRDs(ctx, dyn, bins.fluxCRDs)
	if err != nil {
		return r, err
	}
	defer func() {
		if cerr := fluxCleanup(context.WithoutCancel(ctx), dyn, ns, crds); cerr != nil && err == nil {
			err = cerr
		}
	}()
	if err := e.prepareTenant(ctx, ns); err != nil {
		return r, err
	}

	var procs []*proc
	var proxies []*proxy
	defer func() {
		for _, p := range procs {
			p.stop()
		}
		for _, p := range proxies {
			p.close()
		}
	}()
	start := func(name, bin string, args ...string) (*proc, error) {
		px, err := e.controllerProxy(ctx, "flux-system", name)
		if err != nil {
			return nil, err
		}
		proxies = append(proxies, px)
		kc := filepath.Join(e.dir, name+".kubeconfig")
		if err := px.writeKubeconfig(kc); err != nil {
			return nil, err
		}
		ports, err := freePorts(2)
		if err != nil {
			return nil, err
		}
		health := "127.0.0.1:" + strconv.Itoa(ports[1])
		args = append([]string{
			"--metrics-addr=127.0.0.1:" + strconv.Itoa(ports[0]),
			"--health-addr=" + health,
			"--enable-leader-election=false",
			"--watch-all-namespaces=true",
			"--log-level=info", "--log-encoding=json",
		}, args...)
		p, err := startProc(name, e.dir, []string{"KUBECONFIG=" + kc, "GOMEMLIMIT=" + goMemLimit}, bin, args...)
		if err != nil {
			return nil, err
		}
		procs = append(procs, p)
		return p, waitHTTP(ctx, p, "http://"+health+"/readyz")
	}
	storage := filepath.Join(e.dir, "flux-storage")
	if err := os.MkdirAll(storage, 0o755); err != nil {
		return r, err
	}
	sp, err := freePorts(1)
	if err != nil {
		return r, err
	}
	storageAddr := "127.0.0.1:" + strconv.Itoa(sp[0])
	sc, err := start("source-controller", bins.sourceController,
		"--concurrent="+strconv.Itoa(scConcurrent),
		"--storage-path="+storage, "--storage-addr="+storageAddr, "--storage-adv-addr="+storageAddr)
	if err != nil {
		return r, err
	}
	kc, err := start("kustomize-controller", bins.kustomizeController,
		"--concurrent="+strconv.Itoa(kcConcurrent), "--feature-gates=ExternalArtifact=true")
	if err != nil {
		return r, err
	}
	takeAll := func() reqCounts {
		var sum reqCounts
		for _, p := range proxies {
			sum = sum.plus(p.counts.take())
		}
		return sum
	}
	takeAll() // the controllers' start (discovery, informers' first LIST) is not part of the runs

	w, err := watchObjects(ctx, toolFlux, dyn, gvrKustomization, ns)
	if err != nil {
		return r, err
	}
	defer w.stop()

	// First run: the clock starts before the objects are created, as when
	// a user applies them.
	t0 := time.Now()
	if err := createFluxObjects(ctx, dyn, ns, e.repoURL, e.n); err != nil {
		return r, err
	}
	ready, done := w.wait(ctx, e.n, c.deadline, func(k *unstructured.Unstructured) bool { return ksReady(k, "") })
	r.First = phase{Ready: ready, Time: time.Since(t0), Requests: takeAll()}
	if !done {
		r.First.Failures = w.failures("")
	}
	if r.FirstUsage, err = sumUsage(sc, kc); err != nil {
		return r, err
	}

	// No-op: every Kustomization asked to reconcile again, nothing changed.
	token := time.Now().Format(time.RFC3339Nano)
	t0 = time.Now()
	if err := annotateAll(ctx, dyn, ns, e.n, token); err != nil {
		return r, err
	}
	ready, done = w.wait(ctx, e.n, c.deadline, func(k *unstructured.Unstructured) bool { return ksReady(k, token) })
	r.Noop = phase{Ready: ready, Time: time.Since(t0), Requests: takeAll()}
	if !done {
		r.Noop.Failures = w.failures(token)
	}
	if r.Usage, err = sumUsage(sc, kc); err != nil {
		return r, err
	}
	r.UsageDetail = fmt.Sprintf("source-controller %s + kustomize-controller %s", mib(mustUsage(sc).PeakRSS), mib(mustUsage(kc).PeakRSS))
	r.Deployments, err = e.countDeployments(ctx, ns)
	r.Config = fmt.Sprintf("Flux source-controller and kustomize-controller %s built from the module proxy (`bench/flux`), "+
		"local processes, leader election off, `--concurrent=%d` (kustomize-controller, with `--feature-gates=ExternalArtifact=true`) "+
		"and `--concurrent=%d` (source-controller) as in fluxcd/flux-benchmark, `GOMEMLIMIT` 1 GiB as its memory limit, "+
		"default client settings (`--kube-api-qps=50 --kube-api-burst=300`); one GitRepository and one Kustomization per unit "+
		"(interval 60m, retryInterval 2m, timeout 1m, prune, wait, serviceAccountName, targetNamespace)", fluxVersion, kcConcurrent, scConcurrent)
	return r, err
}

func sumUsage(ps ...*proc) (usage, error) {
	var sum usage
	for _, p := range ps {
		u, err := p.usage()
		if err != nil {
			return sum, err
		}
		sum.PeakRSS += u.PeakRSS
		sum.CPU += u.CPU
	}
	return sum, nil
}

func mustUsage(p *proc) usage {
	u, _ := p.usage()
	return u
}

func createFluxObjects(ctx context.Context, dyn dynamic.Interface, ns, url string, n int) error {
	repo := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "source.toolkit.fluxcd.io/v1",
		"kind":       "GitRepository",
		"metadata":   map[string]any{"name": repoName, "namespace": ns},
		"spec": map[string]any{
			"interval": "60m",
			"url":      url,
			"ref":      map[string]any{"branch": "main"},
		},
	}}
	if _, err := dyn.Resource(gvrGitRepository).Namespace(ns).Create(ctx, repo, metav1.CreateOptions{}); err != nil {
		return err
	}
	return parallel(ctx, n, func(i int) error {
		ks := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "kustomize.toolkit.fluxcd.io/v1",
			"kind":       "Kustomization",
			"metadata":   map[string]any{"name": "unit-" + strconv.Itoa(i), "namespace": ns},
			"spec": map[string]any{
				"interval":           "60m",
				"retryInterval":      "2m",
				"timeout":            "1m",
				"path":               "./" + unitPath(i),
				"prune":              true,
				"wait":               true,
				"serviceAccountName": tenantSA,
				"targetNamespace":    ns,
				"sourceRef":          map[string]any{"kind": "GitRepository", "name": repoName},
			},
		}}
		_, err := dyn.Resource(gvrKustomization).Namespace(ns).Create(ctx, ks, metav1.CreateOptions{})
		return err
	})
}

func annotateAll(ctx context.Context, dyn dynamic.Interface, ns string, n int, token string) error {
	patch := []byte(`{"metadata":{"annotations":{"` + requestedAtAnnotation + `":"` + token + `"}}}`)
	return parallel(ctx, n, func(i int) error {
		_, err := dyn.Resource(gvrKustomization).Namespace(ns).Patch(ctx, "unit-"+strconv.Itoa(i), types.MergePatchType, patch, metav1.PatchOptions{})
		return err
	})
}

// parallel calls f(0..n-1) from 16 goroutines and returns the first error.
func parallel(ctx context.Context, n int, f func(int) error) error {
	idx := make(chan int)
	errs := make(chan error, 16)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := range idx {
				if err := f(i); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		})
	}
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		idx <- i
	}
	close(idx)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return ctx.Err()
	}
}

// ksReady says whether a Kustomization is Ready for its current generation
// and, with a token, has handled the reconcile request token.
func ksReady(k *unstructured.Unstructured, token string) bool {
	gen := k.GetGeneration()
	og, _, _ := unstructured.NestedInt64(k.Object, "status", "observedGeneration")
	if og != gen {
		return false
	}
	if token != "" {
		if h, _, _ := unstructured.NestedString(k.Object, "status", "lastHandledReconcileAt"); h != token {
			return false
		}
	}
	status, _, _ := readyCondition(k)
	return status == "True"
}

func readyCondition(k *unstructured.Unstructured) (status, reason, message string) {
	conds, _, _ := unstructured.NestedSlice(k.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Ready" {
			s, _ := m["status"].(string)
			r, _ := m["reason"].(string)
			msg, _ := m["message"].(string)
			return s, r, msg
		}
	}
	return "", "", ""
}

// objWatch follows the objects of one resource in a namespace with an
// informer of the benchmark's own (uncounted) client.
type objWatch struct {
	tool   string // who is waited for, in progress logs
	inf    cache.SharedIndexInformer
	cancel context.CancelFunc
}

func watchObjects(ctx context.Context, tool string, dyn dynamic.Interface, gvr schema.GroupVersionResource, ns string) (*objWatch, error) {
	ctx, cancel := context.WithCancel(ctx)
	f := dynamicinformer.NewFilteredDynamicSharedInformerFactory(dyn, 0, ns, nil)
	inf := f.ForResource(gvr).Informer()
	f.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		cancel()
		return nil, fmt.Errorf("%s informer did not sync", gvr.Resource)
	}
	return &objWatch{tool: tool, inf: inf, cancel: cancel}, nil
}

func (w *objWatch) stop() { w.cancel() }

func (w *objWatch) count(ok func(*unstructured.Unstructured) bool) int {
	n := 0
	for _, o := range w.inf.GetStore().List() {
		if ok(o.(*unstructured.Unstructured)) {
			n++
		}
	}
	return n
}

// wait returns how many objects satisfy ok once n do (done) or the
// deadline passed. It logs progress every 10 seconds.
func (w *objWatch) wait(ctx context.Context, n int, deadline time.Duration, ok func(*unstructured.Unstructured) bool) (int, bool) {
	t0 := time.Now()
	last := t0
	for {
		got := w.count(ok)
		if got >= n {
			return got, true
		}
		if time.Since(t0) > deadline || ctx.Err() != nil {
			return got, false
		}
		if time.Since(last) > 10*time.Second {
			log.Printf("%s: %d of %d Ready (%s)", w.tool, got, n, time.Since(t0).Round(time.Second))
			last = time.Now()
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// failures lists the most frequent Ready conditions of the Kustomizations
// that are not done.
func (w *objWatch) failures(token string) []string {
	m := map[string]int{}
	example := map[string]string{}
	for _, o := range w.inf.GetStore().List() {
		k := o.(*unstructured.Unstructured)
		if ksReady(k, token) {
			continue
		}
		s, reason, msg := readyCondition(k)
		key := fmt.Sprintf("Ready=%s %s", s, reason)
		if s == "" {
			key, msg = "NoReadyCondition", "not picked up by kustomize-controller yet"
		}
		m[key]++
		if _, ok := example[key]; !ok {
			example[key] = k.GetName() + ": " + msg
		}
	}
	var out []string
	for _, r := range topReasons(m, 5) {
		out = append(out, r+" (e.g. "+example[r[strings.Index(r, " ")+1:]]+")")
	}
	return out
}

// installCRDs creates the CustomResourceDefinitions of the YAML files in
// dirs and waits until they are established. It returns their names.
func installCRDs(ctx context.Context, dyn dynamic.Interface, dirs []string) ([]string, error) {
	var names []string
	for _, dir := range dirs {
		files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
			for {
				var u unstructured.Unstructured
				if err := dec.Decode(&u.Object); err == io.EOF {
					break
				} else if err != nil {
					return nil, fmt.Errorf("%s: %w", f, err)
				}
				if u.Object == nil {
					continue
				}
				_, err := dyn.Resource(gvrCRD).Create(ctx, &u, metav1.CreateOptions{})
				if err != nil && !apierrors.IsAlreadyExists(err) {
					return nil, fmt.Errorf("%s: %w", f, err)
				}
				names = append(names, u.GetName())
			}
		}
	}
	for _, name := range names {
		for {
			crd, err := dyn.Resource(gvrCRD).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
			established := false
			for _, c := range conds {
				m, _ := c.(map[string]any)
				established = established || (m["type"] == "Established" && m["status"] == "True")
			}
			if established {
				break
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return names, nil
}

// fluxCleanup, once the controllers are stopped, removes the finalizers of
// the Flux objects (nothing would handle them) and the CRDs, so that the
// namespace can be deleted and the next tool finds the cluster as the
// first did.
func fluxCleanup(ctx context.Context, dyn dynamic.Interface, ns string, crds []string) error {
	patch := []byte(`{"metadata":{"finalizers":null}}`)
	for _, gvr := range []schema.GroupVersionResource{gvrKustomization, gvrGitRepository} {
		l, err := dyn.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return err
		}
		err = parallel(ctx, len(l.Items), func(i int) error {
			_, err := dyn.Resource(gvr).Namespace(ns).Patch(ctx, l.Items[i].GetName(), types.MergePatchType, patch, metav1.PatchOptions{})
			if apierrors.IsNotFound(err) {
				return nil
			}
			return err
		})
		if err != nil {
			return err
		}
	}
	for _, name := range crds {
		if err := dyn.Resource(gvrCRD).Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}

func freePorts(n int) ([]int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func mib(b uint64) string { return strconv.FormatUint(b>>20, 10) + " MiB" }

func today() string { return time.Now().UTC().Format("2006-01-02") }

func topReasons(m map[string]int, n int) []string {
	type kv struct {
		k string
		v int
	}
	var l []kv
	for k, v := range m {
		l = append(l, kv{k, v})
	}
	for i := 1; i < len(l); i++ {
		for j := i; j > 0 && (l[j].v > l[j-1].v || l[j].v == l[j-1].v && l[j].k < l[j-1].k); j-- {
			l[j], l[j-1] = l[j-1], l[j]
		}
	}
	var out []string
	for i := 0; i < len(l) && i < n; i++ {
		out = append(out, fmt.Sprintf("%dx %s", l[i].v, strings.TrimSpace(l[i].k)))
	}
	return out
}
