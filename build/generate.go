package build

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"unicode/utf8"

	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/yaml"

	"github.com/gitopskit/gitopskit/internal/object"
)

const (
	kustomizeAPIVersion = "kustomize.config.k8s.io/v1beta1"
	// generatedName marks kustomizations gitopskit generates; it also keeps
	// a generated kustomization with no resources from counting as empty,
	// which kustomize refuses.
	generatedName = "gitopskit-generated"
	// originAnnotation is where kustomize records the file an object came
	// from when buildMetadata has originAnnotations.
	originAnnotation = "config.kubernetes.io/origin"
)

type generatedKustomization struct {
	APIVersion        string            `json:"apiVersion"`
	Kind              string            `json:"kind"`
	Metadata          map[string]string `json:"metadata"`
	Resources         []string          `json:"resources"`
	Namespace         string            `json:"namespace,omitempty"`
	NamePrefix        string            `json:"namePrefix,omitempty"`
	NameSuffix        string            `json:"nameSuffix,omitempty"`
	Labels            []types.Label     `json:"labels,omitempty"`
	CommonAnnotations map[string]string `json:"commonAnnotations,omitempty"`
	Images            []Image           `json:"images,omitempty"`
	Patches           []Patch           `json:"patches,omitempty"`
	Components        []string          `json:"components,omitempty"`
	BuildMetadata     []string          `json:"buildMetadata,omitempty"`
}

