package reconcile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"
)

// fluxLoader turns Flux objects into a configuration's sources and units.
// One loader serves one configuration: [LoadFlux] uses it once, and the
// engine may call fromObjects again for the Flux objects found in each
// unit's build, so that their references resolve against everything loaded
// before. A loader is not safe for concurrent use; after an error it is
// unchanged.
type fluxLoader struct {
	opts FluxOptions
	// home is the configuration's namespace: objects there keep their
	// name as unit or source name. Empty: the first object's namespace.
	home string
	// objects, units and sources hold what earlier calls loaded.
	objects map[fluxKey]*fluxDoc
	units   map[string]*fluxDoc // by unit name
	sources map[string]*fluxDoc // by source name
	// declaredBy is the unit whose build declared each object ("" for the
	// objects given to LoadFlux or New).
	declaredBy map[fluxKey]string
	// engine is set for a loader the engine feeds with builds: a dependsOn
	// naming an object not loaded yet leaves the unit Pending instead of
	// failing the load.
	engine bool
	// Lookups, cached by "namespace/name" for the loader's life.
	secrets map[string]lookupResult[map[string][]byte]
}

// newFluxLoader returns a loader for a configuration whose records are in
// namespace home ("" for the namespace of the first object loaded).
func newFluxLoader(opts FluxOptions, home string) *fluxLoader {
	if opts.Namespace == "" {
		opts.Namespace = DefaultNamespace
	}
	return &fluxLoader{opts: opts, home: home, objects: map[fluxKey]*fluxDoc{},
		units: map[string]*fluxDoc{}, sources: map[string]*fluxDoc{}, declaredBy: map[fluxKey]string{},
		secrets: map[string]lookupResult[map[string][]byte]{}}
}

// clone returns a copy of the loader that later loads do not share.
func (l *fluxLoader) clone() *fluxLoader {
	c := newFluxLoader(l.opts, l.home)
	maps.Copy(c.objects, l.objects)
	maps.Copy(c.units, l.units)
	maps.Copy(c.sources, l.sources)
	maps.Copy(c.declaredBy, l.declaredBy)
	c.engine = l.engine
	return c
}

// fluxBatch is one call's objects, on top of the loader's.
type fluxBatch struct {
	l *fluxLoader
	// parent is the unit whose build the objects are ("" for LoadFlux).
	parent  string
	home    string
	objects map[fluxKey]*fluxDoc
	units   map[string]*fluxDoc
	sources map[string]*fluxDoc
	order   []*fluxDoc
	// intervals of the sources that have one, for the units' intervals.
	intervals map[fluxKey]time.Duration
	// kept are objects of parent's build that were loaded before and are
	// kept as they were: declared again with the same spec by another
	// declarer, or declared by the configuration itself (which wins).
	kept map[fluxKey]bool
	// overridden are the kept objects whose spec differs from the
	// configuration's.
	overridden []fluxKey
	// removedUnits and removedSources are the unit and source names of
	// the objects parent declared before and no longer declares.
	removedUnits, removedSources []string
}

func (b *fluxBatch) lookup(k fluxKey) *fluxDoc {
	if d := b.objects[k]; d != nil {
		return d
	}
	return b.l.objects[k]
}

// loadYAML converts the Flux objects of a YAML stream, as [LoadFlux] does
// (which also requires a unit), keeping them for later fromObjects calls.
// Documents are numbered from 1, not counting empty ones.
func (l *fluxLoader) loadYAML(ctx context.Context, data []byte) (Configuration, error) {
	var docs []*fluxDoc
	for _, d := range splitYAMLDocuments(data) {
		d.index = len(docs) + 1
		if err := l.parseYAML(d); err != nil {
			return Configuration{}, err
		}
		if d.doc != nil {
			docs = append(docs, d)
		}
	}
	b, conf, err := l.load(ctx, "", docs)
	if err != nil {
		return Configuration{}, err
	}
	b.commit()
	return conf, nil
}

// fromObjects converts the Flux objects found in the build output of unit
// parent (see [FluxObjects]) into sources and units of the loader's
// configuration. Their references may name objects loaded by earlier calls.
//
// An object parent declared before is replaced by its new declaration, and
// one it no longer declares is dropped (the batch's removedUnits and
// removedSources). An object declared by the configuration itself is kept
// as the configuration has it (a bootstrap repository's flux-system
// Kustomization builds its own GitRepository and Kustomization, with the
// repository's URL, which the caller may have replaced); one declared by
// another unit is the same object declared again when its spec is the same,
// and an error otherwise, as is an object that is twice in objs. The
// Configuration returned has the loader's name and namespace and the
// sources and units parent declares, new or replaced; it may have no units.
// Nothing changes in the loader until the batch is committed.
func (l *fluxLoader) fromObjects(ctx context.Context, parent string, objs []*unstructured.Unstructured) (*fluxBatch, Configuration, error) {
	// Secrets are read again for each build: credentials may have
	// changed since.
	l.secrets = map[string]lookupResult[map[string][]byte]{}
	docs := make([]*fluxDoc, 0, len(objs))
	for i, o := range objs {
		d := &fluxDoc{index: i + 1}
		j, err := o.MarshalJSON()
		if err != nil {
			return nil, Configuration{}, d.failf("", "%v", err)
		}
		if err := l.parseJSON(d, j); err != nil {
			return nil, Configuration{}, err
		}
		if d.doc != nil {
			docs = append(docs, d)
		}
	}
	return l.load(ctx, parent, docs)
}

