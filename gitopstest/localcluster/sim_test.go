package localcluster

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// The simulated cluster is ready only when the scheduler would place a Pod
// on every fake node: kwok marks a node Ready before the node lifecycle
// controller lifts the not-ready taint the node was created with.
func TestNodeNotSchedulable(t *testing.T) {
	ready := corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}
	notReady := corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionFalse}}}
	taint := func(key string) corev1.NodeSpec {
		return corev1.NodeSpec{Taints: []corev1.Taint{{Key: key, Effect: corev1.TaintEffectNoSchedule}}}
	}
	tests := []struct {
		name string
		node corev1.Node
		want string
	}{
		{"ready", corev1.Node{Status: ready}, ""},
		{"no conditions yet", corev1.Node{}, "is not Ready"},
		{"not ready", corev1.Node{Status: notReady}, "is not Ready"},
		{"ready but still tainted not-ready", corev1.Node{Spec: taint(corev1.TaintNodeNotReady), Status: ready},
			"has taint node.kubernetes.io/not-ready:NoSchedule"},
		{"unreachable", corev1.Node{Spec: taint(corev1.TaintNodeUnreachable), Status: ready},
			"has taint node.kubernetes.io/unreachable:NoSchedule"},
		{"cordoned", corev1.Node{Spec: corev1.NodeSpec{Unschedulable: true}, Status: ready}, "is cordoned"},
		{"other taints are the user's", corev1.Node{Spec: taint("example.com/dedicated"), Status: ready}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := nodeNotSchedulable(&tt.node); got != tt.want {
				t.Errorf("nodeNotSchedulable = %q, want %q", got, tt.want)
			}
		})
	}
}
