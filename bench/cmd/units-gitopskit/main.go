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
	"runtime/metrics"
	"runtime/pprof"
	"strings"
	"sync"
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
	profile := flag.String("profile", "", "folder for a CPU profile of each run (run-<i>.cpu.pprof), an allocation profile after it (run-<i>.heap.pprof) "+
		"and a heap profile taken when the live heap was largest (run-<i>.peak.heap.pprof, with its size in run-<i>.peak.txt)")
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
// empty) and a sampler of the live heap, and returns the function that stops
// them and writes the heap profiles.
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
	peak := &peakSampler{path: base + ".peak"}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { peak.run(ctx) })
	return func() error {
		cancel()
		wg.Wait()
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return err
		}
		if peak.err != nil {
			return peak.err
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

// peakSampler reads the live heap (as of the last GC) twice a second and,
// each time it grew by a tenth over the largest seen, writes a heap profile
// to path.heap.pprof and the size to path.txt: at the end they show what
// the heap held when it was largest, which sets the process's peak RSS.
type peakSampler struct {
	path string
	max  uint64
	err  error
}

func (p *peakSampler) run(ctx context.Context) {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		metrics.Read(sample)
		live := sample[0].Value.Uint64()
		if live <= p.max+p.max/10 {
			continue
		}
		p.max = live
		if p.err = p.write(live); p.err != nil {
			return
		}
	}
}

func (p *peakSampler) write(live uint64) error {
	h, err := os.Create(p.path + ".heap.pprof")
	if err != nil {
		return err
	}
	if err := pprof.Lookup("heap").WriteTo(h, 0); err != nil {
		h.Close()
		return err
	}
	if err := h.Close(); err != nil {
		return err
	}
	return os.WriteFile(p.path+".txt", fmt.Appendf(nil, "live heap %d bytes at %s\n", live, time.Now().Format(time.RFC3339)), 0o644)
}
