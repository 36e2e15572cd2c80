package helmrelease

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"

	"github.com/gitopskit/gitopskit/helmrelease/internal/driver"
	"github.com/gitopskit/gitopskit/internal/jsonpointer"
)

// Metadata Helm puts on every object of a release; drift correction
// applies it too, so that the objects stay Helm's.
const (
	helmManagedByLabel        = "app.kubernetes.io/managed-by"
	helmReleaseNameAnnotation = "meta.helm.sh/release-name"
	helmReleaseNSAnnotation   = "meta.helm.sh/release-namespace"
)

// maxDriftFields bounds the field paths reported per object.
const maxDriftFields = 20

// drift compares the live objects with the release manifest (a server-side
// apply dry run of each manifest object, compared with the live object)
// and, in DriftCorrect mode, applies the drifted ones again.
func (r *Reconciler) drift(ctx context.Context, rel *Release, cur *driver.Release, st *Status) error {
	objs, err := decodeManifest(cur.Manifest)
	if err != nil {
		return fmt.Errorf("drift: decode manifest of revision %d: %w", cur.Revision, err)
	}
	rules, err := compileDriftIgnores(rel.Drift.Ignore)
	if err != nil {
		return fmt.Errorf("drift: %w", err)
	}
	st.Drift = nil
	for _, obj := range objs {
		d, client, ops, err := r.driftOf(ctx, rel, obj, ignoredPaths(rules, obj))
		if err != nil {
			return err
		}
		if d == nil {
			continue
		}
		if rel.Drift.Mode == DriftCorrect {
			if err := r.correct(ctx, client, obj, ops); err != nil {
				return fmt.Errorf("drift: correct %s: %w", d, err)
			}
			d.Corrected = true
		}
		st.Drift = append(st.Drift, *d)
	}
	if len(st.Drift) == 0 {
		return nil
	}
	names := make([]string, len(st.Drift))
	for i, d := range st.Drift {
		names[i] = d.String()
		if d.Missing {
			names[i] += " (missing)"
		} else {
			names[i] += " (" + strings.Join(d.Fields, ", ") + ")"
		}
	}
	msg := fmt.Sprintf("%d object(s) drifted from revision %d: %s", len(st.Drift), cur.Revision, strings.Join(names, "; "))
	r.emit(rel, Event{Type: EventDriftDetected, Revision: cur.Revision, Message: msg})
	if rel.Drift.Mode == DriftCorrect {
		st.Actions = append(st.Actions, ActionCorrect)
		st.Reason = ReasonDriftCorrected
		st.Message = "corrected: " + msg
		r.emit(rel, Event{Type: EventDriftCorrected, Revision: cur.Revision, Message: st.Message})
	} else {
		st.Message += "; " + msg
	}
	return nil
}

// correct puts a drifted object back: by server-side applying the
// release's object, or, when some of its fields are ignored, by a JSON
// patch that sets the differing fields only (ops), so that the ignored
// fields keep their live values. The patch is not guarded by the
// resourceVersion: controllers update status all the time, and the patch
// sets the release's values whatever changed meanwhile, as correction
// means to; a field removed meanwhile fails it, and the next reconcile
// computes it again.
func (r *Reconciler) correct(ctx context.Context, client dynamic.ResourceInterface, obj *unstructured.Unstructured, ops []patchOp) error {
	if ops != nil {
		data, err := json.Marshal(ops)
		if err != nil {
			return err
		}
		_, err = client.Patch(ctx, obj.GetName(), types.JSONPatchType, data, metav1.PatchOptions{FieldManager: r.opts.FieldManager})
		return err
	}
	data, err := json.Marshal(obj.Object)
	if err != nil {
		return err
	}
	_, err = client.Patch(ctx, obj.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{
		FieldManager: r.opts.FieldManager, Force: ptrTo(true),
	})
	return err
}

// driftReadAttempts bounds the reads of an object that changes between its
// GET and its dry-run apply.
const driftReadAttempts = 3

