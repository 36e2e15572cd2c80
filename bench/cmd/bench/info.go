package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gitopskit/gitopskit/gitopstest/kubeassets"
)

// runInfo is the header of the report: when, where, what.
type runInfo struct {
	date                       time.Time
	command                    string
	cpu, mem, kernel           string
	cores                      int
	goVersion                  string
	modules                    map[string]string
	kubectl, kustomizeCLI, git string
	kubectlExtra               string
	apiServer                  string
	loadStart, loadEnd         string
	duration                   time.Duration
}

// modules whose versions the report lists.
var reportedModules = []string{
	"github.com/fluxcd/pkg/ssa",
	"github.com/fluxcd/cli-utils",
	"sigs.k8s.io/cli-utils",
	"sigs.k8s.io/controller-runtime",
	"k8s.io/client-go",
	"k8s.io/kubectl",
	"sigs.k8s.io/kustomize/api",
	"github.com/go-git/go-git/v5",
	"gonum.org/v1/plot",
}

func collectInfo(ctx context.Context, c config, args []string) *runInfo {
	in := &runInfo{date: time.Now().UTC(), cores: runtime.NumCPU(), goVersion: runtime.Version(), modules: map[string]string{}}
	in.command = "go run ./cmd/bench " + strings.Join(args, " ")
	in.cpu = firstMatch("/proc/cpuinfo", "model name")
	in.mem = firstMatch("/proc/meminfo", "MemTotal")
	if out, err := exec.CommandContext(ctx, "uname", "-sr").Output(); err == nil {
		in.kernel = strings.TrimSpace(string(out))
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			v := d.Version
			if d.Replace != nil {
				v = d.Replace.Path
				if d.Replace.Version != "" {
					v += "@" + d.Replace.Version
				}
			}
			in.modules[d.Path] = v
		}
	}
	in.git = toolVersion(ctx, "git", "--version")
	in.apiServer = "kube-apiserver " + kubeassets.KubernetesVersion + ", etcd " + kubeassets.EtcdVersion +
		" (built from the Go module proxy by gitopstest/kubeassets)"
	in.loadStart = loadAvg()
	return in
}

func firstMatch(file, prefix string) string {
	f, err := os.Open(file)
	if err != nil {
		return "?"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), prefix) {
			_, v, _ := strings.Cut(sc.Text(), ":")
			return strings.Join(strings.Fields(v), " ")
		}
	}
	return "?"
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// toolVersion runs bin with args and returns its output on one line.
func toolVersion(ctx context.Context, bin string, args ...string) string {
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if err != nil {
		return bin + ": " + err.Error()
	}
	return bin + ": " + strings.Join(strings.Fields(string(out)), " ")
}
