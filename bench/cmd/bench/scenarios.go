package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Scenario names, in table order.
const (
	scFirst   = "1. first apply"
	scNoop    = "2. no-op reconcile"
	scDrift   = "3. one object drifted"
	scChanged = "4. 10% changed in Git"
	scPrune   = "5. 10% removed (prune)"
)

var applyScenarios = []string{scFirst, scNoop, scDrift, scChanged, scPrune}

// Column names of the bounds.
const (
	boundSSA  = "bound: 1 SSA/object c=8"
	boundList = "bound: 1 LIST/(kind,ns) c=8"
)

func (b *bench) applyScenarios(ctx context.Context) error {
	if err := b.createNamespace(ctx, inventoryNamespace); err != nil {
		return err
	}
	tools, err := b.tools(ctx)
	if err != nil {
		return err
	}
	var names []string
	for _, t := range tools {
		if _, ok := t.(*boundTool); ok {
			names = append(names, boundSSA, boundList)
		} else {
			b.res.notes[t.name()] = t.note()
			names = append(names, t.name())
		}
	}
	b.res.order("apply", names...)
	b.res.notes[boundSSA] = "1 server-side apply PATCH per object (namespaces first), 8 in flight, plain dynamic client"
	b.res.notes[boundList] = "1 metadata-only, label-selected LIST per (kind, namespace), 8 in flight"

	// Main run: warm-up rounds (discarded) then measured rounds; in each
	// round every tool runs scenarios 1-5 on its own fresh namespaces, and
	// the order of the tools rotates from round to round.
	rounds := b.cfg.warmup + b.cfg.reps
	for r := range rounds {
		keep := r >= b.cfg.warmup
		for i := range tools {
			t := tools[(i+r)%len(tools)]
			if err := b.round(ctx, t, r, b.cfg.n, !isLimited(t), keep); err != nil {
				return fmt.Errorf("%s, round %d, %d objects: %w", t.name(), r, b.cfg.n, err)
			}
		}
	}
	if b.cfg.plot {
		for _, n := range b.cfg.plotSizes {
			if n == b.cfg.n {
				continue
			}
			for r := range b.cfg.plotReps {
				for i := range tools {
					t := tools[(i+r)%len(tools)]
					if isLimited(t) {
						continue
					}
					if err := b.round(ctx, t, 100+r, n, false, true); err != nil {
						if err := b.peerFailed(t, n, err); err != nil {
							return fmt.Errorf("%s, plot round %d, %d objects: %w", t.name(), r, n, err)
						}
					}
				}
			}
		}
	}
	if b.cfg.large {
		for _, t := range tools {
			if isLimited(t) {
				continue
			}
			if err := b.round(ctx, t, 200, b.cfg.largeN, false, true); err != nil {
				if err := b.peerFailed(t, b.cfg.largeN, err); err != nil {
					return fmt.Errorf("%s, large round, %d objects: %w", t.name(), b.cfg.largeN, err)
				}
			}
		}
	}
	return nil
}

// peerFailed records that a peer failed a round at an extra size (the plot
// sizes, -large): the run goes on and the report says so next to the
// peer, its cells at that size staying empty. gitopskit failing, or a peer
// failing at the main size, still ends the run (it returns err).
func (b *bench) peerFailed(t tool, n int, err error) error {
	if _, ok := t.(*gitopskitTool); ok {
		return err
	}
	msg := strings.Join(strings.Fields(err.Error()), " ")
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	log.Printf("%s at %d objects failed, left out of the report: %s", t.name(), n, msg)
	b.res.notes[t.name()] += fmt.Sprintf(". **At %d objects it failed** (its cells there are empty): %s", n, msg)
	return nil
}

func (b *bench) tools(ctx context.Context) ([]tool, error) {
	gk, err := newGitopskit(b.admin)
	if err != nil {
		return nil, err
	}
	ssa1, err := newSSA(b.admin, 0)
	if err != nil {
		return nil, err
	}
	ssa8, err := newSSA(b.admin, 8)
	if err != nil {
		return nil, err
	}
	kcDir := filepath.Join(b.work, "kubectl")
	if err := os.MkdirAll(kcDir, 0o755); err != nil {
		return nil, err
	}
	kubeconfig := filepath.Join(kcDir, "kubeconfig")
	if err := kubeconfigWithNamespace(b.cluster.KubeconfigPath(), kubeconfig, inventoryNamespace); err != nil {
		return nil, err
	}
	b.kubeconfig = kubeconfig
	b.applySetCRD = len(b.cfg.tools) == 0 || b.cfg.tools["kc"] || b.cfg.tools["kcx"]
	if b.applySetCRD {
		if err := ensureApplySetCRD(ctx, b.dyn); err != nil {
			return nil, err
		}
	}
	kc, err := b.newKubectl(ctx, b.cfg.kubectl, "", "kc", kcDir)
	if err != nil {
		return nil, err
	}
	kc.title = "kubectl " + kc.version
	b.kubectlName = kc.title
	var kcExtra *kubectlTool
	if b.cfg.kubectlExtra != "" {
		if kcExtra, err = b.newKubectl(ctx, b.cfg.kubectlExtra, "", "kcx", kcDir); err != nil {
			return nil, err
		}
		kcExtra.limited = true
		kcExtra.title = "kubectl " + kcExtra.version + " (packaged)"
	}
	cu, err := newCLIUtils(kubeconfig, filepath.Join(b.work, "cli-utils-cache"))
	if err != nil {
		return nil, err
	}
	bound, err := newBound(b.admin)
	if err != nil {
		return nil, err
	}
	b.info.kubectl = toolVersion(ctx, b.cfg.kubectl, "version", "--client")
	all := []tool{gk, ssa1, ssa8, kc}
	if kcExtra != nil {
		all = append(all, kcExtra)
		b.info.kubectlExtra = toolVersion(ctx, b.cfg.kubectlExtra, "version", "--client")
	}
	all = append(all, cu, bound)
	if len(b.cfg.tools) == 0 {
		return all, nil
	}
	var some []tool
	for _, t := range all {
		if b.cfg.tools[t.short()] {
			some = append(some, t)
		}
	}
	return some, nil
}