// driftOf returns the drift of one object (nil when there is none), the
// client for it and, when ignored (paths that apply to the object) is not
// empty and the object exists, the JSON patch that corrects it.
func (r *Reconciler) driftOf(ctx context.Context, rel *Release, obj *unstructured.Unstructured, ignored [][]string) (*DriftedObject, dynamic.ResourceInterface, []patchOp, error) {
	gvk := obj.GroupVersionKind()
	mapping, err := r.cluster.Mapping(gvk) // refreshes discovery once for an unknown kind
	if err != nil {
		return nil, nil, nil, fmt.Errorf("drift: %s %s: %w", gvk.Kind, obj.GetName(), err)
	}
	var client dynamic.ResourceInterface = r.dynamic.Resource(mapping.Resource)
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		if obj.GetNamespace() == "" {
			obj.SetNamespace(rel.Namespace)
		}
		client = r.dynamic.Resource(mapping.Resource).Namespace(obj.GetNamespace())
	} else {
		obj.SetNamespace("")
	}
	labels := obj.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[helmManagedByLabel] = "Helm"
	obj.SetLabels(labels)
	ann := obj.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[helmReleaseNameAnnotation] = rel.Name
	ann[helmReleaseNSAnnotation] = rel.Namespace
	obj.SetAnnotations(ann)

	d := &DriftedObject{APIVersion: obj.GetAPIVersion(), Kind: obj.GetKind(), Namespace: obj.GetNamespace(), Name: obj.GetName()}
	data, err := json.Marshal(obj.Object)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("drift: encode %s: %w", d, err)
	}
	// The live object and the dry run must see the same version: a
	// controller writing in between (the Deployment controller's revision
	// annotation) would read as drift. A dry run writes nothing, so its
	// answer keeps the resourceVersion it applied to.
	var live, dry *unstructured.Unstructured
	for attempt := 0; attempt < driftReadAttempts; attempt++ {
		live, err = client.Get(ctx, obj.GetName(), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			d.Missing = true
			return d, client, nil, nil
		}
		if err != nil {
			return nil, nil, nil, fmt.Errorf("drift: get %s: %w", d, err)
		}
		dry, err = client.Patch(ctx, obj.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{
			FieldManager: r.opts.FieldManager, Force: ptrTo(true), DryRun: []string{metav1.DryRunAll},
		})
		if err != nil {
			return nil, nil, nil, fmt.Errorf("drift: dry-run apply %s: %w", d, err)
		}
		if dry.GetResourceVersion() == live.GetResourceVersion() {
			break
		}
	}
	liveFields, dryFields := comparable(live.Object), comparable(dry.Object)
	for _, p := range ignored {
		jsonpointer.Remove(liveFields, p)
		jsonpointer.Remove(dryFields, p)
	}
	d.Fields = diffPaths("", liveFields, dryFields, nil)
	if len(d.Fields) == 0 {
		return nil, client, nil, nil
	}
	if len(d.Fields) > maxDriftFields {
		d.Fields = append(d.Fields[:maxDriftFields], "…")
	}
	var ops []patchOp
	if len(ignored) > 0 {
		ops = patchOps("", liveFields, dryFields, nil)
	}
	return d, client, ops, nil
}

// comparable keeps what a dry-run apply may legitimately change: a copy of
// the object minus status and server-managed metadata.
func comparable(obj map[string]any) map[string]any {
	obj = runtime.DeepCopyJSON(obj)
	out := make(map[string]any, len(obj))
	for k, v := range obj {
		switch k {
		case "status":
		case "metadata":
			md, _ := v.(map[string]any)
			keep := map[string]any{}
			for _, f := range []string{"labels", "annotations"} {
				if x, ok := md[f]; ok {
					keep[f] = x
				}
			}
			out[k] = keep
		default:
			out[k] = v
		}
	}
	return out
}

// diffPaths lists the paths at which a and b differ, sorted.
func diffPaths(prefix string, a, b any, out []string) []string {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		keys := map[string]bool{}
		for k := range am {
			keys[k] = true
		}
		for k := range bm {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			out = diffPaths(p, am[k], bm[k], out)
		}
		return out
	}
	al, aok := a.([]any)
	bl, bok := b.([]any)
	if aok && bok && len(al) == len(bl) {
		for i := range al {
			out = diffPaths(fmt.Sprintf("%s[%d]", prefix, i), al[i], bl[i], out)
		}
		return out
	}
	if !reflect.DeepEqual(a, b) {
		out = append(out, prefix)
	}
	return out
}

// decodeManifest splits a release manifest into objects.
func decodeManifest(manifest string) ([]*unstructured.Unstructured, error) {
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewBufferString(manifest), 4096)
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			return nil, err
		}
		if len(m) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		if u.IsList() {
			list, err := u.ToList()
			if err != nil {
				return nil, err
			}
			for i := range list.Items {
				objs = append(objs, &list.Items[i])
			}
			continue
		}
		objs = append(objs, u)
	}
}

func ptrTo[T any](v T) *T { return &v }
