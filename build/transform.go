package build

import (
	"context"
	"fmt"

	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/gitopskit/gitopskit/internal/object"
)

// TransformOptions are the kustomize transformations [Transform] applies.
type TransformOptions struct {
	// Images override container images (kustomize's images).
	Images []Image
	// Patches are strategic merge or JSON 6902 patches, told apart by their
	// content (kustomize's patches).
	Patches []Patch
	// Limits bound the input: MaxFileSize its bytes and MaxObjects its
	// objects. Zero fields take [DefaultLimits].
	Limits Limits
}

// transformInput is the name of the manifests in Transform's in-memory
// kustomization.
const transformInput = "manifests.yaml"

// Transform applies opts to manifests, a YAML stream of objects that did
// not come from a kustomization (such as the manifests Helm renders), the
// way kustomize would with the stream as the only resource of a
// kustomization that lists the images and patches; it returns the result
// as a YAML stream, the objects in their input order. This is what Flux's
// helm-controller post-renderer does with a HelmRelease's
// postRenderers[].kustomize. Kustomize runs over an in-memory filesystem
// holding only those two files: nothing is read from disk or the network.
//
// With no images and no patches, or no objects, manifests is returned as
// it is. A patch whose target matches nothing is not an error; a
// strategic merge patch without a target that names no object is.
func Transform(ctx context.Context, manifests []byte, opts TransformOptions) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(opts.Images) == 0 && len(opts.Patches) == 0 {
		return manifests, nil
	}
	limits := opts.Limits.withDefaults()
	if n := int64(len(manifests)); n > limits.MaxFileSize {
		return nil, &TooLargeError{Path: transformInput, Size: n, Limit: limits.MaxFileSize}
	}
	objs, err := object.Decode(manifests, transformInput)
	if err != nil {
		return nil, fmt.Errorf("build: transform: %w", err)
	}
	if len(objs) == 0 {
		return manifests, nil
	}
	if len(objs) > limits.MaxObjects {
		return nil, &TooManyObjectsError{Path: transformInput, Count: len(objs), Limit: limits.MaxObjects}
	}
	kust, err := yaml.Marshal(generatedKustomization{
		APIVersion: kustomizeAPIVersion,
		Kind:       types.KustomizationKind,
		Metadata:   map[string]string{"name": generatedName},
		Resources:  []string{transformInput},
		Images:     opts.Images,
		Patches:    opts.Patches,
	})
	if err != nil {
		return nil, fmt.Errorf("build: transform: %w", err)
	}
	fsys := filesys.MakeFsInMemory()
	if err := fsys.WriteFile(transformInput, manifests); err != nil {
		return nil, fmt.Errorf("build: transform: %w", err)
	}
	if err := fsys.WriteFile("kustomization.yaml", kust); err != nil {
		return nil, fmt.Errorf("build: transform: %w", err)
	}

	var rm resmap.ResMap
	run := func() (err error) {
		rm, err = runKrusty(fsys, ".", types.LoadRestrictionsRootOnly)
		return err
	}
	// The generated kustomization has no openapi field: a shared build.
	if err := schemaLock.shared(ctx, run); err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, fmt.Errorf("build: transform: kustomize: %w", err)
	}
	out, err := rm.AsYaml()
	if err != nil {
		return nil, fmt.Errorf("build: transform: %w", err)
	}
	return out, nil
}
