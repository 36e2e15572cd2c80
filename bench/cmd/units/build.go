package main

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// binaries are the tool processes the benchmark starts, built into bin/
// (git-ignored), and the Flux CRDs from the module cache.
type binaries struct {
	gitopskit           string
	kustomizeController string
	sourceController    string
	fluxCRDs            []string // config/crd/bases of both controllers' modules
}

// goToolchain is what every go command of the bench module needs (see
// ../../README.md).
const goToolchain = "go1.27.3"

func buildAll(ctx context.Context, c config) (binaries, error) {
	var b binaries
	bin, err := filepath.Abs("bin")
	if err != nil {
		return b, err
	}
	b.gitopskit = filepath.Join(bin, "units-gitopskit")
	// Always rebuilt: it is the library under test (the build cache makes
	// an unchanged rebuild quick).
	if _, err := goCmd(ctx, ".", "build", "-o", b.gitopskit, "./cmd/units-gitopskit"); err != nil {
		return b, err
	}
	if !slices.Contains(c.tools, toolFlux) {
		return b, nil
	}
	for _, name := range []string{"kustomize-controller", "source-controller"} {
		mod := filepath.Join("flux", name)
		out := filepath.Join(bin, name)
		if _, err := os.Stat(out); err != nil || c.rebuild {
			log.Printf("building %s %s from the module proxy into bin/ (minutes the first time)", name, fluxVersion)
			if _, err := goCmd(ctx, mod, "build", "-trimpath", "-o", out, "github.com/fluxcd/"+name); err != nil {
				return b, err
			}
		}
		dir, err := goCmd(ctx, mod, "list", "-m", "-f", "{{.Dir}}", "github.com/fluxcd/"+name)
		if err != nil {
			return b, err
		}
		b.fluxCRDs = append(b.fluxCRDs, filepath.Join(dir, "config", "crd", "bases"))
		if name == "kustomize-controller" {
			b.kustomizeController = out
		} else {
			b.sourceController = out
		}
	}
	return b, nil
}

// goCmd runs a go command in dir with the bench's toolchain and returns its
// trimmed standard output.
func goCmd(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN="+goToolchain)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go %s (in %s): %w\n%s", strings.Join(args, " "), dir, err, errb.String())
	}
	return strings.TrimSpace(out.String()), nil
}

// info describes the machine and the versions of a run.
type info struct {
	Date      string `json:"date"`
	CPUs      int    `json:"cpus"`
	CPU       string `json:"cpu"`
	Memory    string `json:"memory"`
	Go        string `json:"go"`
	Kube      string `json:"kube"`
	Gitopskit string `json:"gitopskit"`
	// ControllerQPS is kube-controller-manager's --kube-api-qps.
	ControllerQPS int `json:"controllerQPS,omitempty"`
	// LoadAvg is /proc/loadavg when the benchmark started.
	LoadAvg string `json:"loadavg,omitempty"`
}

func collectInfo(ctx context.Context) info {
	in := info{Date: time.Now().UTC().Format("2006-01-02"), CPUs: runtime.NumCPU()}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		in.LoadAvg = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				in.CPU = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0]); len(f) >= 2 {
			in.Memory = f[1] + " kB"
		}
	}
	in.Go, _ = goCmd(ctx, ".", "env", "GOVERSION")
	in.Kube, _ = goCmd(ctx, ".", "list", "-m", "-f", "{{.Version}}", "k8s.io/client-go")
	in.Gitopskit = gitopskitVersion()
	return in
}

// gitopskitVersion is the commit of the library under test (the bench module
// replaces it with ../), with "+dirty" when the tree has changes.
func gitopskitVersion() string {
	out, err := exec.Command("git", "-C", "..", "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return "(unknown commit)"
	}
	v := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "-C", "..", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(bytes.TrimSpace(st)) > 0 {
		v += "+dirty"
	}
	return v
}
