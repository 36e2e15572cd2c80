package helmrelease

import (
	"errors"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/gitopstest/chartrepo"
	"github.com/gitopskit/gitopskit/gitopstest/kubeassets"
	"github.com/gitopskit/gitopskit/helmrelease/internal/driver"
)

// With KeepLastFailed (Flux's default for installs: remediateLastFailure
// false), a failed install is uninstalled between retries and the last
// one is left in place; it stays, with no further attempt, until the
// values change, and is then uninstalled before the next install.
func TestFailedInstallKeepsLastFailure(t *testing.T) {
	t.Parallel()
	r, rec := newTestReconciler(t)
	ns := uniqueNamespace("keeplast")
	rel := Release{
		Name: "web", Namespace: ns, CreateNamespace: true,
		Chart:   ChartRef{Path: gitopstest.WriteChartDir(t, appChart("1.0.0"))},
		Values:  map[string]any{"neverReady": true},
		Timeout: 8 * time.Second,
		Install: InstallPolicy{Retries: 1, KeepLastFailed: true},
	}
	st, err := r.Reconcile(t.Context(), rel)
	if !errors.Is(err, ErrRetriesExhausted) || st.Reason != ReasonRetriesExhausted {
		t.Fatalf("failing install: reason %s err %v", st.Reason, err)
	}
	if want := []Action{ActionInstall, ActionUninstall, ActionInstall}; !slices.Equal(st.Actions, want) {
		t.Errorf("actions %v, want %v", st.Actions, want)
	}
	if st.ReleaseStatus != string(driver.StatusFailed) || st.Failures != 2 {
		t.Errorf("status %s failures %d, want the failed install kept and 2 failures", st.ReleaseStatus, st.Failures)
	}
	if _, err := clientset(t).AppsV1().Deployments(ns).Get(t.Context(), "web", metav1.GetOptions{}); err != nil {
		t.Errorf("the last failed install's Deployment should be kept: %v", err)
	}

	st, err = r.Reconcile(t.Context(), rel)
	if !errors.Is(err, ErrRetriesExhausted) || len(st.Actions) != 0 {
		t.Fatalf("again: err %v actions %v", err, st.Actions)
	}

	rel.Values = map[string]any{"neverReady": false}
	st = mustReconcile(t, r, rel)
	if want := []Action{ActionUninstall, ActionInstall}; st.Reason != ReasonInstalled || !slices.Equal(st.Actions, want) {
		t.Fatalf("after fix: reason %s actions %v (history %s)", st.Reason, st.Actions, revisions(st))
	}
	if !rec.has("web", EventRetriesExhausted) {
		t.Errorf("events %v", rec.types("web"))
	}
}

