package helmrelease

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/chartrepo"
)

// chartWithTest adds a test hook to cmChart: a Job, which the simulated
// cluster runs to completion (the test passes), or a bare Pod, which it
// never completes (the test times out and fails).
func chartWithTest(version string, passing bool) chartrepo.Chart {
	c := cmChart("tested", version)
	if passing {
		c.Templates["test.yaml"] = `apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-test
  annotations:
    helm.sh/hook: test
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: test
        image: example.com/test:1
`
	} else {
		c.Templates["test.yaml"] = `apiVersion: v1
kind: Pod
metadata:
  name: {{ .Release.Name }}-test
  annotations:
    helm.sh/hook: test
spec:
  restartPolicy: Never
  containers:
  - name: test
    image: example.com/test:1
`
	}
	return c
}

// Tests run after install and upgrade; a failed test fails the attempt,
// which is remediated, unless failures are ignored.
func TestReleaseTests(t *testing.T) {
	t.Parallel()
	r, rec := newTestReconciler(t)
	rel := Release{
		Name: "tested", Namespace: uniqueNamespace("tests"), CreateNamespace: true,
		Chart:   ChartRef{Path: gitopstest.WriteChartDir(t, chartWithTest("1.0.0", true))},
		Timeout: 30 * time.Second,
		Test:    TestPolicy{Enable: true},
	}
	st := mustReconcile(t, r, rel)
	if !slices.Equal(st.Actions, []Action{ActionInstall, ActionTest}) || !rec.has("tested", EventTestSucceeded) {
		t.Fatalf("install with a passing test: actions %v events %v", st.Actions, rec.types("tested"))
	}

	rel.Chart.Path = gitopstest.WriteChartDir(t, chartWithTest("1.1.0", false))
	rel.Timeout = 5 * time.Second
	st, err := r.Reconcile(t.Context(), rel)
	var relErr *ReleaseError
	if !errors.Is(err, ErrRetriesExhausted) || !errors.As(err, &relErr) || relErr.Action != ActionTest || relErr.Remediation != ActionRollback {
		t.Fatalf("failing test: reason %s err %v", st.Reason, err)
	}
	if st.ChartVersion != "1.0.0" || revisions(st) != "3:deployed 2:failed! 1:superseded" {
		t.Errorf("after the failed test: chart %s history %s", st.ChartVersion, revisions(st))
	}

	// Ignoring test failures is not a new chart or new values: still exhausted.
	rel.Test.IgnoreFailures = true
	st, err = r.Reconcile(t.Context(), rel)
	if !errors.Is(err, ErrRetriesExhausted) {
		t.Fatalf("ignoring failures does not reset the count: %v", err)
	}
	rel.Values = map[string]any{"message": "new"}
	st = mustReconcile(t, r, rel)
	if st.ChartVersion != "1.1.0" || !rec.has("tested", EventTestFailed) {
		t.Fatalf("ignored failing test: %s %s", st.Reason, st.ChartVersion)
	}
}
