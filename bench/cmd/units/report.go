package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
	"time"
)

// row is one tool at one size.
type row struct {
	Units int    `json:"units"`
	Tool  string `json:"tool"`
	Date  string `json:"date"`
	// First is the first run: every unit created and made Ready.
	First phase `json:"first"`
	// Noop is a reconcile of every unit with nothing changed.
	Noop phase `json:"noop"`
	// FirstUsage is the processes' usage after the first run, Usage after
	// the no-op (peak RSS is a high-water mark, so Usage's is the run's).
	FirstUsage usage `json:"firstUsage"`
	Usage      usage `json:"usage"`
	// UsageDetail splits Usage between processes, when there are several.
	UsageDetail string `json:"usageDetail,omitempty"`
	// Deployments found in the tool's namespace afterwards (one per unit).
	Deployments int    `json:"deployments"`
	Config      string `json:"config"`
}

type phase struct {
	Ready    int           `json:"ready"`
	Time     time.Duration `json:"time"`
	Requests reqCounts     `json:"requests"`
	Failures []string      `json:"failures,omitempty"`
}

func (r row) summary() string {
	if r.Tool == toolFloor {
		return fmt.Sprintf("%s: %d/%d Deployments Current in %s (%d requests, %d 429)",
			r.Tool, r.First.Ready, r.Units, fmtDur(r.First.Time), r.First.Requests.Total, r.First.Requests.ByCode["429"])
	}
	return fmt.Sprintf("%s: first run %d/%d Ready in %s (%d requests, %d 429), no-op %d/%d in %s (%d requests), peak RSS %s, CPU %s",
		r.Tool, r.First.Ready, r.Units, fmtDur(r.First.Time), r.First.Requests.Total, r.First.Requests.ByCode["429"],
		r.Noop.Ready, r.Units, fmtDur(r.Noop.Time), r.Noop.Requests.Total, mib(r.Usage.PeakRSS), fmtDur(r.Usage.CPU))
}

// textTable is the report on stdout: every row, the failures, and the
// ratios gitopskit/Flux per size.
func textTable(rows []row) string {
	var b strings.Builder
	b.WriteString("\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "%5d units  %s\n", r.Units, r.summary())
		fmt.Fprintf(&b, "             first run requests: %s\n", fmtKinds(r.First.Requests))
		if r.Tool != toolFloor {
			fmt.Fprintf(&b, "             no-op requests:     %s\n", fmtKinds(r.Noop.Requests))
		}
		for _, f := range r.First.Failures {
			fmt.Fprintf(&b, "             first run not Ready: %s\n", oneLine(f, 300))
		}
		for _, f := range r.Noop.Failures {
			fmt.Fprintf(&b, "             no-op not Ready: %s\n", oneLine(f, 300))
		}
	}
	for _, n := range sizesOf(rows) {
		g, f, ok := pair(rows, n)
		if !ok {
			continue
		}
		fmt.Fprintf(&b, "%5d units  gitopskit/Flux: first run %s, no-op %s, peak RSS %s, CPU %s, requests %s (first run) %s (no-op)\n",
			n, timeRatio(n, g.First, f.First), timeRatio(n, g.Noop, f.Noop),
			ratio(float64(g.Usage.PeakRSS), float64(f.Usage.PeakRSS)), ratioDur(g.Usage.CPU, f.Usage.CPU),
			ratio(float64(g.First.Requests.Total), float64(f.First.Requests.Total)),
			ratio(float64(g.Noop.Requests.Total), float64(f.Noop.Requests.Total)))
		if fl, ok := rowOf(rows, n, toolFloor); ok {
			fmt.Fprintf(&b, "%5d units  first run / the cluster's floor (%s): gitopskit %s, Flux %s\n",
				n, fmtDur(fl.First.Time), timeRatio(n, g.First, fl.First), timeRatio(n, f.First, fl.First))
		}
	}
	return b.String()
}

// rowOf returns tool's row at n units, if any.
func rowOf(rows []row, n int, tool string) (row, bool) {
	for _, r := range rows {
		if r.Units == n && r.Tool == tool {
			return r, true
		}
	}
	return row{}, false
}

func sizesOf(rows []row) []int {
	seen := map[int]bool{}
	var out []int
	for _, r := range rows {
		if !seen[r.Units] {
			seen[r.Units] = true
			out = append(out, r.Units)
		}
	}
	sort.Ints(out)
	return out
}

func pair(rows []row, n int) (g, f row, ok bool) {
	g, hg := rowOf(rows, n, toolGitopskit)
	f, hf := rowOf(rows, n, toolFlux)
	return g, f, hg && hf
}

// resultsFile is the JSON kept next to RESULTS.md, so that sizes measured
// in separate runs form one table.
type resultsFile struct {
	Info info  `json:"info"`
	Rows []row `json:"rows"`
}

