package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

const (
	toolGitopskit = "gitopskit"
	toolFlux      = "flux"
)

func namespaceOf(tool string) string { return tool + "-bench" }

// gkResult is the JSON line units-gitopskit prints after a run.
type gkResult struct {
	Units    int      `json:"units"`
	Ready    int      `json:"ready"`
	Failures []string `json:"failures"`
	Seconds  float64  `json:"seconds"`
	Error    string   `json:"error"`
}

// runGitopskit runs bin/units-gitopskit behind its own counting proxy: a
// first run, then a second one (the no-op), each timed by the process
// around its reconcile call.
func runGitopskit(ctx context.Context, c config, e *env, bins binaries) (row, error) {
	ns := namespaceOf(toolGitopskit)
	r := row{Units: e.n, Tool: toolGitopskit, Date: today()}
	if err := e.prepareTenant(ctx, ns); err != nil {
		return r, err
	}
	px, err := e.controllerProxy(ctx, "gitopskit-system", "gitopskit")
	if err != nil {
		return r, err
	}
	defer px.close()
	kc := filepath.Join(e.dir, "gitopskit.kubeconfig")
	if err := px.writeKubeconfig(kc); err != nil {
		return r, err
	}
	args := []string{"-kubeconfig=" + kc, "-url=" + e.repoURL, "-namespace=" + ns, "-service-account=" + tenantSA,
		"-units=" + strconv.Itoa(e.n), "-timeout=1m", "-deadline=" + c.deadline.String(), "-workers=" + strconv.Itoa(c.workers)}
	if c.profile != "" {
		dir := filepath.Join(c.profile, "n"+strconv.Itoa(e.n))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return r, err
		}
		args = append(args, "-profile="+dir)
	}
	p, toProc, fromProc, err := startInteractive("units-gitopskit", e.dir, nil, bins.gitopskit, args...)
	if err != nil {
		return r, err
	}
	defer p.stop()
	lines := bufio.NewScanner(fromProc)
	lines.Buffer(nil, 1<<20)
	runOnce := func(phase string) (gkResult, error) {
		var res gkResult
		if _, err := io.WriteString(toProc, "run\n"); err != nil {
			return res, fmt.Errorf("%s: %w (see %s)", phase, err, p.log.Name())
		}
		if !lines.Scan() {
			<-p.done // no result: the process ended
			return res, fmt.Errorf("%s: units-gitopskit ended: %v (see %s)", phase, p.err, p.log.Name())
		}
		if err := json.Unmarshal(lines.Bytes(), &res); err != nil {
			return res, fmt.Errorf("%s: %w: %s", phase, err, lines.Text())
		}
		if res.Error != "" {
			res.Failures = append(res.Failures, "run: "+res.Error)
		}
		return res, nil
	}
	first, err := runOnce("first run")
	if err != nil {
		return r, err
	}
	r.First = phase{Ready: first.Ready, Time: secs(first.Seconds), Requests: px.counts.take(), Failures: first.Failures}
	if r.FirstUsage, err = p.usage(); err != nil {
		return r, err
	}
	noop, err := runOnce("no-op")
	if err != nil {
		return r, err
	}
	r.Noop = phase{Ready: noop.Ready, Time: secs(noop.Seconds), Requests: px.counts.take(), Failures: noop.Failures}
	if r.Usage, err = p.usage(); err != nil {
		return r, err
	}
	_, _ = io.WriteString(toProc, "quit\n")
	r.Deployments, err = e.countDeployments(ctx, ns)
	r.Config = "gitopskit " + gitopskitVersion() + ": `reconcile.New` with default `Options` (per-unit apply concurrency 8, no client-side rate limit), one process (`bench/cmd/units-gitopskit`), `Run` twice"
	return r, err
}

func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
