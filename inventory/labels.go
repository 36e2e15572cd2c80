package inventory

// Labels and annotations that mark what a unit owns. They are the one place
// these names are defined; package apply and the ApplySet parent written by
// [Store] use them.
const (
	// LabelUnit names the unit that applied an object. Its value is the
	// unit's name (the name of the inventory's parent object).
	LabelUnit = "gitopskit.io/unit"
	// LabelUnitNamespace is the namespace of the unit's inventory.
	LabelUnitNamespace = "gitopskit.io/unit-namespace"

	// LabelApplySetPartOf is the kubectl ApplySet membership label. Its
	// value is the ApplySet ID of the unit that owns the object; it is the
	// label apply selects a unit's objects by.
	LabelApplySetPartOf = "applyset.kubernetes.io/part-of"
	// LabelApplySetID labels the ApplySet parent (the inventory object)
	// with the set's ID, see [ApplySetID].
	LabelApplySetID = "applyset.kubernetes.io/id"
	// AnnotationApplySetTooling names the tool that manages an ApplySet,
	// as "<tool>/<version>". A parent whose tool is not [ToolName] is
	// refused with [*ForeignToolError].
	AnnotationApplySetTooling = "applyset.kubernetes.io/tooling"
	// AnnotationApplySetGroupKinds lists the group-kinds of the set's
	// members, comma-separated and sorted ("Deployment.apps,Service").
	AnnotationApplySetGroupKinds = "applyset.kubernetes.io/contains-group-kinds"
	// AnnotationApplySetNamespaces lists, comma-separated and sorted, the
	// namespaces holding members other than the parent's own namespace.
	AnnotationApplySetNamespaces = "applyset.kubernetes.io/additional-namespaces"

	// ToolName is the tool name written in [AnnotationApplySetTooling].
	ToolName = "gitopskit"
	// ToolVersion is the version written after [ToolName].
	ToolVersion = "v0.1.0"

	// DataKey is the key under which the compressed inventory is stored in
	// the parent Secret's data or ConfigMap's binaryData.
	DataKey = "inventory.json.gz"
)
