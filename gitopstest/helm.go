package gitopstest

import (
	"testing"

	"github.com/gitopskit/gitopskit/gitopstest/chartrepo"
)

// StartChartRepo starts an HTTP chart repository on 127.0.0.1 (see package
// [chartrepo]) for the test, and closes it in tb.Cleanup. It fails the test
// if the repository cannot start.
func StartChartRepo(tb testing.TB, opts chartrepo.RepoOptions) *chartrepo.Repo {
	tb.Helper()
	r, err := chartrepo.StartRepo(tb.Context(), opts)
	if err != nil {
		tb.Fatalf("start chart repository: %v", err)
	}
	tb.Cleanup(func() {
		if err := r.Close(); err != nil {
			tb.Errorf("close chart repository: %v", err)
		}
	})
	return r
}

// StartOCIRegistry starts an in-memory OCI registry on 127.0.0.1 (plain
// HTTP, see package [chartrepo]) for the test, and closes it in
// tb.Cleanup.
func StartOCIRegistry(tb testing.TB, opts chartrepo.RegistryOptions) *chartrepo.Registry {
	tb.Helper()
	g, err := chartrepo.StartRegistry(tb.Context(), opts)
	if err != nil {
		tb.Fatalf("start OCI registry: %v", err)
	}
	tb.Cleanup(func() {
		if err := g.Close(); err != nil {
			tb.Errorf("close OCI registry: %v", err)
		}
	})
	return g
}

// PackageChart packages c into a chart archive. It fails the test on
// error.
func PackageChart(tb testing.TB, c chartrepo.Chart) []byte {
	tb.Helper()
	data, err := chartrepo.Package(c)
	if err != nil {
		tb.Fatalf("package chart: %v", err)
	}
	return data
}

// WriteChartDir writes c as a chart directory in a test temp directory and
// returns its path. It fails the test on error.
func WriteChartDir(tb testing.TB, c chartrepo.Chart) string {
	tb.Helper()
	dir, err := chartrepo.WriteDir(tb.TempDir(), c)
	if err != nil {
		tb.Fatalf("write chart: %v", err)
	}
	return dir
}

// AddChart packages c and adds it to repo. It fails the test on error.
func AddChart(tb testing.TB, repo *chartrepo.Repo, c chartrepo.Chart) {
	tb.Helper()
	if err := repo.AddChart(c); err != nil {
		tb.Fatalf("add chart: %v", err)
	}
}

// PushChart packages c and pushes it to reg under repository. It fails the
// test on error and returns the reference pushed.
func PushChart(tb testing.TB, reg *chartrepo.Registry, c chartrepo.Chart, repository string) string {
	tb.Helper()
	ref, err := reg.PushChart(c, repository)
	if err != nil {
		tb.Fatalf("push chart: %v", err)
	}
	return ref
}

// PushArtifact pushes files (slash-separated paths to contents) to reg as
// a Flux artifact (see [chartrepo.FluxLayer]) at repository:tag, as `flux
// push artifact` does, and returns the manifest's digest. It fails the test
// on error.
func PushArtifact(tb testing.TB, reg *chartrepo.Registry, repository, tag string, files map[string]string) string {
	tb.Helper()
	layer, err := chartrepo.FluxLayer(files)
	if err != nil {
		tb.Fatalf("push artifact: %v", err)
	}
	d, err := reg.PushArtifact(tb.Context(), repository, tag, layer)
	if err != nil {
		tb.Fatalf("push artifact: %v", err)
	}
	return d
}
