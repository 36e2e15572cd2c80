package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// cmdResult is one run of an external command.
type cmdResult struct {
	dur time.Duration
	// maxRSS is the largest peak resident set size (VmHWM) of any process
	// of the command's tree, sampled from /proc every 5 ms while it runs.
	// (getrusage's ru_maxrss is no use here: a child started with vfork
	// inherits the parent's high-water mark at exec, so it reports the
	// benchmark process's own size.)
	maxRSS         uint64
	stdout, stderr string
}

// runCmd runs name with args, in dir when not empty, with extra environment
// variables, and fails with the command's output if it fails.
func runCmd(ctx context.Context, dir string, env []string, name string, args ...string) (cmdResult, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	if len(env) > 0 {
		cmd.Env = append(cmd.Environ(), env...)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	t0 := time.Now()
	err := cmd.Start()
	var peak uint64
	if err == nil {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() { peak = sampleRSS(cmd.Process.Pid, stop) })
		err = cmd.Wait()
		close(stop)
		wg.Wait()
	}
	res := cmdResult{dur: time.Since(t0), maxRSS: peak, stdout: out.String(), stderr: errb.String()}
	if err != nil {
		return res, fmt.Errorf("%s %s: %w\n%s%s", name, strings.Join(args, " "), err, tailLines(res.stdout, 10), tailLines(res.stderr, 30))
	}
	return res, nil
}

// sampleRSS returns the largest VmHWM seen in pid's process tree until stop
// is closed.
func sampleRSS(pid int, stop <-chan struct{}) uint64 {
	var peak uint64
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		for _, p := range processTree(pid) {
			if v := vmHWM(p); v > peak {
				peak = v
			}
		}
		select {
		case <-stop:
			return peak
		case <-t.C:
		}
	}
}

// processTree returns pid and its descendants (from /proc/<pid>/task/*/children).
func processTree(pid int) []int {
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", out[i]))
		if err != nil {
			continue
		}
		for _, t := range tasks {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", out[i], t.Name()))
			if err != nil {
				continue
			}
			for _, f := range strings.Fields(string(b)) {
				if c, err := strconv.Atoi(f); err == nil {
					out = append(out, c)
				}
			}
		}
	}
	return out
}

// vmHWM returns a process's peak resident set size in bytes, 0 if unknown.
func vmHWM(pid int) uint64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(v)
			if len(f) >= 1 {
				kb, _ := strconv.ParseUint(f[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}

func tailLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	if len(l) == 1 && l[0] == "" {
		return ""
	}
	return strings.Join(l, "\n") + "\n"
}
