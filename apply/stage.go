package apply

import (
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitopskit/gitopskit/internal/object"
)

// stage is one step of an apply; objects in a stage are applied
// concurrently, stages one after the other.
type stage int

const (
	// stageDefinitions: CRDs and Namespaces, which other objects need to
	// exist first. CRDs are waited for (Established) before the next
	// stage.
	stageDefinitions stage = iota
	// stageCluster: the other cluster-scoped objects of kinds the API
	// server knows (ClusterRoles and their bindings, class objects, ...),
	// except admission webhooks and APIServices, which could reject the
	// rest of the apply before their service runs.
	stageCluster
	// stageResources: everything else, including custom resources whose
	// kind was unknown before the CRD stage.
	stageResources
	numStages
)

func (s stage) String() string {
	return [...]string{"definitions", "cluster", "resources"}[s]
}

// stageOf classifies an object by its kind and, when the mapper already
// knows the kind, its scope. It makes no request for unknown kinds.
func stageOf(gvk schema.GroupVersionKind, known func(schema.GroupVersionKind) (*meta.RESTMapping, bool)) stage {
	switch object.Rank(gvk.GroupKind()) {
	case object.RankCRD, object.RankNamespace:
		return stageDefinitions
	case object.RankClusterPrerequisite:
		return stageCluster
	case object.RankLast:
		return stageResources
	}
	if strings.HasSuffix(gvk.Kind, "Class") {
		return stageCluster
	}
	if m, ok := known(gvk); ok && m.Scope.Name() == meta.RESTScopeNameRoot {
		return stageCluster
	}
	return stageResources
}
