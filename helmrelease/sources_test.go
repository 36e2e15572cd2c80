package helmrelease

import (
	"github.com/gitopskit/gitopskit/cluster"

	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/chartrepo"
)

// A version range picks the newest matching version from an HTTP
// repository; the archive is downloaded once and then served from the
// cache; a new matching version upgrades the release.
func TestHTTPRepoVersionRange(t *testing.T) {
	t.Parallel()
	r, rec := newTestReconciler(t)
	repo := gitopstest.StartChartRepo(t, chartrepo.RepoOptions{Username: "u", Password: "p"})
	for _, v := range []string{"1.0.0", "1.1.0", "1.2.0-rc.1", "2.0.0"} {
		gitopstest.AddChart(t, repo, cmChart("hello", v))
	}
	ns := uniqueNamespace("http-repo")
	rel := Release{
		Name: "hello", Namespace: ns, CreateNamespace: true,
		Chart: ChartRef{RepoURL: repo.URL(), Name: "hello", Version: "1.x", Auth: &BasicAuth{"u", "p"}},
	}
	st := mustReconcile(t, r, rel)
	if st.ChartVersion != "1.1.0" || st.Chart.Version != "1.1.0" {
		t.Fatalf("installed %s, want 1.1.0 (newest stable 1.x)", st.ChartVersion)
	}
	st = mustReconcile(t, r, rel)
	if st.Reason != ReasonUpToDate || repo.Downloads() != 1 || !rec.has("hello", EventChartCacheHit) {
		t.Fatalf("second reconcile: %s, %d downloads, events %v", st.Reason, repo.Downloads(), rec.types("hello"))
	}
	gitopstest.AddChart(t, repo, cmChart("hello", "1.3.0"))
	st = mustReconcile(t, r, rel)
	if st.Reason != ReasonUpgraded || st.ChartVersion != "1.3.0" || repo.Downloads() != 2 {
		t.Fatalf("after 1.3.0 was published: %s %s, %d downloads", st.Reason, st.ChartVersion, repo.Downloads())
	}
	if got := configMapData(t, ns, "hello")["chartVersion"]; got != "1.3.0" {
		t.Errorf("rendered chart version %q", got)
	}
}

// Charts from an OCI registry by exact tag, then by semver range.
func TestOCITagAndRange(t *testing.T) {
	t.Parallel()
	r, _ := newTestReconciler(t)
	reg := gitopstest.StartOCIRegistry(t, chartrepo.RegistryOptions{Username: "u", Password: "p"})
	for _, v := range []string{"1.0.0", "1.1.0", "2.0.0"} {
		gitopstest.PushChart(t, reg, cmChart("hello", v), "charts")
	}
	rel := Release{
		Name: "hello", Namespace: uniqueNamespace("oci"), CreateNamespace: true,
		Chart: ChartRef{RepoURL: reg.URL() + "/charts", Name: "hello", Version: "1.0.0", PlainHTTP: true, Auth: &BasicAuth{"u", "p"}},
	}
	steps := []struct {
		version, want string
		reason        Reason
	}{
		{"1.0.0", "1.0.0", ReasonInstalled},
		{"1.0.0", "1.0.0", ReasonUpToDate},
		{"^1.0", "1.1.0", ReasonUpgraded},
		{">=2.0.0", "2.0.0", ReasonUpgraded},
		{"", "2.0.0", ReasonUpToDate},
	}
	for _, s := range steps {
		rel.Chart.Version = s.version
		st := mustReconcile(t, r, rel)
		if st.ChartVersion != s.want || st.Reason != s.reason {
			t.Fatalf("version %q: got %s (%s), want %s (%s)", s.version, st.ChartVersion, st.Reason, s.want, s.reason)
		}
	}
}

