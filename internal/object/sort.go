package object

import (
	"cmp"
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The tiers of the apply order, lowest first. See [Rank].
const (
	RankCRD                    = iota // CustomResourceDefinitions
	RankNamespace                     // Namespaces
	RankClusterPrerequisite           // ClusterRoles, StorageClasses, PriorityClasses, ...
	RankNamespacedPrerequisite        // ServiceAccounts, Roles, ConfigMaps, Secrets, Services, ...
	RankWorkload                      // Deployments, StatefulSets, DaemonSets, Jobs, ...
	RankOther                         // everything else, custom resources included
	RankLast                          // admission webhooks and APIServices
)

var ranks = map[schema.GroupKind]int{
	{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}: RankCRD,

	{Kind: "Namespace"}: RankNamespace,

	{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole"}:                   RankClusterPrerequisite,
	{Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding"}:            RankClusterPrerequisite,
	{Group: "storage.k8s.io", Kind: "StorageClass"}:                             RankClusterPrerequisite,
	{Group: "storage.k8s.io", Kind: "CSIDriver"}:                                RankClusterPrerequisite,
	{Group: "storage.k8s.io", Kind: "VolumeAttributesClass"}:                    RankClusterPrerequisite,
	{Group: "scheduling.k8s.io", Kind: "PriorityClass"}:                         RankClusterPrerequisite,
	{Group: "networking.k8s.io", Kind: "IngressClass"}:                          RankClusterPrerequisite,
	{Group: "node.k8s.io", Kind: "RuntimeClass"}:                                RankClusterPrerequisite,
	{Group: "policy", Kind: "PodSecurityPolicy"}:                                RankClusterPrerequisite,
	{Group: "flowcontrol.apiserver.k8s.io", Kind: "FlowSchema"}:                 RankClusterPrerequisite,
	{Group: "flowcontrol.apiserver.k8s.io", Kind: "PriorityLevelConfiguration"}: RankClusterPrerequisite,
	{Kind: "PersistentVolume"}:                                                  RankClusterPrerequisite,

	{Kind: "ResourceQuota"}:                                   RankNamespacedPrerequisite,
	{Kind: "LimitRange"}:                                      RankNamespacedPrerequisite,
	{Kind: "ServiceAccount"}:                                  RankNamespacedPrerequisite,
	{Group: "rbac.authorization.k8s.io", Kind: "Role"}:        RankNamespacedPrerequisite,
	{Group: "rbac.authorization.k8s.io", Kind: "RoleBinding"}: RankNamespacedPrerequisite,
	{Kind: "ConfigMap"}:                                       RankNamespacedPrerequisite,
	{Kind: "Secret"}:                                          RankNamespacedPrerequisite,
	{Kind: "PersistentVolumeClaim"}:                           RankNamespacedPrerequisite,
	{Kind: "Service"}:                                         RankNamespacedPrerequisite,
	{Group: "networking.k8s.io", Kind: "NetworkPolicy"}:       RankNamespacedPrerequisite,

	{Group: "apps", Kind: "Deployment"}:  RankWorkload,
	{Group: "apps", Kind: "StatefulSet"}: RankWorkload,
	{Group: "apps", Kind: "DaemonSet"}:   RankWorkload,
	{Group: "apps", Kind: "ReplicaSet"}:  RankWorkload,
	{Kind: "ReplicationController"}:      RankWorkload,
	{Kind: "Pod"}:                        RankWorkload,
	{Group: "batch", Kind: "Job"}:        RankWorkload,
	{Group: "batch", Kind: "CronJob"}:    RankWorkload,

	{Group: "admissionregistration.k8s.io", Kind: "MutatingWebhookConfiguration"}:     RankLast,
	{Group: "admissionregistration.k8s.io", Kind: "ValidatingWebhookConfiguration"}:   RankLast,
	{Group: "admissionregistration.k8s.io", Kind: "ValidatingAdmissionPolicy"}:        RankLast,
	{Group: "admissionregistration.k8s.io", Kind: "ValidatingAdmissionPolicyBinding"}: RankLast,
	{Group: "admissionregistration.k8s.io", Kind: "MutatingAdmissionPolicy"}:          RankLast,
	{Group: "admissionregistration.k8s.io", Kind: "MutatingAdmissionPolicyBinding"}:   RankLast,
	{Group: "apiregistration.k8s.io", Kind: "APIService"}:                             RankLast,
}

// Rank returns the apply tier of a group and kind, one of the Rank
// constants. Unknown kinds, custom resources included, are [RankOther].
func Rank(gk schema.GroupKind) int {
	if r, ok := ranks[gk]; ok {
		return r
	}
	return RankOther
}

// Sort sorts objs in place into the apply order described in the package
// documentation. It is stable, and deterministic for any input order of
// objects with distinct keys and API versions.
func Sort(objs []*unstructured.Unstructured) {
	type item struct {
		obj  *unstructured.Unstructured
		key  Key
		rank int
		ver  string
	}
	items := make([]item, len(objs))
	for i, o := range objs {
		k := KeyOf(o)
		items[i] = item{obj: o, key: k, rank: Rank(k.GroupKind()), ver: o.GetAPIVersion()}
	}
	slices.SortStableFunc(items, func(a, b item) int {
		if c := cmp.Compare(a.rank, b.rank); c != 0 {
			return c
		}
		if c := Compare(a.key, b.key); c != 0 {
			return c
		}
		return cmp.Compare(a.ver, b.ver)
	})
	for i := range items {
		objs[i] = items[i].obj
	}
}