// mergeResults replaces the rows of the sizes just measured in path, keeps
// the others, writes the file back and returns all rows.
func mergeResults(path string, rows []row, in info) ([]row, error) {
	var rf resultsFile
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		if err := json.Unmarshal(b, &rf); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	measured := map[int]bool{}
	for _, r := range rows {
		measured[r.Units] = true
	}
	var out []row
	for _, r := range rf.Rows {
		if !measured[r.Units] {
			out = append(out, r)
		}
	}
	out = append(out, rows...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Units < out[j].Units })
	rf.Info, rf.Rows = in, out
	nb, err := json.MarshalIndent(rf, "", "  ")
	if err != nil {
		return nil, err
	}
	return out, os.WriteFile(path, append(nb, '\n'), 0o644)
}

// sectionName names the units section of RESULTS.md (see package
// mdsection); cmd/bench keeps it when it rewrites the file.
const sectionName = "units"

func markdown(rows []row, in info) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("## Units: gitopskit next to Flux's controllers, many small units (issue 14)\n\n")
	p("fluxcd/flux-benchmark's Kustomization workload on the simulated cluster (`gitopstest/localcluster`: kube-apiserver, etcd, " +
		"kube-controller-manager, kube-scheduler, 3 kwok fake nodes) and one local Git server (`gitopstest/gitserver`, smart HTTP " +
		"on 127.0.0.1): per unit a path `units/unit-<i>` holding flux-benchmark's `podinfo.yaml` (a Deployment scaled to 0, a " +
		"ServiceAccount, a ClusterIP Service, an Ingress), reconciled with prune, wait, a 1-minute timeout and an impersonated " +
		"service account (bound to the ClusterRole `admin` in the namespace, as flux-benchmark's tenant). " +
		"Each size gets a fresh cluster; the tools run one after the other on it, each as its own processes, each in a namespace " +
		"of its own that is deleted (and waited for) before the next tool starts. Reproduce with " +
		"`cd bench && GOTOOLCHAIN=go1.27.3 go run ./cmd/units -sizes 100,500,1000`.\n\n")
	p("- **first run**: from the first object the user creates (Flux: the GitRepository and the Kustomizations, created by " +
		"16 goroutines; gitopskit: the start of `Run`) until every unit is Ready; **no-op**: every unit reconciled again with " +
		"nothing changed (Flux: `reconcile.fluxcd.io/requestedAt` set on every Kustomization, until each reports it in " +
		"`lastHandledReconcileAt` and is Ready; gitopskit: a second `Run`).\n")
	p("- **peak RSS**: `VmHWM` of the processes at the end (Flux: the sum of both controllers' peaks); **CPU**: user + system " +
		"time of the processes over both runs, from `/proc`.\n")
	p("- **API requests**: counted by a reverse proxy on 127.0.0.1 in front of each process (the tool's kubeconfig points at " +
		"it), which forwards as a service-account user bound to `cluster-admin` (not `system:masters`, which API Priority and " +
		"Fairness exempts), so every tool meets the same flow control. Kinds as in the scenarios above (`apply` is a " +
		"server-side-apply PATCH); a controller's start (discovery, its informers' first LIST) is not counted.\n\n")

	p("| units × 4 objects | tool | first run: Ready | first run | no-op: Ready | no-op | peak RSS | CPU | requests, first run | 429 | requests, no-op |\n")
	p("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, r := range rows {
		if r.Tool == toolFloor {
			p("| %s | %s | %d/%d | %s | - | - | - | - | %s | %s | - |\n", commas(r.Units), r.Tool,
				r.First.Ready, r.Units, fmtDur(r.First.Time), commas(r.First.Requests.Total), commas(r.First.Requests.ByCode["429"]))
			continue
		}
		p("| %s | %s | %d/%d | %s | %d/%d | %s | %s | %s | %s | %s | %s |\n", commas(r.Units), r.Tool,
			r.First.Ready, r.Units, fmtDur(r.First.Time), r.Noop.Ready, r.Units, fmtDur(r.Noop.Time),
			mib(r.Usage.PeakRSS), fmtDur(r.Usage.CPU), commas(r.First.Requests.Total),
			commas(r.First.Requests.ByCode["429"]+r.Noop.Requests.ByCode["429"]), commas(r.Noop.Requests.Total))
	}
	p("\n**gitopskit / Flux** (below 1: gitopskit is faster or smaller):\n\n")
	p("| units | first run | no-op | peak RSS | CPU | requests, first run | requests, no-op | first run / floor: gitopskit | first run / floor: Flux |\n" +
		"| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, n := range sizesOf(rows) {
		g, f, ok := pair(rows, n)
		if !ok {
			continue
		}
		gFloor, fFloor := "-", "-"
		if fl, ok := rowOf(rows, n, toolFloor); ok {
			gFloor, fFloor = timeRatio(n, g.First, fl.First), timeRatio(n, f.First, fl.First)
		}
		p("| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", commas(n), timeRatio(n, g.First, f.First), timeRatio(n, g.Noop, f.Noop),
			ratio(float64(g.Usage.PeakRSS), float64(f.Usage.PeakRSS)), ratioDur(g.Usage.CPU, f.Usage.CPU),
			ratio(float64(g.First.Requests.Total), float64(f.First.Requests.Total)),
			ratio(float64(g.Noop.Requests.Total), float64(f.Noop.Requests.Total)), gFloor, fFloor)
	}
	p("\nThe **floor** row is not a tool: the benchmark creates the units' objects itself, 16 at a time with no client-side " +
		"limit, and times until every Deployment is Current: how fast this cluster's controller-manager makes the workload " +
		"Ready whoever applies it. A tool's first run cannot be shorter; \"first run / floor\" is how close each tool comes to it.\n\n")
	p("A time is measured until every unit is Ready; a unit count below the total means the phase ended at the deadline " +
		"(or, for gitopskit, when `Run` returned) with the others not Ready, and the time ratio is then n/a.\n\n")
	p("### Requests by kind and status code\n\n")
	p("| units | tool | phase | by kind | by status code |\n| ---: | --- | --- | --- | --- |\n")
	for _, r := range rows {
		for _, ph := range []struct {
			name string
			ph   phase
		}{{"first run", r.First}, {"no-op", r.Noop}} {
			if r.Tool == toolFloor && ph.name == "no-op" {
				continue
			}
			p("| %s | %s | %s | %s | %s |\n", commas(r.Units), r.Tool, ph.name, fmtKinds(ph.ph.Requests), fmtCodes(ph.ph.Requests))
		}
	}
	var fails []string
	for _, r := range rows {
		for _, ph := range []struct {
			name string
			ph   phase
		}{{"first run", r.First}, {"no-op", r.Noop}} {
			for _, f := range ph.ph.Failures {
				fails = append(fails, fmt.Sprintf("- %s units, %s, %s: %s", commas(r.Units), r.Tool, ph.name, mdEscape(oneLine(f, 400))))
			}
		}
	}
	if len(fails) > 0 {
		p("\n### Units not Ready at the end of a phase (most frequent first)\n\n%s\n", strings.Join(fails, "\n"))
	}
	p("\n### Details\n\n")
	for _, r := range rows {
		p("- %s units, %s (%s): %d Deployments in its namespace afterwards; peak RSS after the first run %s",
			commas(r.Units), r.Tool, r.Date, r.Deployments, mib(r.FirstUsage.PeakRSS))
		if r.UsageDetail != "" {
			p(", at the end %s", r.UsageDetail)
		}
		p(".\n")
	}
	p("\nHow each tool ran:\n\n")
	seen := map[string]bool{}
	for _, r := range rows {
		if !seen[r.Tool] {
			seen[r.Tool] = true
			p("- **%s**: %s.\n", r.Tool, r.Config)
		}
	}
	p("\nMachine: %d CPUs (%s), %s memory; %s; k8s.io/client-go %s; gitopskit %s; %s.", in.CPUs, in.CPU, in.Memory, in.Go, in.Kube, in.Gitopskit, in.Date)
	if in.LoadAvg != "" {
		p(" Load average when the run started: %s.", in.LoadAvg)
	}
	if in.ControllerQPS != 0 {
		p(" kube-controller-manager `--kube-api-qps=%d`.", in.ControllerQPS)
	}
	p("\n\n")
	return b.String()
}

