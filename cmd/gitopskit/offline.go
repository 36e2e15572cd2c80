package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/gitopskit/gitopskit/apply"
	"github.com/gitopskit/gitopskit/reconcile"
	"github.com/gitopskit/gitopskit/source"
)

// What render and diff share: rendering with no cluster.

// refSyntax documents the REF of --ref, --from and --to.
const refSyntax = `REF is a reference of the source's remote (not of a local clone): a full commit SHA-1
(SHA@BRANCH fetches it from that branch, for servers that do not serve commits by ID),
"refs/..." (a full reference name, e.g. refs/pull/42/head), or a branch name; or
explicitly "branch:NAME", "tag:NAME", "semver:RANGE", "commit:SHA" or "name:refs/...".`

// parseRef reads a REF (see refSyntax) into a source.Ref.
func parseRef(s string) (source.Ref, error) {
	var r source.Ref
	kind, value, explicit := strings.Cut(s, ":")
	switch {
	case s == "":
		return r, errors.New("empty reference")
	case explicit && kind == "branch":
		r.Branch = value
	case explicit && kind == "tag":
		r.Tag = value
	case explicit && kind == "semver":
		r.SemVer = value
	case explicit && kind == "commit":
		r.Commit = value
	case explicit && kind == "name":
		r.Name = value
	case explicit:
		return r, fmt.Errorf("%q: unknown kind %q: want branch, tag, semver, commit or name", s, kind)
	case isCommitID(s):
		r.Commit = strings.ToLower(s)
	case len(s) > 41 && s[40] == '@' && isCommitID(s[:40]):
		r.Commit, r.Branch = strings.ToLower(s[:40]), s[41:]
	case strings.HasPrefix(s, "refs/"):
		r.Name = s
	case strings.HasPrefix(s, "origin/"):
		return r, fmt.Errorf("%q looks like a branch of a local clone's remote; a reference names one of the source's "+
			"own remote: %q, or \"branch:%s\" if that is the branch's name", s, strings.TrimPrefix(s, "origin/"), s)
	default:
		r.Branch = s
	}
	if explicit && value == "" {
		return r, fmt.Errorf("%q: empty %s", s, kind)
	}
	if err := r.Validate(); err != nil {
		return r, err
	}
	return r, nil
}

func isCommitID(s string) bool {
	if len(s) != 40 {
		return false
	}
	for _, c := range strings.ToLower(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// offlineFlags are render's and diff's flags beyond the configuration's.
type offlineFlags struct {
	objectsFile string
	cacheDir    string
	verbose     bool
}

func (o *offlineFlags) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.objectsFile, "objects", "",
		"YAML file of ConfigMaps and Secrets standing in for the cluster (substituteFrom, valuesFrom, secretRef); a List is read too, objects with no namespace are in -n's")
	fs.StringVar(&o.cacheDir, "cache-dir", "", "keep Git clones and charts in DIR between runs (default: a temporary folder, removed)")
	fs.BoolVarP(&o.verbose, "verbose", "v", false, "print progress events to stderr")
}

// renderSetup is what a render needs besides the configuration: the
// objects standing in for the cluster, the lookups LoadFlux reads them
// through, and a source cache (cleanup removes a temporary one).
type renderSetup struct {
	objects []*unstructured.Unstructured
	lookups lookups
	cache   *source.Cache
	cleanup func()
}

// setup reads --objects and opens the cache. namespace is that of objects
// that have none; notes about the objects go to stderr.
func (o *offlineFlags) setup(namespace string, stderr io.Writer) (*renderSetup, error) {
	s := &renderSetup{cleanup: func() {}}
	if o.objectsFile != "" {
		data, err := os.ReadFile(o.objectsFile)
		if err != nil {
			return nil, fmt.Errorf("%w: --objects: %w", reconcile.ErrInvalidConfiguration, err)
		}
		if namespace == "" {
			namespace = reconcile.DefaultNamespace
		}
		if s.objects, err = readObjects(data, namespace); err != nil {
			return nil, fmt.Errorf("%w: --objects %s: %w", reconcile.ErrInvalidConfiguration, o.objectsFile, err)
		}
	}
	s.lookups = objectData(s.objects, stderr)
	dir := o.cacheDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "gitopskit-cache-")
		if err != nil {
			return nil, fmt.Errorf("source cache: %w", err)
		}
		dir = tmp
		s.cleanup = func() { _ = os.RemoveAll(tmp) }
	}
	cache, err := source.NewCache(dir)
	if err != nil {
		s.cleanup()
		return nil, fmt.Errorf("source cache: %w", err)
	}
	s.cache = cache
	return s, nil
}