// load converts parsed objects declared by parent: it names them, checks
// that no object is there twice and no two objects get the same unit or
// source name, then converts them in order. The loader takes the new
// objects only when the batch is committed.
func (l *fluxLoader) load(ctx context.Context, parent string, docs []*fluxDoc) (*fluxBatch, Configuration, error) {
	b := &fluxBatch{l: l, parent: parent, home: l.home, objects: map[fluxKey]*fluxDoc{}, units: map[string]*fluxDoc{},
		sources: map[string]*fluxDoc{}, intervals: map[fluxKey]time.Duration{}, kept: map[fluxKey]bool{}}
	for _, d := range docs {
		if b.home == "" {
			b.home = d.namespace
		}
		k := d.key()
		if prev := b.objects[k]; prev != nil {
			return nil, Configuration{}, d.failf("metadata.name", "%s %q is also defined by %s", d.kind, d.name, prev.where())
		}
		if b.kept[k] {
			return nil, Configuration{}, d.failf("metadata.name", "%s %s/%s is defined twice", d.kind, d.namespace, d.name)
		}
		if prev := l.objects[k]; prev != nil {
			switch owner := l.declaredBy[k]; {
			case owner == parent: // declared again by the same unit: replaced
			case owner == "":
				b.kept[k] = true
				if !reflect.DeepEqual(prev.spec, d.spec) {
					b.overridden = append(b.overridden, k)
				}
				continue
			case reflect.DeepEqual(prev.spec, d.spec):
				b.kept[k] = true
				continue
			default:
				return nil, Configuration{}, d.failf("metadata.name", "%s %s/%s is also defined, differently, by the build of unit %s",
					d.kind, d.namespace, d.name, owner)
			}
		}
		b.objects[k] = d
		b.order = append(b.order, d)
		if err := b.name(d); err != nil {
			return nil, Configuration{}, err
		}
	}
	conf := Configuration{Name: l.opts.Name, Namespace: b.home}
	if conf.Name == "" {
		conf.Name = b.home
	}
	for _, d := range b.order {
		var (
			s   Source
			err error
		)
		switch d.kind {
		case "GitRepository":
			s, err = b.source(ctx, d)
		case "OCIRepository":
			s, err = b.ociSource(ctx, d)
		default:
			continue
		}
		if err != nil {
			return nil, Configuration{}, err
		}
		conf.Sources = append(conf.Sources, s)
	}
	for _, d := range b.order {
		var err error
		switch d.kind {
		case "Kustomization":
			var u Unit
			if u, err = b.unit(ctx, d); err == nil {
				conf.Units = append(conf.Units, u)
			}
		case "HelmRelease":
			var u Unit
			if u, err = b.helmUnit(ctx, d); err == nil {
				conf.Units = append(conf.Units, u)
			}
		case "HelmRepository", "HelmChart":
			// An OCIRepository is a source (above), and read as a chart
			// where a HelmRelease refers to it.
			_, err = b.chartSource(ctx, d)
		case "ArtifactGenerator":
			err = b.checkGenerator(d)
		}
		if err != nil {
			return nil, Configuration{}, err
		}
	}
	for k, owner := range l.declaredBy {
		if owner != parent || parent == "" || b.objects[k] != nil {
			continue
		}
		switch d := l.objects[k]; d.kind {
		case "Kustomization", "HelmRelease":
			b.removedUnits = append(b.removedUnits, d.unitName)
		case "GitRepository", "OCIRepository":
			b.removedSources = append(b.removedSources, d.unitName)
		}
	}
	slices.Sort(b.removedUnits)
	slices.Sort(b.removedSources)
	return b, conf, nil
}