// selectorChart is a Deployment whose selector gains a "tier" label when
// the value tier is set: an upgrade that sets it changes an immutable
// field and fails at once, a fresh install of it succeeds (unless
// neverReady keeps its Pods from becoming ready).
func selectorChart() chartrepo.Chart {
	return chartrepo.Chart{
		Name: "sel", Version: "1.0.0",
		Values: "tier: \"\"\n",
		Templates: map[string]string{"deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  replicas: 1
  selector:
    matchLabels:
      app: {{ .Release.Name }}
      {{- with .Values.tier }}
      tier: {{ . }}
      {{- end }}
  template:
    metadata:
      labels:
        app: {{ .Release.Name }}
        {{- with .Values.tier }}
        tier: {{ . }}
        {{- end }}
        {{- if .Values.neverReady }}
        ` + kubeassets.NeverReadyLabel + `: "true"
        {{- end }}
    spec:
      containers:
      - name: app
        image: example.com/app:1
`},
	}
}

// A failed upgrade (an immutable selector change) is remediated as the
// policy says: rolled back, uninstalled and installed again, or kept.
func TestFailedUpgradeRemediation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		policy   UpgradePolicy
		ready    bool
		actions  []Action
		history  string
		selector string // the live Deployment's tier selector
	}{
		{"rollback", UpgradePolicy{}, false,
			[]Action{ActionUpgrade, ActionRollback}, "3:deployed 2:failed! 1:superseded", ""},
		{"uninstall", UpgradePolicy{Remediation: RemediateUninstall}, true,
			[]Action{ActionUpgrade, ActionUninstall, ActionInstall}, "3:deployed 2:superseded! 1:superseded", "front"},
		{"keep-last-failed", UpgradePolicy{KeepLastFailed: true}, false,
			[]Action{ActionUpgrade}, "2:failed! 1:deployed", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, _ := newTestReconciler(t)
			ns := uniqueNamespace("upfail-" + tt.name)
			rel := Release{
				Name: "web", Namespace: ns, CreateNamespace: true,
				Chart:   ChartRef{Path: gitopstest.WriteChartDir(t, selectorChart())},
				Timeout: time.Minute,
				Upgrade: tt.policy,
			}
			mustReconcile(t, r, rel)

			rel.Values = map[string]any{"tier": "front"}
			st, err := r.Reconcile(t.Context(), rel)
			if st.Ready != tt.ready || (err == nil) != tt.ready {
				t.Fatalf("ready %v (reason %s) err %v, want ready %v", st.Ready, st.Reason, err, tt.ready)
			}
			if !tt.ready && !errors.Is(err, ErrRetriesExhausted) {
				t.Errorf("err %v, want retries exhausted", err)
			}
			if tt.ready && st.Reason != ReasonInstalled {
				t.Errorf("reason %s, want %s", st.Reason, ReasonInstalled)
			}
			if !slices.Equal(st.Actions, tt.actions) {
				t.Errorf("actions %v, want %v", st.Actions, tt.actions)
			}
			if got := revisions(st); got != tt.history {
				t.Errorf("history %s, want %s", got, tt.history)
			}
			dep, err := clientset(t).AppsV1().Deployments(ns).Get(t.Context(), "web", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := dep.Spec.Selector.MatchLabels["tier"]; got != tt.selector {
				t.Errorf("live selector tier %q, want %q", got, tt.selector)
			}
		})
	}
}

// An upgrade remediated by uninstalling is followed by an install counted
// against the install retries; when that install fails too and
// KeepLastFailed keeps it, it is known as a failed install (although
// older revisions were deployed): the next change uninstalls it and
// installs again.
func TestUninstalledUpgradeThenFailedInstall(t *testing.T) {
	t.Parallel()
	r, _ := newTestReconciler(t)
	ns := uniqueNamespace("upfail-reinstall")
	rel := Release{
		Name: "web", Namespace: ns, CreateNamespace: true,
		Chart:   ChartRef{Path: gitopstest.WriteChartDir(t, selectorChart())},
		Timeout: 8 * time.Second,
		Install: InstallPolicy{KeepLastFailed: true},
		Upgrade: UpgradePolicy{Remediation: RemediateUninstall},
	}
	mustReconcile(t, r, rel)

	rel.Values = map[string]any{"tier": "front", "neverReady": true}
	st, err := r.Reconcile(t.Context(), rel)
	if !errors.Is(err, ErrRetriesExhausted) {
		t.Fatalf("err %v, want retries exhausted", err)
	}
	if want := []Action{ActionUpgrade, ActionUninstall, ActionInstall}; !slices.Equal(st.Actions, want) {
		t.Errorf("actions %v, want %v", st.Actions, want)
	}
	if got, want := revisions(st), "3:failed! 2:superseded! 1:superseded"; got != want {
		t.Errorf("history %s, want %s", got, want)
	}
	st, err = r.Reconcile(t.Context(), rel)
	if !errors.Is(err, ErrRetriesExhausted) || len(st.Actions) != 0 {
		t.Fatalf("again: err %v actions %v", err, st.Actions)
	}

	rel.Values = map[string]any{"tier": "front"}
	st = mustReconcile(t, r, rel)
	if want := []Action{ActionUninstall, ActionInstall}; st.Reason != ReasonInstalled || !slices.Equal(st.Actions, want) {
		t.Errorf("after fix: reason %s actions %v, want installed after %v (history %s)", st.Reason, st.Actions, want, revisions(st))
	}
}

// Validate refuses an unknown upgrade remediation strategy.
func TestValidateRemediationStrategy(t *testing.T) {
	rel := Release{Name: "web", Namespace: "ns", Chart: ChartRef{Path: "/chart"}, Upgrade: UpgradePolicy{Remediation: "reinstall"}}
	if err := rel.Validate(); !errors.Is(err, ErrInvalidSpec) {
		t.Fatalf("Validate: %v, want ErrInvalidSpec", err)
	}
}

// With RetryOnFailure (Flux's install and upgrade strategy of that name) a
// failure is neither remediated nor retried within the call, each call
// makes one attempt, a failed install is upgraded, and there is no retry
// budget to exhaust.
func TestRetryOnFailure(t *testing.T) {
	t.Parallel()
	t.Run("install", func(t *testing.T) {
		t.Parallel()
		r, _ := newTestReconciler(t)
		ns := uniqueNamespace("retry-install")
		rel := Release{
			Name: "web", Namespace: ns, CreateNamespace: true,
			Chart:   ChartRef{Path: gitopstest.WriteChartDir(t, appChart("1.0.0"))},
			Values:  map[string]any{"neverReady": true},
			Timeout: 5 * time.Second,
			Install: InstallPolicy{RetryOnFailure: true},
		}
		for i, want := range []Action{ActionInstall, ActionUpgrade} {
			st, err := r.Reconcile(t.Context(), rel)
			var relErr *ReleaseError
			if !errors.As(err, &relErr) || errors.Is(err, ErrRetriesExhausted) || st.Reason != ReasonInstallFailed {
				t.Fatalf("attempt %d: reason %s err %v, want an install failure, retries not exhausted", i+1, st.Reason, err)
			}
			if !slices.Equal(st.Actions, []Action{want}) || relErr.Remediation != "" {
				t.Errorf("attempt %d: actions %v remediation %q, want only %s", i+1, st.Actions, relErr.Remediation, want)
			}
			if st.ReleaseStatus != string(driver.StatusFailed) || st.Failures != i+1 {
				t.Errorf("attempt %d: status %s failures %d (history %s), want the failure kept", i+1, st.ReleaseStatus, st.Failures, revisions(st))
			}
			if _, err := clientset(t).AppsV1().Deployments(ns).Get(t.Context(), "web", metav1.GetOptions{}); err != nil {
				t.Errorf("attempt %d: the failed install's Deployment should be kept: %v", i+1, err)
			}
		}
		rel.Values = map[string]any{"neverReady": false}
		st := mustReconcile(t, r, rel)
		if st.Reason != ReasonUpgraded || !slices.Equal(st.Actions, []Action{ActionUpgrade}) {
			t.Errorf("after fix: reason %s actions %v (history %s), want the failed install upgraded", st.Reason, st.Actions, revisions(st))
		}
	})
	t.Run("upgrade", func(t *testing.T) {
		t.Parallel()
		r, _ := newTestReconciler(t)
		ns := uniqueNamespace("retry-upgrade")
		rel := Release{
			Name: "web", Namespace: ns, CreateNamespace: true,
			Chart:   ChartRef{Path: gitopstest.WriteChartDir(t, selectorChart())},
			Timeout: time.Minute,
			Upgrade: UpgradePolicy{RetryOnFailure: true, Retries: 3},
		}
		mustReconcile(t, r, rel)
		rel.Values = map[string]any{"tier": "front"} // an immutable selector change
		for i, history := range []string{"2:failed! 1:deployed", "3:failed! 2:failed! 1:deployed"} {
			st, err := r.Reconcile(t.Context(), rel)
			if err == nil || errors.Is(err, ErrRetriesExhausted) || st.Reason != ReasonUpgradeFailed {
				t.Fatalf("attempt %d: reason %s err %v, want an upgrade failure", i+1, st.Reason, err)
			}
			if !slices.Equal(st.Actions, []Action{ActionUpgrade}) || revisions(st) != history {
				t.Errorf("attempt %d: actions %v history %s, want one upgrade, not rolled back: %s", i+1, st.Actions, revisions(st), history)
			}
		}
		rel.Values = nil
		if st := mustReconcile(t, r, rel); st.Reason != ReasonUpgraded {
			t.Errorf("after fix: reason %s (history %s)", st.Reason, revisions(st))
		}
	})
}