// Fetch failures are typed, and reported before the cluster is touched (the
// Reconciler here points at no cluster at all).
func TestFetchErrors(t *testing.T) {
	t.Parallel()
	repo := gitopstest.StartChartRepo(t, chartrepo.RepoOptions{Username: "u", Password: "p"})
	open := gitopstest.StartChartRepo(t, chartrepo.RepoOptions{})
	reg := gitopstest.StartOCIRegistry(t, chartrepo.RegistryOptions{Username: "u", Password: "p"})
	for _, v := range []string{"1.0.0", "1.1.0"} {
		gitopstest.AddChart(t, repo, cmChart("hello", v))
		gitopstest.AddChart(t, open, cmChart("hello", v))
		gitopstest.PushChart(t, reg, cmChart("hello", v), "charts")
	}
	good, bad := &BasicAuth{"u", "p"}, &BasicAuth{"u", "wrong"}
	oci := func(version string, auth *BasicAuth) ChartRef {
		return ChartRef{RepoURL: reg.URL() + "/charts", Name: "hello", Version: version, PlainHTTP: true, Auth: auth}
	}
	tests := []struct {
		name   string
		chart  ChartRef
		want   error
		status int      // for AuthError
		avail  []string // for ChartNotFoundError
	}{
		{"repo wrong password", ChartRef{RepoURL: repo.URL(), Name: "hello", Auth: bad}, ErrAuthFailed, http.StatusUnauthorized, nil},
		{"repo no credentials", ChartRef{RepoURL: repo.URL(), Name: "hello"}, ErrAuthFailed, http.StatusUnauthorized, nil},
		{"repo missing version", ChartRef{RepoURL: repo.URL(), Name: "hello", Version: "3.x", Auth: good}, ErrChartVersionNotFound, 0, []string{"1.1.0", "1.0.0"}},
		{"repo missing chart", ChartRef{RepoURL: open.URL(), Name: "nope"}, ErrChartNotFound, 0, nil},
		{"repo bad range", ChartRef{RepoURL: open.URL(), Name: "hello", Version: "not a version"}, ErrChartVersionNotFound, 0, []string{"1.1.0", "1.0.0"}},
		{"path missing", ChartRef{Path: "/nonexistent/chart"}, ErrChartNotFound, 0, nil},
		{"repo unreachable", ChartRef{RepoURL: "http://127.0.0.1:1", Name: "hello"}, ErrFetch, 0, nil},
		{"registry wrong password, tag", oci("1.0.0", bad), ErrAuthFailed, http.StatusUnauthorized, nil},
		{"registry wrong password, range", oci("1.x", bad), ErrAuthFailed, http.StatusUnauthorized, nil},
		{"registry no credentials", oci("1.0.0", nil), ErrAuthFailed, http.StatusUnauthorized, nil},
		{"registry missing tag", oci("9.9.9", good), ErrChartVersionNotFound, 0, nil},
		{"registry no version in range", oci("2.x", good), ErrChartVersionNotFound, 0, []string{"1.1.0", "1.0.0"}},
	}
	r, err := NewReconciler(unreachableCluster(t), Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := r.Reconcile(t.Context(), Release{Name: "hello", Namespace: "x", Chart: tt.chart, Timeout: time.Second})
			if !errors.Is(err, tt.want) || st.Reason != ReasonChartFailed || st.Ready {
				t.Fatalf("got reason %s err %v, want %v", st.Reason, err, tt.want)
			}
			var authErr *AuthError
			if tt.status != 0 && (!errors.As(err, &authErr) || authErr.StatusCode != tt.status) {
				t.Errorf("AuthError %+v", authErr)
			}
			var nf *ChartNotFoundError
			if tt.avail != nil && (!errors.As(err, &nf) || !slices.Equal(nf.Available, tt.avail)) {
				t.Errorf("available versions: %+v", nf)
			}
			if strings.Contains(err.Error(), "wrong") {
				t.Errorf("error leaks the password: %v", err)
			}
		})
	}
}

// Without a cache folder, remote charts are refused with a clear error.
func TestRemoteChartNeedsCacheDir(t *testing.T) {
	t.Parallel()
	repo := gitopstest.StartChartRepo(t, chartrepo.RepoOptions{})
	gitopstest.AddChart(t, repo, cmChart("hello", "1.0.0"))
	r, err := NewReconciler(unreachableCluster(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Reconcile(t.Context(), Release{Name: "hello", Namespace: "x", Chart: ChartRef{RepoURL: repo.URL(), Name: "hello"}})
	if err == nil || !strings.Contains(err.Error(), "CacheDir") {
		t.Fatalf("err %v", err)
	}
}

// unreachableCluster is a cluster handle pointing nowhere, for tests that
// must fail before contacting a cluster.
func unreachableCluster(t *testing.T) *cluster.Cluster {
	t.Helper()
	c, err := cluster.New(&rest.Config{Host: "https://127.0.0.1:1"}, cluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
