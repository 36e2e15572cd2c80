package reconcile

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitopskit/gitopskit/helmrelease"
	"github.com/gitopskit/gitopskit/internal/object"
	"github.com/gitopskit/gitopskit/source"
)

// RenderOptions configure [Render].
type RenderOptions struct {
	// Refs pins Git sources of the configuration, by source name, to
	// another reference than their own: the commit of a pull request, say.
	// A name that is not a Git source of the configuration is an error.
	Refs map[string]source.Ref
	// Objects stand in for the cluster: the ConfigMaps and Secrets that
	// substituteFrom, valuesFrom and secretRef read, when no unit of the
	// render creates them. What neither has is a gap ([RenderedUnit.Gaps]),
	// never a guess.
	Objects []*unstructured.Unstructured
	// SourceCache keeps clones between renders. Default: a temporary one.
	SourceCache *source.Cache
	// MaxDepth, Workers, FluxObjects, OnEvent and Logger are as in
	// [Options].
	MaxDepth    int
	Workers     int
	FluxObjects FluxObjectPolicy
	OnEvent     EventHandler
	Logger      *slog.Logger
}

// Rendering is what a configuration would apply, unit by unit, in
// dependency order, built with no cluster.
type Rendering struct {
	Units []RenderedUnit
}

// Unit returns the named unit's rendering.
func (r *Rendering) Unit(name string) (RenderedUnit, bool) {
	for _, u := range r.Units {
		if u.Name == name {
			return u, true
		}
	}
	return RenderedUnit{}, false
}

// RenderedUnit is one unit's rendering.
type RenderedUnit struct {
	Name string
	// DeclaredBy and FluxObject are as in [UnitStatus].
	DeclaredBy, FluxObject string
	// Revision is the source revision rendered (for a Helm unit from a
	// chart repository, the chart and version).
	Revision string
	// Objects are what the unit would apply, sorted by key: a kustomize
	// unit's build without its Flux objects (those are units), or a Helm
	// unit's templates, hooks and CRDs.
	Objects []*unstructured.Unstructured
	// Chart is the chart a Helm unit rendered.
	Chart *helmrelease.ChartInfo
	// Gaps say what needed the cluster and was not rendered: a
	// substituteFrom, valuesFrom or secretRef object neither the render
	// nor RenderOptions.Objects has.
	Gaps []string
	// Err says why the unit could not be rendered.
	Err error
}

// Render builds every unit of conf with no cluster, through the pipeline
// of [Reconciler.Run] up to admission: the same fetch, post-build
// substitution, kustomize build and Helm rendering, and the same loading of
// the Flux objects found in builds, recursively, so that a render holds the
// whole tree a reconcile would reach. Units run in dependency order, and a
// ConfigMap or Secret a unit renders is what later units' substituteFrom
// and valuesFrom read. Helm units are rendered with [helmrelease.Template]: Helm's default
// capabilities, lookups answering nothing. The error is non-nil when the
// configuration is invalid or ctx ended; a unit that fails has its Err.
func Render(ctx context.Context, conf Configuration, opts RenderOptions) (*Rendering, error) {
	off := &offlineState{objects: map[object.Key]*unstructured.Unstructured{}, units: map[string]*RenderedUnit{}}
	for _, o := range opts.Objects {
		off.objects[object.KeyOf(o)] = o
	}
	r, err := newEngine(nil, conf, Options{SourceCache: opts.SourceCache, MaxDepth: opts.MaxDepth, Workers: opts.Workers,
		FluxObjects: opts.FluxObjects, OnEvent: opts.OnEvent, Logger: opts.Logger}, off)
	if err != nil {
		return nil, err
	}
	defer func() { _ = r.Close() }()
	if off.chartDir, err = os.MkdirTemp("", "gitopskit-render-charts-"); err != nil {
		return nil, fmt.Errorf("reconcile: %w", err)
	}
	r.cleanup = append(r.cleanup, off.chartDir)
	for name, ref := range opts.Refs {
		ss := r.source(name)
		if ss == nil {
			return nil, &ConfigError{Configuration: r.conf.Name, Err: fmt.Errorf("no source %q to pin to another reference", name)}
		}
		if ss.spec.isOCI() {
			return nil, &ConfigError{Configuration: r.conf.Name, Err: fmt.Errorf("source %q is an OCI artifact, not a Git repository to pin to a Git reference", name)}
		}
		if err := ref.Validate(); err != nil {
			return nil, &ConfigError{Configuration: r.conf.Name, Err: fmt.Errorf("reference of source %q: %w", name, err)}
		}
		ss.spec.Ref = ref
	}
	rd := r.newRound(ctx, true)
	defer rd.close()
	rd.schedule(ctx, r.unitOrder(), func(ctx context.Context, st *unitState) {
		st.run.Lock()
		defer st.run.Unlock()
		out := rd.pipeline(ctx, st, nil)
		if out.err != nil {
			off.unit(st).Err = out.err
		}
		if out.revision != "" {
			off.unit(st).Revision = out.revision
		}
	})
	res := &Rendering{}
	for _, name := range r.unitOrder() {
		if st := r.unit(name); st != nil {
			u := *off.unit(st)
			slices.SortFunc(u.Objects, func(a, b *unstructured.Unstructured) int {
				return object.Compare(object.KeyOf(a), object.KeyOf(b))
			})
			res.Units = append(res.Units, u)
		}
	}
	return res, ctx.Err()
}