// commit makes the batch's objects the loader's, and drops those its
// parent no longer declares.
func (b *fluxBatch) commit() {
	l := b.l
	l.home = b.home
	if b.parent != "" {
		for k, owner := range l.declaredBy {
			if owner == b.parent && b.objects[k] == nil {
				d := l.objects[k]
				delete(l.objects, k)
				delete(l.declaredBy, k)
				if l.units[d.unitName] == d {
					delete(l.units, d.unitName)
				}
				if l.sources[d.unitName] == d {
					delete(l.sources, d.unitName)
				}
			}
		}
	}
	for k, d := range b.objects {
		l.objects[k] = d
		l.declaredBy[k] = b.parent
	}
	for n, d := range b.units {
		l.units[n] = d
	}
	for n, d := range b.sources {
		l.sources[n] = d
	}
}

// where says where an object was defined, for errors.
func (d *fluxDoc) where() string {
	if d.line > 0 {
		return fmt.Sprintf("document %d at line %d", d.index, d.line)
	}
	return fmt.Sprintf("document %d", d.index)
}

// name gives a Kustomization or HelmRelease its unit name, and a
// GitRepository its source name (see LoadFlux), and checks that no other
// object has it.
func (b *fluxBatch) name(d *fluxDoc) error {
	var names, loaded map[string]*fluxDoc
	switch d.kind {
	case "Kustomization", "HelmRelease":
		names, loaded = b.units, b.l.units
	case "GitRepository", "OCIRepository":
		names, loaded = b.sources, b.l.sources
	default:
		return nil
	}
	isSource := d.kind == "GitRepository" || d.kind == "OCIRepository"
	d.unitName = fluxName(b.home, d.namespace, d.name)
	if !isSource {
		if msgs := validation.IsDNS1123Label(d.unitName); len(msgs) > 0 {
			return d.failf("metadata.name", "%q: a %s's name names a unit and must be a DNS label: %s", d.name, d.kind, strings.Join(msgs, "; "))
		}
	}
	prev := names[d.unitName]
	if prev == nil {
		prev = loaded[d.unitName]
		if prev != nil && prev.key() == d.key() {
			prev = nil // the object declared again by the same unit
		}
	}
	if prev != nil {
		what := "unit"
		if isSource {
			what = "source"
		}
		return d.failf("metadata.name", "its %s name %q is also that of %s %s/%s (%s): rename one of them",
			what, d.unitName, prev.kind, prev.namespace, prev.name, prev.where())
	}
	names[d.unitName] = d
	return nil
}

// fluxName is the unit or source name of the object namespace/name in a
// configuration whose namespace is home.
func fluxName(home, namespace, name string) string {
	if namespace == home {
		return name
	}
	n := namespace + "-" + name
	if len(n) <= validation.DNS1123LabelMaxLength {
		return n
	}
	sum := sha256.Sum256([]byte(namespace + "/" + name))
	return strings.TrimRight(n[:54], "-.") + "-" + hex.EncodeToString(sum[:])[:8]
}

// ref resolves a reference of d to an object of kind: namespace "" is d's
// own. It checks the lockdown and that the object is loaded.
func (b *fluxBatch) ref(d *fluxDoc, field, kind, namespace, name string) (*fluxDoc, error) {
	if name == "" {
		return nil, d.failf(field+".name", "required")
	}
	if namespace == "" {
		namespace = d.namespace
	}
	if namespace != d.namespace && b.l.opts.NoCrossNamespaceRefs {
		return nil, d.fail(field+".namespace", fmt.Errorf("%w: %s %s/%s is in another namespace than %q, and cross-namespace references are not allowed",
			ErrCrossNamespaceRef, kind, namespace, name, d.namespace))
	}
	t := b.lookup(fluxKey{kind, namespace, name})
	if t == nil {
		where := "the stream"
		if len(b.l.objects) > 0 {
			where = "the configuration"
		}
		if namespace == d.namespace {
			return nil, d.failf(field+".name", "no %s %q in %s", kind, name, where)
		}
		return nil, d.failf(field+".name", "no %s %s/%s in %s", kind, namespace, name, where)
	}
	return t, nil
}

// dependency resolves a dependsOn entry of d to a unit name. For a loader
// of the engine, an object not loaded (yet) is not an error: another
// unit's build may declare it, and until then the unit waits for it, as
// Flux's would.
func (b *fluxBatch) dependency(d *fluxDoc, field, kind, namespace, name string) (string, error) {
	t, err := b.ref(d, field, kind, namespace, name)
	if err == nil {
		return t.unitName, nil
	}
	var fe *FluxError
	if b.l.engine && name != "" && errors.As(err, &fe) && fe.Field == field+".name" {
		if namespace == "" {
			namespace = d.namespace
		}
		return fluxName(b.home, namespace, name), nil
	}
	return "", err
}

// serviceAccount is the account d acts as: its own or the default.
func (b *fluxBatch) serviceAccount(name string) string {
	if name == "" {
		return b.l.opts.DefaultServiceAccount
	}
	return name
}
