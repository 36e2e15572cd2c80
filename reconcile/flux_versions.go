package reconcile

import (
	"fmt"

	"sigs.k8s.io/yaml"
)

// fluxConvert turns the spec of an older served API version (spec, as
// decoded by encoding/json, already checked against that version's Go type
// and the supported fields) into the newest version's, in place. The fields
// the newest version kept are the same; what differs:
//
//   - GitRepository v1beta1 and v1beta2: spec.gitImplementation is dropped:
//     Flux deprecated it when go-git became its only implementation.
//   - Kustomization v1beta1 and v1beta2: spec.patchesStrategicMerge[] and
//     spec.patchesJson6902[] become entries of spec.patches, strategic
//     merge patches first, then JSON 6902 patches, then the object's own
//     spec.patches (kustomize applies each kind of patch in a fixed order
//     anyway); spec.validation is dropped: Flux ignores it since v1beta2,
//     and server-side apply always validates.
//   - HelmChart v1beta1 and v1beta2, HelmRelease v2beta1 and v2beta2:
//     spec.valuesFile (singular) is not supported, as valuesFiles is not;
//     every other field they have is the same in the newest version.
//   - OCIRepository and HelmRepository v1beta2, HelmRepository and
//     HelmChart v1beta1: the same fields.
func fluxConvert(d *fluxDoc, version string, spec map[string]any) error {
	if spec == nil {
		return nil
	}
	switch d.kind {
	case "GitRepository":
		delete(spec, "gitImplementation")
	case "Kustomization":
		delete(spec, "validation")
		var patches []any
		if sm, ok := spec["patchesStrategicMerge"].([]any); ok {
			for i, p := range sm {
				y, err := yaml.Marshal(p)
				if err != nil {
					return d.failf(fmt.Sprintf("spec.patchesStrategicMerge[%d]", i), "%v", err)
				}
				patches = append(patches, map[string]any{"patch": string(y)})
			}
		}
		if jp, ok := spec["patchesJson6902"].([]any); ok {
			for i, p := range jp {
				m, _ := p.(map[string]any)
				ops, _ := m["patch"].([]any)
				if len(ops) == 0 {
					return d.failf(fmt.Sprintf("spec.patchesJson6902[%d].patch", i), "required")
				}
				y, err := yaml.Marshal(ops)
				if err != nil {
					return d.failf(fmt.Sprintf("spec.patchesJson6902[%d].patch", i), "%v", err)
				}
				np := map[string]any{"patch": string(y)}
				if t, ok := m["target"]; ok {
					np["target"] = t
				}
				patches = append(patches, np)
			}
		}
		delete(spec, "patchesStrategicMerge")
		delete(spec, "patchesJson6902")
		if own, ok := spec["patches"].([]any); ok {
			patches = append(patches, own...)
		}
		if patches != nil {
			spec["patches"] = patches
		}
	}
	return nil
}
