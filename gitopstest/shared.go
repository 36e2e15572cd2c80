package gitopstest

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/gitopskit/gitopskit/gitopstest/localcluster"
)

// SharedCluster is the cluster the tests of one package share. It starts the
// first time a test asks for it ([SharedCluster.Get]), so that a run of
// tests that need no cluster (a narrow -run, or go test -short) starts none,
// and [SharedCluster.Run] stops it after the last test:
//
//	var shared = gitopstest.NewSharedCluster(localcluster.Options{})
//
//	func TestMain(m *testing.M) { os.Exit(shared.Run(m)) }
//
//	func TestSomething(t *testing.T) {
//		cfg := shared.Get(t).Config // skips the test with -short
//		...
//	}
//
// Its methods are safe for concurrent use.
type SharedCluster struct {
	opts localcluster.Options
	// sem is held while the cluster starts or stops; it guards the fields
	// below. A channel rather than a mutex, so that a test waiting for
	// another test's start still honours its own context.
	sem     chan struct{}
	cluster *localcluster.Cluster
	err     error // a start error, returned to every later caller
	stopped bool
}

// NewSharedCluster returns a SharedCluster that starts a cluster with opts
// on first use. Progress goes to opts.Log, default stderr.
func NewSharedCluster(opts localcluster.Options) *SharedCluster {
	if opts.Log == nil {
		opts.Log = os.Stderr
	}
	return &SharedCluster{opts: opts, sem: make(chan struct{}, 1)}
}

// Get returns the cluster, starting it if no test has yet. With -short it
// skips tb instead: tests against a cluster are the slow end-to-end tests.
// It fails tb when the cluster cannot start.
func (s *SharedCluster) Get(tb testing.TB) *localcluster.Cluster {
	tb.Helper()
	if testing.Short() {
		tb.Skip("needs a cluster: skipped with -short")
	}
	c, err := s.start(tb.Context(), tb.Name())
	if err != nil {
		tb.Fatalf("shared cluster: %v", err)
	}
	return c
}

// Start returns the cluster, starting it on the first call, for callers that
// have no testing.TB (Examples). It does not skip with -short (an Example
// cannot skip itself): name such Examples in [SharedCluster.Run] instead. A
// start that failed fails every later call the same way, unless it failed
// only because ctx ended.
func (s *SharedCluster) Start(ctx context.Context) (*localcluster.Cluster, error) {
	return s.start(ctx, "")
}

// start starts the cluster for the test named test ("": not a test).
func (s *SharedCluster) start(ctx context.Context, test string) (*localcluster.Cluster, error) {
	select {
	case s.sem <- struct{}{}: // free: take it even when ctx is done (t.Cleanup's t.Context is)
	default:
		select {
		case s.sem <- struct{}{}:
		case <-ctx.Done():
			return nil, fmt.Errorf("gitopstest: waiting for the shared cluster: %w", ctx.Err())
		}
	}
	defer func() { <-s.sem }()
	switch {
	case s.cluster != nil:
		return s.cluster, nil
	case s.err != nil:
		return nil, s.err
	case s.stopped:
		return nil, errors.New("gitopstest: the shared cluster was stopped")
	}
	if test == "" && testing.Testing() && flag.Parsed() && testing.Short() {
		s.logf("an Example starts the shared cluster with -short: name it in SharedCluster.Run")
	}
	what := "a bare API server"
	if s.opts.Simulated {
		what = "a simulated cluster"
	}
	if test != "" {
		s.logf("starting %s, shared by the package's tests, for %s", what, test)
	} else {
		s.logf("starting %s, shared by the package's tests", what)
	}
	c, err := localcluster.Start(ctx, s.opts)
	if err != nil {
		err = fmt.Errorf("gitopstest: %w", err)
		if ctx.Err() == nil { // not the caller's cancellation: it would fail again
			s.err = err
		}
		return nil, err
	}
	s.cluster = c
	return c, nil
}

// Started reports whether a test started the cluster.
func (s *SharedCluster) Started() bool {
	s.sem <- struct{}{}
	defer func() { <-s.sem }()
	return s.cluster != nil
}

// Stop stops the cluster if it was started. Later calls of Get and Start
// fail.
func (s *SharedCluster) Stop() error {
	s.sem <- struct{}{}
	defer func() { <-s.sem }()
	s.stopped = true
	if s.cluster == nil {
		return nil
	}
	err := s.cluster.Stop()
	s.cluster = nil
	if err != nil {
		return fmt.Errorf("gitopstest: stop the shared cluster: %w", err)
	}
	return nil
}

// Run is for TestMain: it runs the package's tests, then stops the cluster if
// one of them started it, and returns the exit code for os.Exit.
//
// Examples cannot skip themselves: list the package's Examples that use the
// cluster (through [SharedCluster.Start]) in examples, and with -short Run
// skips them (by adding them to -test.skip), so that -short starts no
// cluster.
func (s *SharedCluster) Run(m *testing.M, examples ...string) int {
	if !flag.Parsed() {
		flag.Parse()
	}
	if testing.Short() && len(examples) > 0 {
		if err := skipExamples(examples); err != nil {
			fmt.Fprintf(os.Stderr, "gitopstest: %v\n", err)
			return 1
		}
	}
	code := m.Run()
	if err := s.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// skipExamples adds names to the -test.skip flag. A -skip pattern given
// with a "/" (a pattern for subtests) is left alone: the Examples then run
// and start the cluster.
func skipExamples(names []string) error {
	f := flag.Lookup("test.skip")
	if f == nil {
		return nil
	}
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = regexp.QuoteMeta(n)
	}
	pattern := "^(" + strings.Join(quoted, "|") + ")$"
	switch old := f.Value.String(); {
	case strings.Contains(old, "/"):
		return nil
	case old != "":
		pattern = old + "|" + pattern
	}
	if err := flag.Set("test.skip", pattern); err != nil {
		return fmt.Errorf("skip the Examples that need a cluster: %w", err)
	}
	return nil
}

func (s *SharedCluster) logf(format string, args ...any) {
	w := s.opts.Log
	if w == nil {
		w = io.Discard
	}
	fmt.Fprintf(w, "gitopstest: "+format+"\n", args...)
}
