package faults_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gitopskit/gitopskit/gitopstest/gitserver"
	"github.com/gitopskit/gitopskit/inventory"
	"github.com/gitopskit/gitopskit/reconcile"
)

// TestNoSilentTakeoverWithinOneRun is issue 18's second data loss: two new
// units of one configuration, with no dependsOn between them (so reconciled
// in parallel), both declare ConfigMap "shared". One used to create it and
// the other to "configure" it, both Ready, the object ending as the
// second's. Ownership is now decided before anything is applied. Five
// attempts, each with fresh names (configuration, namespace, units' records):
//
//   - exactly one unit is Ready; the other is NotReady (PolicyViolation) with
//     a *reconcile.OwnershipConflictError naming both units and the object,
//     and applied nothing (its own other object does not exist);
//   - "shared" carries the winner's ownership labels and data;
//   - the messages name units, never an ApplySet ID;
//   - a second run of the same Reconciler gives the same answer (a fresh
//     one too: TestClaimsSurviveRestart);
//   - once the claimant drops the object, both converge and "shared" is the
//     same object (UID).
func TestNoSilentTakeoverWithinOneRun(t *testing.T) {
	c := sharedCluster(t)
	wins := map[string]int{}
	for i := range 5 {
		t.Run(fmt.Sprintf("attempt-%d", i), func(t *testing.T) {
			name := unique(fmt.Sprintf("takeover-%d", i))
			ns := name
			e := newEnv(t, c, name, map[string]string{
				"one/shared.yaml": cmYAML(ns, "shared", "one"), "one/own.yaml": cmYAML(ns, "own-one", "1"),
				"two/shared.yaml": cmYAML(ns, "shared", "two"), "two/own.yaml": cmYAML(ns, "own-two", "1"),
			}, reconcile.Unit{Name: "one", Path: "one", Prune: true}, reconcile.Unit{Name: "two", Path: "two", Prune: true})
			e.plantSentinels(ns)
			r := e.reconciler(nil, reconcile.Options{})
			s := e.run(r)
			var winner, loser string
			for _, u := range s.Units {
				if u.Phase == reconcile.PhaseReady {
					if winner != "" {
						t.Fatalf("both units Ready (a silent takeover): %s", s)
					}
					winner = u.Name
				}
			}
			if winner == "" {
				t.Fatalf("no unit Ready: %s", s)
			}
			loser = map[string]string{"one": "two", "two": "one"}[winner]
			wins[winner]++
			t.Logf("attempt %d: %s owns shared", i, winner)
			cm, err := e.kube.CoreV1().ConfigMaps(ns).Get(t.Context(), "shared", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			e.checkClaim(s, winner, loser, ns, cm.UID)
			e.check()

			t.Log("a second run of the same Reconciler: the same answer")
			e.events.reset()
			e.checkClaim(e.run(r), winner, loser, ns, cm.UID)

			t.Log("the claimant drops shared: converges, shared is the same object")
			e.commit(gitserver.CommitOptions{Delete: []string{loser + "/shared.yaml"}})
			e.converge(r)
			after, err := e.kube.CoreV1().ConfigMaps(ns).Get(t.Context(), "shared", metav1.GetOptions{})
			if err != nil || after.UID != cm.UID || after.Data["value"] != winner {
				t.Errorf("shared after the claimant dropped it: %v %v", after.Data, err)
			}
			if v, err := e.configMapValue(ns, "own-"+loser); err != nil || v != "1" {
				t.Errorf("own-%s after the fix: %q %v", loser, v, err)
			}
		})
	}
	t.Logf("winners over 5 attempts: %v", wins)
}

// checkClaim asserts that winner is Ready and owns ConfigMap "shared" (the
// object uid), and that loser was refused before applying anything, with an
// error naming both units and no ApplySet ID.
func (e *env) checkClaim(s reconcile.Status, winner, loser, ns string, uid types.UID) {
	e.t.Helper()
	t := e.t
	if u := unitStatus(t, s, winner); u.Phase != reconcile.PhaseReady {
		t.Errorf("owner %s: %s (%s) %s", winner, u.Phase, u.Reason, u.Message)
	}
	u := unitStatus(t, s, loser)
	if u.Phase != reconcile.PhaseNotReady || u.Reason != reconcile.ReasonPolicyViolation {
		t.Errorf("claimant %s: %s (%s) %q, want NotReady (PolicyViolation)", loser, u.Phase, u.Reason, u.Message)
	}
	for _, want := range []string{"unit " + loser, "unit " + winner, "shared"} {
		if !strings.Contains(u.Message, want) {
			t.Errorf("claimant's message %q does not name %q", u.Message, want)
		}
	}
	for _, unit := range []string{winner, loser} {
		st := unitStatus(t, s, unit)
		if id := e.owner(unit).ID; strings.Contains(st.Message, id) || strings.Contains(st.Message, "applyset-") {
			t.Errorf("unit %s's message names an ApplySet ID: %q", unit, st.Message)
		}
	}
	var conflict *reconcile.OwnershipConflictError
	for _, err := range e.events.errs(loser) {
		if errors.As(err, &conflict) {
			break
		}
	}
	switch {
	case conflict == nil:
		t.Errorf("no event of %s carries a *reconcile.OwnershipConflictError: %v", loser, e.events.errs(loser))
	case conflict.Unit != loser || !strings.Contains(strings.Join(conflict.Objects, ";"), "unit "+winner):
		t.Errorf("OwnershipConflictError %+v, want unit %s, object also declared by unit %s", conflict, loser, winner)
	case !errors.Is(conflict, reconcile.ErrInvalidConfiguration):
		t.Errorf("the conflict does not match reconcile.ErrInvalidConfiguration")
	}
	if e.events.reached(loser, reconcile.StageApply, reconcile.StagePrune) {
		t.Errorf("the claimant %s went on to apply or prune", loser)
	}
	cm, err := e.kube.CoreV1().ConfigMaps(ns).Get(t.Context(), "shared", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cm.UID != uid || cm.Labels[inventory.LabelApplySetPartOf] != e.owner(winner).ID || cm.Labels[inventory.LabelUnit] != e.owner(winner).Unit || cm.Data["value"] != winner {
		t.Errorf("shared: uid %s labels %v data %v, want %s's", cm.UID, cm.Labels, cm.Data, winner)
	}
	if _, ok := e.loadInventory(loser).Get(inventoryID(ns, "shared")); ok {
		t.Errorf("the claimant's inventory lists shared")
	}
	if _, err := e.configMapValue(ns, "own-"+loser); err == nil {
		t.Errorf("own-%s exists: the refused claimant applied", loser)
	}
}