// round runs one tool through the scenarios on a fresh object set of n
// objects: all five when full, else first apply and no-op. Results are
// recorded when keep. Everything but the reconciles themselves (writing
// files, verification, the drift edit, cleanup) is outside the timing.
func (b *bench) round(ctx context.Context, t tool, r, n int, full, keep bool) error {
	set := objectSet{prefix: fmt.Sprintf("%s-%d-r%d", t.short(), n, r), n: n}
	if err := t.begin(ctx, set.prefix); err != nil {
		return err
	}
	record := func(scenario, toolName string, s sample) {
		tag := "warm-up"
		if keep {
			tag = "kept"
			b.res.add(scenario, toolName, n, s)
		}
		log.Printf("%-28s n=%-5d %-24s %8.3fs  %5d requests  (%s)", toolName, n, scenario, s.dur.Seconds(), s.requests.total(), tag)
	}
	v1 := set.version(1)

	if bt, ok := t.(*boundTool); ok {
		bt.set, bt.mode = set, "ssa"
		s, err := t.reconcile(ctx, deepCopy(v1))
		if err != nil {
			return err
		}
		if _, err := verify(ctx, b.md, set, v1); err != nil {
			return err
		}
		record(scFirst, boundSSA, s)
		if s, err = t.reconcile(ctx, deepCopy(v1)); err != nil {
			return err
		}
		record(scNoop, boundSSA, s)
		bt.mode = "list"
		if s, err = t.reconcile(ctx, nil); err != nil {
			return err
		}
		if s.requests["list"] != namespacesPerSet*len(namespaced) {
			return fmt.Errorf("list bound made %s", s.requests)
		}
		record(scNoop, boundList, s)
		return b.endRound(ctx, set)
	}

	step := func(scenario string, objs []*unstructured.Unstructured) (liveState, error) {
		s, err := t.reconcile(ctx, deepCopy(objs))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", scenario, err)
		}
		live, err := verify(ctx, b.md, set, objs)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", scenario, err)
		}
		record(scenario, t.name(), s)
		return live, nil
	}
	live1, err := step(scFirst, v1)
	if err != nil {
		return err
	}
	live2, err := step(scNoop, v1)
	if err != nil {
		return err
	}
	if err := sameVersions(live1, live2); err != nil {
		return err
	}
	if full {
		if err := drift(ctx, b.dyn, set); err != nil {
			return err
		}
		if _, err := step(scDrift, v1); err != nil {
			return err
		}
		_, name := set.driftTarget()
		if err := checkDriftCorrected(ctx, b.dyn, set, "value-"+name); err != nil {
			return err
		}
		if _, err := step(scChanged, set.version(2)); err != nil {
			return err
		}
		if _, err := step(scPrune, set.version(3)); err != nil {
			return err
		}
	}
	return b.endRound(ctx, set)
}

func (b *bench) endRound(ctx context.Context, set objectSet) error {
	if err := cleanup(ctx, b.dyn, set); err != nil {
		return fmt.Errorf("cleanup: %w", err)
	}
	return b.clearInventories(ctx)
}

// kubectlVersion returns the client's gitVersion, e.g. v1.33.1.
func kubectlVersion(ctx context.Context, bin string) (string, error) {
	res, err := runCmd(ctx, "", nil, bin, "version", "--client", "-o", "json")
	if err != nil {
		return "", err
	}
	var v struct {
		ClientVersion struct{ GitVersion string } `json:"clientVersion"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &v); err != nil {
		return "", fmt.Errorf("kubectl version: %w", err)
	}
	return v.ClientVersion.GitVersion, nil
}

func (b *bench) newKubectl(ctx context.Context, bin, title, short, dir string) (*kubectlTool, error) {
	v, err := kubectlVersion(ctx, bin)
	if err != nil {
		return nil, err
	}
	return &kubectlTool{dyn: b.dyn, bin: bin, version: v, title: title, short_: short, kubeconfig: b.kubeconfig,
		cacheDir: filepath.Join(dir, short+"-cache"), dir: dir}, nil
}

// isLimited says whether a tool runs only scenarios 1 and 2 at the main
// size (the packaged kubectl, which is slow enough to dominate the run).
func isLimited(t tool) bool {
	k, ok := t.(*kubectlTool)
	return ok && k.limited
}
