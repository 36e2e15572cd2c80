// Command units-gitopskit is the gitopskit side of the units benchmark
// (../units): it reconciles the benchmark's configuration as its own
// process, so that its peak RSS and CPU time compare with those of Flux's
// controllers. It reads commands from stdin, one per line:
//
//	run    reconcile every unit once; print one JSON line (a result) on stdout
//	quit   exit (so does the end of stdin)
//
// Flags name the kubeconfig (the benchmark's counting proxy), the Git URL,
// the namespace, the number of units, their service account and timeout.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	"k8s.io/client-go/tools/clientcmd"
)

// spec is the benchmark's configuration.
type spec struct {
	URL            string
	Namespace      string
	ServiceAccount string
	Units          int
	Timeout        time.Duration
	// Workers is reconcile.Options.Workers; 0: its default.
	Workers int
}

// outcome is what one run left: Ready units out of Units, and why the
// others are not.
type outcome struct {
	Units    int      `json:"units"`
	Ready    int      `json:"ready"`
	Failures []string `json:"failures,omitempty"`
}

// result is the JSON line printed after each run.
type result struct {
	outcome
	Seconds float64 `json:"seconds"`
	Error   string  `json:"error,omitempty"`
}

func main() {
	var s spec
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig (required)")
	deadline := flag.Duration("deadline", 20*time.Minute, "bound of one run")
	flag.StringVar(&s.URL, "url", "", "Git repository URL (required)")
	flag.StringVar(&s.Namespace, "namespace", "gitopskit-bench", "configuration (and target) namespace")
	flag.StringVar(&s.ServiceAccount, "service-account", "tenant", "service account every unit impersonates")
	flag.IntVar(&s.Units, "units", 20, "number of units")
	flag.DurationVar(&s.Timeout, "timeout", time.Minute, "unit timeout")
	flag.IntVar(&s.Workers, "workers", 0, "reconcile.Options.Workers (0: the default)")
	profile := flag.String("profile", "", "folder for a CPU profile of each run (run-<i>.cpu.pprof) and a heap profile after it (run-<i>.heap.pprof)")
	flag.Parse()
	if err := run(*kubeconfig, *deadline, *profile, s); err != nil {
		fmt.Fprintln(os.Stderr, "units-gitopskit:", err)
		os.Exit(1)
	}
}

func run(kubeconfig string, deadline time.Duration, profile string, s spec) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	e, err := newEngine(cfg, s)
	if err != nil {
		return err
	}
	defer e.close()
	in := bufio.NewScanner(os.Stdin)
	enc := json.NewEncoder(os.Stdout)
	runs := 0
	for in.Scan() {
		switch cmd := strings.TrimSpace(in.Text()); cmd {
		case "run":
			runs++
			stop, err := startProfile(profile, runs)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(context.Background(), deadline)
			t0 := time.Now()
			out, err := e.run(ctx)
			res := result{outcome: out, Seconds: time.Since(t0).Seconds()}
			cancel()
			if perr := stop(); perr != nil {
				return perr
			}
			if err != nil {
				res.Error = err.Error()
			}
			if err := enc.Encode(res); err != nil {
				return err
			}
		case "quit":
			return nil
		case "":
		default:
			return fmt.Errorf("unknown command %q", cmd)
		}
	}
	return in.Err()
}

// startProfile starts a CPU profile of run i into dir (nothing when dir is
// empty) and returns the function that stops it and writes a heap profile.
func startProfile(dir string, i int) (stop func() error, err error) {
	if dir == "" {
		return func() error { return nil }, nil
	}
	base := filepath.Join(dir, fmt.Sprintf("run-%d", i))
	f, err := os.Create(base + ".cpu.pprof")
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() error {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return err
		}
		h, err := os.Create(base + ".heap.pprof")
		if err != nil {
			return err
		}
		if err := pprof.Lookup("allocs").WriteTo(h, 0); err != nil {
			h.Close()
			return err
		}
		return h.Close()
	}, nil
}