// GenerateKustomization returns the kustomization.yaml that [Kustomize]
// generates for a directory that has none, for inspection and debugging:
// dir is relative to artifactDir and nothing is written.
//
// Like Flux, it lists as resources, in lexical order, every .yaml and .yml
// file under dir, recursively, except that a subdirectory with its own
// kustomization file is listed as a directory and not descended into. Other
// files, files and directories whose name starts with ".", symlinked
// directories, and YAML files holding no document are skipped. Each listed
// file is decoded, so malformed YAML is reported here as a [*YAMLError] with
// its file and line.
func GenerateKustomization(artifactDir, dir string, limits Limits) ([]byte, error) {
	root, err := openArtifact(artifactDir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	f := newConfinedFS(contextBackground(), root, limits)
	rel, err := resolveUnitDir(f, dir)
	if err != nil {
		return nil, err
	}
	return generateKustomization(f, rel)
}

func generateKustomization(f *confinedFS, dir string) ([]byte, error) {
	var resources []string
	if err := collectResources(f, dir, "", &resources); err != nil {
		return nil, err
	}
	return yaml.Marshal(generatedKustomization{
		APIVersion: kustomizeAPIVersion,
		Kind:       types.KustomizationKind,
		Metadata:   map[string]string{"name": generatedName},
		Resources:  resources,
	})
}

// appendResource appends the resource rel to out, refusing a name the
// generated YAML could not carry unchanged.
func appendResource(out *[]string, rel string) error {
	if !utf8.ValidString(rel) {
		return &fs.PathError{Op: "generate kustomization", Path: rel, Err: ErrFileName}
	}
	*out = append(*out, rel)
	return nil
}

// collectResources appends to out the resources under the directory dir (a
// resolved path relative to the root), named relative to the unit directory
// with the prefix rel.
func collectResources(f *confinedFS, dir, rel string, out *[]string) error {
	names, err := f.ReadDir(virtual(dir))
	if err != nil {
		return err
	}
	for _, name := range names {
		if strings.HasPrefix(name, ".") {
			continue
		}
		child, childRel := path.Join(dir, name), path.Join(rel, name)
		if dir == "." {
			child = name
		}
		lfi, err := f.root.Lstat(child)
		if err != nil {
			return err
		}
		isLink := lfi.Mode()&fs.ModeSymlink != 0
		target, fi, err := f.stat(virtual(child))
		if err != nil {
			return err
		}
		switch {
		case fi.IsDir() && isLink:
			continue
		case fi.IsDir():
			if hasKustomization(f, target) {
				if err := appendResource(out, childRel); err != nil {
					return err
				}
				continue
			}
			if err := collectResources(f, target, childRel, out); err != nil {
				return err
			}
		case fi.Mode().IsRegular():
			if ext := path.Ext(name); ext != ".yaml" && ext != ".yml" {
				continue
			}
			data, err := f.ReadFile(virtual(target))
			if err != nil {
				return err
			}
			objs, err := object.Decode(data, child)
			if err != nil {
				return err
			}
			if len(objs) > 0 {
				if err := appendResource(out, childRel); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// kustomizationFile returns the name of dir's kustomization file, or "".
func kustomizationFile(f *confinedFS, dir string) string {
	for _, kf := range konfig.RecognizedKustomizationFileNames() {
		if _, fi, err := f.stat(virtual(path.Join(dir, kf))); err == nil && !fi.IsDir() {
			return kf
		}
	}
	return ""
}

func hasKustomization(f *confinedFS, dir string) bool { return kustomizationFile(f, dir) != "" }

// resolveUnitDir resolves the unit's path (relative to the artifact root; a
// leading "/" is allowed) to a directory without symlinks.
func resolveUnitDir(f *confinedFS, p string) (string, error) {
	clean := path.Clean("/" + strings.TrimPrefix(p, "/"))
	if rel := path.Clean(p); rel == ".." || strings.HasPrefix(rel, "../") {
		return "", &PathEscapeError{Path: rel}
	}
	rel, fi, err := f.stat(virtArtifact + clean)
	if err != nil {
		return "", fmt.Errorf("build path %s: %w", p, err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("build path %s: not a directory", p)
	}
	return rel, nil
}

// writeOverlay generates the kustomization at virtOverlay that wraps the
// unit's directory with the per-unit options, and a kustomization for the
// unit's directory if it has none. withOrigins asks kustomize to record each
// object's file (costly: about a third of a large build, so only done to
// explain a failed validation). It reports whether the unit's own
// kustomization asked for origin annotations, which then stay.
func writeOverlay(f *confinedFS, unit string, opts *KustomizeOptions, withOrigins bool) (keepOrigin bool, err error) {
	var buildMetadata []string
	if withOrigins {
		buildMetadata = append(buildMetadata, types.OriginAnnotations)
	}
	if kf := kustomizationFile(f, unit); kf == "" {
		gen, err := generateKustomization(f, unit)
		if err != nil {
			return false, err
		}
		f.overlay[virtual(path.Join(unit, konfig.DefaultKustomizationFileName()))] = gen
	} else {
		data, err := f.ReadFile(virtual(path.Join(unit, kf)))
		if err != nil {
			return false, err
		}
		var k types.Kustomization
		if k.Unmarshal(data) == nil {
			for _, m := range k.BuildMetadata {
				if m == types.OriginAnnotations {
					keepOrigin = true
				}
				if !slices.Contains(buildMetadata, m) {
					buildMetadata = append(buildMetadata, m)
				}
			}
		}
	}
	ov := generatedKustomization{
		APIVersion:        kustomizeAPIVersion,
		Kind:              types.KustomizationKind,
		Metadata:          map[string]string{"name": generatedName},
		Resources:         []string{overlayRef(unit)},
		Namespace:         opts.TargetNamespace,
		NamePrefix:        opts.NamePrefix,
		NameSuffix:        opts.NameSuffix,
		CommonAnnotations: opts.CommonAnnotations,
		Images:            opts.Images,
		Patches:           opts.Patches,
		BuildMetadata:     buildMetadata,
	}
	if len(opts.CommonLabels) > 0 {
		ov.Labels = []types.Label{{Pairs: opts.CommonLabels}}
	}
	for _, c := range opts.Components {
		joined := path.Join(unit, strings.TrimPrefix(c, "/"))
		if joined == ".." || strings.HasPrefix(joined, "../") {
			return false, &PathEscapeError{Path: joined}
		}
		if opts.IgnoreMissingComponents && !f.Exists(virtual(joined)) {
			continue
		}
		ov.Components = append(ov.Components, overlayRef(joined))
	}
	data, err := yaml.Marshal(ov)
	if err != nil {
		return false, err
	}
	f.overlay[virtOverlay+"/"+konfig.DefaultKustomizationFileName()] = data
	return keepOrigin, nil
}

// overlayRef names an artifact path relative to virtOverlay.
func overlayRef(rel string) string {
	if rel == "." {
		return ".." + virtArtifact
	}
	return ".." + virtArtifact + "/" + rel
}