// offlineState is what the engine of Render keeps instead of a cluster.
type offlineState struct {
	chartDir string
	mu       sync.Mutex
	objects  map[object.Key]*unstructured.Unstructured // ConfigMaps and Secrets known so far
	units    map[string]*RenderedUnit
}

func (o *offlineState) unit(st *unitState) *RenderedUnit {
	o.mu.Lock()
	defer o.mu.Unlock()
	u := st.specOf()
	ru, ok := o.units[u.Name]
	if !ok {
		ru = &RenderedUnit{Name: u.Name, DeclaredBy: st.parent, FluxObject: u.FluxObject}
		o.units[u.Name] = ru
	}
	return ru
}

func (o *offlineState) gap(st *unitState, format string, args ...any) {
	ru := o.unit(st)
	o.mu.Lock()
	ru.Gaps = append(ru.Gaps, fmt.Sprintf(format, args...))
	o.mu.Unlock()
}

func (o *offlineState) lookup(kind, namespace, name string) (*unstructured.Unstructured, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	obj := o.objects[object.Key{Kind: kind, Namespace: namespace, Name: name}]
	if obj == nil {
		return nil, apierrors.NewNotFound(schema.GroupResource{Resource: kind}, namespace+"/"+name)
	}
	return obj, nil
}

func (o *offlineState) configMap(namespace, name string) (map[string]string, error) {
	obj, err := o.lookup("ConfigMap", namespace, name)
	if err != nil {
		return nil, err
	}
	data, _, _ := unstructured.NestedStringMap(obj.Object, "data")
	return data, nil
}

func (o *offlineState) secret(namespace, name string) (map[string][]byte, error) {
	obj, err := o.lookup("Secret", namespace, name)
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	data, _, _ := unstructured.NestedStringMap(obj.Object, "data")
	for k, v := range data {
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return nil, fmt.Errorf("reconcile: Secret %s/%s: data %q: %w", namespace, name, k, err)
		}
		out[k] = b
	}
	plain, _, _ := unstructured.NestedStringMap(obj.Object, "stringData")
	for k, v := range plain {
		out[k] = []byte(v)
	}
	return out, nil
}

// rendered keeps a unit's objects, and its ConfigMaps and Secrets for the
// units after it.
func (o *offlineState) rendered(st *unitState, objs []*unstructured.Unstructured) {
	ru := o.unit(st)
	o.mu.Lock()
	defer o.mu.Unlock()
	ru.Objects = objs
	for _, obj := range objs {
		if k := object.KeyOf(obj); k.Group == "" && (k.Kind == "ConfigMap" || k.Kind == "Secret") {
			o.objects[object.Key{Kind: k.Kind, Namespace: k.Namespace, Name: k.Name}] = obj
		}
	}
}

// render is the pipeline's offline end: build (or Helm template) and
// declare, then keep the objects instead of applying them.
func (rd *round) render(ctx context.Context, st *unitState, u Unit, art *source.Artifact, out outcome,
	fail func(Stage, string, error) outcome) outcome {
	r := rd.r
	progress := func(stage Stage, msg string) {
		r.emit(Event{Type: EventProgress, Unit: u.Name, Stage: stage, Revision: out.revision, Message: msg})
	}
	if u.Helm != nil {
		rel := *u.Helm
		if rel.Chart.Path != "" && rel.Chart.RepoURL == "" {
			p, err := chartInArtifact(art, rel.Chart.Path)
			if err != nil {
				return fail(StageBuild, ReasonBuildFailed, err)
			}
			rel.Chart.Path = p
		}
		values, err := r.helmValues(ctx, u)
		if err != nil {
			return fail(StageHelm, ReasonBuildFailed, err)
		}
		rel.ValuesFrom = values
		progress(StageHelm, fmt.Sprintf("rendering Helm release %s/%s", rel.Namespace, rel.Name))
		objs, info, err := helmrelease.Template(ctx, rel, helmrelease.TemplateOptions{CacheDir: r.offline.chartDir, Logger: r.opts.Logger})
		if err != nil {
			return fail(StageHelm, ReasonBuildFailed, err)
		}
		objs = inReleaseNamespace(objs, rel.Namespace, nil)
		r.offline.rendered(st, objs)
		ru := r.offline.unit(st)
		r.offline.mu.Lock()
		ru.Chart = &info
		r.offline.mu.Unlock()
		if out.revision == "" {
			out.revision = info.Name + "@" + info.Version
		}
		return out
	}
	objs, _, err := rd.build(ctx, st, u, art, nil, progress) // no identity offline
	if err != nil {
		return fail(StageBuild, ReasonBuildFailed, err)
	}
	r.offline.rendered(st, objs)
	return out
}