// events returns the event handler of --verbose, or nil.
func (o *offlineFlags) events(e *env) reconcile.EventHandler {
	if !o.verbose {
		return nil
	}
	return (&events{w: e.stderr, p: painter(e.colour(e.stderr))}).handle
}

// readObjects reads a stream of ConfigMaps and Secrets (v1, or a v1 List
// of them). Objects with no namespace get namespace.
func readObjects(data []byte, namespace string) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for doc := 1; ; doc++ {
		var m map[string]any
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return out, nil
		} else if err != nil {
			return nil, fmt.Errorf("document %d: %w", doc, err)
		}
		if m == nil {
			continue
		}
		objs := []*unstructured.Unstructured{{Object: m}}
		if u := objs[0]; u.GetAPIVersion() == "v1" && u.GetKind() == "List" {
			items, _, err := unstructured.NestedSlice(m, "items")
			if err != nil {
				return nil, fmt.Errorf("document %d: items: %w", doc, err)
			}
			objs = objs[:0]
			for _, it := range items {
				im, ok := it.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("document %d: an item is not an object", doc)
				}
				objs = append(objs, &unstructured.Unstructured{Object: im})
			}
		}
		for _, u := range objs {
			if u.GetAPIVersion() != "v1" || (u.GetKind() != "ConfigMap" && u.GetKind() != "Secret") {
				return nil, fmt.Errorf("document %d: %s %s %q: want v1 ConfigMaps and Secrets", doc, u.GetAPIVersion(), u.GetKind(), u.GetName())
			}
			if u.GetName() == "" {
				return nil, fmt.Errorf("document %d: %s: metadata.name is required", doc, u.GetKind())
			}
			if u.GetNamespace() == "" {
				u.SetNamespace(namespace)
			}
			out = append(out, u)
		}
	}
}

// objectData looks Secrets and ConfigMaps up in objs, for the Secrets and
// ConfigMaps LoadFlux reads when it loads a configuration file. A Secret
// that objs lack reads as empty, with a note on stderr: a bootstrapped
// repository's GitRepository names the credentials Secret flux bootstrap
// made in the cluster, and a public repository renders without it (a
// private one then fails to fetch, saying so).
func objectData(objs []*unstructured.Unstructured, stderr io.Writer) lookups {
	find := func(kind, namespace, name string) (*unstructured.Unstructured, error) {
		for _, o := range objs {
			if o.GetKind() == kind && o.GetNamespace() == namespace && o.GetName() == name {
				return o, nil
			}
		}
		return nil, fmt.Errorf("%s %s/%s is not in --objects: %w", kind, namespace, name, reconcile.ErrNotFound)
	}
	return lookups{
		secret: func(_ context.Context, namespace, name string) (map[string][]byte, error) {
			o, err := find("Secret", namespace, name)
			if err != nil {
				fmt.Fprintf(stderr, "gitopskit: note: Secret %s/%s is not in --objects: what names it is read without credentials\n", namespace, name)
				return map[string][]byte{}, nil
			}
			out := map[string][]byte{}
			data, _, _ := unstructured.NestedStringMap(o.Object, "data")
			for k, v := range data {
				b, err := base64.StdEncoding.DecodeString(v)
				if err != nil {
					return nil, fmt.Errorf("data %q of Secret %s/%s: %w", k, namespace, name, err)
				}
				out[k] = b
			}
			plain, _, _ := unstructured.NestedStringMap(o.Object, "stringData")
			for k, v := range plain {
				out[k] = []byte(v)
			}
			return out, nil
		},
	}
}

// masked returns obj, or for a Secret a copy whose data and stringData
// values are [apply.Masked].
func masked(obj *unstructured.Unstructured) *unstructured.Unstructured {
	if obj.GetKind() != "Secret" || obj.GetAPIVersion() != "v1" {
		return obj
	}
	out := obj.DeepCopy()
	for _, field := range []string{"data", "stringData"} {
		if m, ok := out.Object[field].(map[string]any); ok {
			for k := range m {
				m[k] = apply.Masked
			}
		}
	}
	return out
}

// parseRefFlags reads --ref SOURCE=REF values.
func parseRefFlags(values []string) (map[string]source.Ref, error) {
	refs := map[string]source.Ref{}
	for _, v := range values {
		name, ref, ok := strings.Cut(v, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("--ref %q: want SOURCE=REF", v)
		}
		if _, dup := refs[name]; dup {
			return nil, fmt.Errorf("--ref: source %q is pinned twice", name)
		}
		r, err := parseRef(ref)
		if err != nil {
			return nil, fmt.Errorf("--ref %s: %w", name, err)
		}
		refs[name] = r
	}
	return refs, nil
}
