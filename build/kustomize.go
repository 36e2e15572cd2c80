package build

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"regexp"
	"strings"
	"sync/atomic"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/resid"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/gitopskit/gitopskit/internal/object"
)

// Kustomize builds the kustomization at path, a directory relative to
// artifactDir, and returns the objects validated and sorted in apply order
// (see the package documentation for what is refused and how).
//
// Without a Cache in opts, every call builds. With one and an
// ArtifactDigest, a result cached for the same digest, path and options is
// returned instead (as a deep copy), unless AllowRemoteBases: remote content
// is not part of the digest.
func Kustomize(ctx context.Context, artifactDir, path string, opts KustomizeOptions) ([]*unstructured.Unstructured, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if opts.Cache != nil && opts.ArtifactDigest != "" && !opts.AllowRemoteBases {
		return opts.Cache.do(ctx, kustomizeCacheKey(path, &opts), func() ([]*unstructured.Unstructured, error) {
			return kustomize(ctx, artifactDir, path, &opts)
		})
	}
	return kustomize(ctx, artifactDir, path, &opts)
}

func openArtifact(dir string) (*os.Root, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("build: open artifact: %w", err)
	}
	return root, nil
}

func contextBackground() context.Context { return context.Background() }

func kustomize(ctx context.Context, artifactDir, unitPath string, opts *KustomizeOptions) ([]*unstructured.Unstructured, error) {
	root, err := openArtifact(artifactDir)
	if err != nil {
		return nil, err
	}
	defer root.Close()

	out, err := kustomizeValidated(ctx, root, unitPath, opts, false)
	if errors.Is(err, ErrDuplicate) || errors.Is(err, ErrInvalidObject) {
		// Build again recording each object's file, to name them.
		if _, again := kustomizeValidated(ctx, root, unitPath, opts, true); again != nil {
			err = again
		}
	}
	if err != nil {
		return nil, &redactedError{fmt.Errorf("build %s: %w", unitPath, err)}
	}
	return out, nil
}

func kustomizeValidated(ctx context.Context, root *os.Root, unitPath string, opts *KustomizeOptions, withOrigins bool) ([]*unstructured.Unstructured, error) {
	objs, err := kustomizeOnce(ctx, root, unitPath, opts, false, withOrigins)
	if errors.Is(err, errNeedsExclusiveSchema) {
		objs, err = kustomizeOnce(ctx, root, unitPath, opts, true, withOrigins)
		if re := (*RemoteBaseError)(nil); opts.AllowRemoteBases && errors.As(err, &re) {
			re.SetsSchema = true
		}
	}
	if err != nil {
		return nil, err
	}
	return finish(objs, opts.Limits)
}