func fmtKinds(r reqCounts) string {
	type kv struct {
		k string
		v int
	}
	var l []kv
	for k, v := range r.ByKind {
		l = append(l, kv{k, v})
	}
	sort.Slice(l, func(i, j int) bool { return l[i].v > l[j].v || l[i].v == l[j].v && l[i].k < l[j].k })
	parts := []string{commas(r.Total) + " total"}
	for _, e := range l {
		parts = append(parts, commas(e.v)+" "+e.k)
	}
	return strings.Join(parts, ", ")
}

func fmtCodes(r reqCounts) string {
	var codes []string
	for c := range r.ByCode {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	var parts []string
	for _, c := range codes {
		parts = append(parts, c+": "+commas(r.ByCode[c]))
	}
	return strings.Join(parts, ", ")
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Minute:
		return fmt.Sprintf("%dm%02.0fs", int(d.Minutes()), d.Seconds()-60*float64(int(d.Minutes())))
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	default:
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
}

func ratio(a, b float64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", a/b)
}

func ratioDur(a, b time.Duration) string { return ratio(float64(a), float64(b)) }

// timeRatio is gitopskit's time over Flux's for a phase, or "n/a" when
// either left units not Ready (its time is then a deadline, not a result).
func timeRatio(n int, g, f phase) string {
	if g.Ready < n || f.Ready < n {
		return "n/a"
	}
	return ratioDur(g.Time, f.Time)
}

func commas(n int) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + commas(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", "\\|") }