// kustomizeOnce runs one build, holding the schema lock shared or, when
// exclusive, alone.
func kustomizeOnce(ctx context.Context, root *os.Root, unitPath string, opts *KustomizeOptions, exclusive, withOrigins bool) ([]built, error) {
	fsys := newConfinedFS(ctx, root, opts.Limits)
	fsys.onKustomization = func(vp, rel string, data []byte) ([]byte, error) {
		return fsys.serveKustomization(vp, rel, data, exclusive)
	}
	fsys.countObjects = true
	// A build that sets the schema runs alone, so it may not wait on the
	// network: it is refused remote bases (see schema.go).
	if opts.AllowRemoteBases && !exclusive {
		fsys.remote = newRemoteFetcher(ctx, opts.Remote)
	}
	// The copies of remote references are removed once both this function
	// and kustomize's goroutine, which may outlive it, are done with the
	// filesystem.
	var users atomic.Int32
	users.Store(1)
	release := func() {
		if users.Add(-1) == 0 {
			fsys.close()
		}
	}
	defer release()

	unit, err := resolveUnitDir(fsys, unitPath)
	if err != nil {
		return nil, policyOr(fsys, err)
	}
	keepOrigin, err := writeOverlay(fsys, unit, opts, withOrigins)
	if err != nil {
		return nil, policyOr(fsys, err)
	}

	var rm resmap.ResMap
	run := func() (err error) {
		// Confinement is the filesystem's job.
		rm, err = runKrusty(fsys, virtOverlay, types.LoadRestrictionsNone)
		return err
	}
	// Kustomize does not take a context, and once the files are read the
	// filesystem can no longer stop it: run it aside and return at the
	// deadline. An abandoned build runs to its end in the background
	// (bounded by Limits.MaxObjects) and its result is dropped.
	done := make(chan error, 1)
	users.Add(1)
	go func() {
		var err error
		if exclusive {
			err = schemaLock.exclusive(ctx, run)
		} else {
			err = schemaLock.shared(ctx, run)
		}
		// Released before the result is sent, so that a build that gets
		// the result removes the copies itself before it returns.
		release()
		done <- err
	}()
	select {
	case err = <-done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if err != nil {
		return nil, classify(fsys, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return fromResMap(rm, keepOrigin, opts)
}

// policyOr returns the filesystem's recorded failure if there is one, else err.
func policyOr(fsys *confinedFS, err error) error {
	if f := fsys.firstFailure(); f != nil {
		return f
	}
	return err
}

var duplicateIDRE = regexp.MustCompile(`already registered id: ([^\s'"]+)`)

// classify turns a kustomize error into the most specific error we know:
// a policy failure recorded by the filesystem, a cycle, a duplicate, or
// malformed YAML in a file the build read.
func classify(fsys *confinedFS, err error) error {
	if f := fsys.firstFailure(); f != nil {
		return f
	}
	msg := err.Error()
	if strings.Contains(msg, "cycle detected") {
		return &CycleError{Err: err}
	}
	if m := duplicateIDRE.FindStringSubmatch(msg); m != nil {
		return &DuplicateError{
			Key:    keyFromResID(m[1]),
			First:  "a resource",
			Second: "another listed in the same kustomization (kustomize: " + msg + ")",
		}
	}
	if strings.Contains(msg, "missing metadata.name") {
		return &InvalidObjectError{Reason: "missing metadata.name (kustomize: " + msg + ")"}
	}
	for _, rel := range fsys.readPaths() {
		if ext := path.Ext(rel); ext != ".yaml" && ext != ".yml" && !isKustomizationFile(path.Base(rel)) {
			continue
		}
		data, rerr := fsys.ReadFile(virtual(rel))
		if rerr != nil {
			continue
		}
		if yerr := object.CheckYAML(data, rel); yerr != nil {
			return yerr
		}
	}
	return fmt.Errorf("kustomize: %w", err)
}

// keyFromResID parses kustomize's resource id form
// "Kind.version.group/name.namespace".
func keyFromResID(id string) object.Key {
	r := resid.FromString(id)
	return object.Key{Group: r.Group, Kind: r.Kind, Namespace: r.Namespace, Name: r.Name}
}

// fromResMap converts kustomize's resources to objects through JSON, so
// numbers are int64 as in objects read from the API server, applying
// post-build substitution on the way, and takes the origin annotation off
// unless the user's kustomization asked for it.
func fromResMap(rm resmap.ResMap, keepOrigin bool, opts *KustomizeOptions) ([]built, error) {
	res := rm.Resources()
	out := make([]built, 0, len(res))
	for _, r := range res {
		js, err := r.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("kustomize output %s: %w", r.CurId(), err)
		}
		var m map[string]any
		if err := utiljson.Unmarshal(js, &m); err != nil {
			return nil, fmt.Errorf("kustomize output %s: %w", r.CurId(), err)
		}
		u := &unstructured.Unstructured{Object: m}
		if opts.Substitute != nil && u.GetAnnotations()[SubstituteAnnotation] != SubstituteDisabled {
			text, err := r.AsYAML()
			if err != nil {
				return nil, fmt.Errorf("kustomize output %s: %w", r.CurId(), err)
			}
			if bytes.Contains(text, []byte("${")) {
				if u, err = substituteYAML(object.KeyOf(u), text, opts.Substitute, opts.StrictSubstitute); err != nil {
					return nil, err
				}
			}
		}
		origin := originOf(u)
		if !keepOrigin {
			removeAnnotation(u, originAnnotation)
		}
		out = append(out, built{obj: u, origin: origin})
	}
	return out, nil
}

// originOf reads the file an object came from out of kustomize's origin
// annotation, relative to the artifact root.
func originOf(u *unstructured.Unstructured) string {
	v, ok := u.GetAnnotations()[originAnnotation]
	if !ok {
		return ""
	}
	var o struct {
		Path         string `json:"path"`
		ConfiguredIn string `json:"configuredIn"`
	}
	if err := kyaml.Unmarshal([]byte(v), &o); err != nil {
		return ""
	}
	p := o.Path
	if p == "" {
		p = o.ConfiguredIn
	}
	return strings.TrimPrefix(p, ".."+virtArtifact+"/")
}

func removeAnnotation(u *unstructured.Unstructured, key string) {
	a := u.GetAnnotations()
	if _, ok := a[key]; !ok {
		return
	}
	delete(a, key)
	if len(a) == 0 {
		unstructured.RemoveNestedField(u.Object, "metadata", "annotations")
		return
	}
	u.SetAnnotations(a)
}

// runKrusty runs kustomize on dir of fsys with gitopskit's options: no
// reordering (the output is sorted afterwards), plugins disabled. A panic of
// kustomize's is an error.
func runKrusty(fsys filesys.FileSystem, dir string, restrictions types.LoadRestrictions) (rm resmap.ResMap, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("kustomize panicked: %v", r)
		}
	}()
	k := krusty.MakeKustomizer(&krusty.Options{
		Reorder:          krusty.ReorderOptionNone,
		LoadRestrictions: restrictions,
		PluginConfig:     types.DisabledPluginConfig(),
	})
	return k.Run(fsys, dir)
}
