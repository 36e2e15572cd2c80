package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/gitopskit/gitopskit/build"
	"github.com/gitopskit/gitopskit/reconcile"
	"github.com/gitopskit/gitopskit/source"
)

// gitopskit's own configuration file: one document, a [reconcile.Configuration]
// written in YAML, for configurations that are not Flux objects.
//
//	apiVersion: gitopskit.io/v1alpha1
//	kind: Configuration
//	metadata: {name: fleet, namespace: cluster-config}
//	spec:
//	  sources:
//	    - name: fleet
//	      url: https://git.example.com/org/fleet.git
//	      ref: {branch: main}           # branch, tag, semver, commit or name
//	      secretRef: {name: git-auth}   # keys as Flux's: username/password, bearerToken, identity/known_hosts
//	  units:
//	    - {name: infra, source: fleet, path: ./infra, prune: true, wait: true}
//	    - {name: apps, source: fleet, path: ./apps, dependsOn: [infra], targetNamespace: apps,
//	       substitute: {cluster: prod}, timeout: 3m, interval: 10m}
//	  tenancy: {namespaces: [apps], serviceAccountName: deployer}
//
// Unknown fields are errors, never ignored.
const (
	ownAPIVersion = "gitopskit.io/v1alpha1"
	ownKind       = "Configuration"
)

type ownConfig struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace,omitempty"`
	} `json:"metadata"`
	Spec struct {
		Sources []ownSource `json:"sources"`
		Units   []ownUnit   `json:"units"`
		Tenancy *ownTenancy `json:"tenancy,omitempty"`
	} `json:"spec"`
}

type ownSource struct {
	Name string `json:"name"`
	URL  string `json:"url"`
	Ref  struct {
		Branch string `json:"branch,omitempty"`
		Tag    string `json:"tag,omitempty"`
		SemVer string `json:"semver,omitempty"`
		Commit string `json:"commit,omitempty"`
		Name   string `json:"name,omitempty"`
	} `json:"ref"`
	// OCI selects the artifact of an oci:// url.
	OCI *struct {
		Tag          string `json:"tag,omitempty"`
		SemVer       string `json:"semver,omitempty"`
		SemVerFilter string `json:"semverFilter,omitempty"`
		Digest       string `json:"digest,omitempty"`
		MediaType    string `json:"mediaType,omitempty"`
		Insecure     bool   `json:"insecure,omitempty"`
	} `json:"oci,omitempty"`
	SecretRef *struct {
		Name string `json:"name"`
	} `json:"secretRef,omitempty"`
	Ignore  []string         `json:"ignore,omitempty"`
	Timeout *metav1.Duration `json:"timeout,omitempty"`
}

type ownUnit struct {
	Name               string            `json:"name"`
	Source             string            `json:"source,omitempty"`
	Path               string            `json:"path,omitempty"`
	DependsOn          []string          `json:"dependsOn,omitempty"`
	Prune              bool              `json:"prune,omitempty"`
	Wait               bool              `json:"wait,omitempty"`
	Force              bool              `json:"force,omitempty"`
	Suspend            bool              `json:"suspend,omitempty"`
	AllowEmpty         bool              `json:"allowEmpty,omitempty"`
	Timeout            *metav1.Duration  `json:"timeout,omitempty"`
	Interval           *metav1.Duration  `json:"interval,omitempty"`
	RetryInterval      *metav1.Duration  `json:"retryInterval,omitempty"`
	ServiceAccountName string            `json:"serviceAccountName,omitempty"`
	TargetNamespace    string            `json:"targetNamespace,omitempty"`
	NamePrefix         string            `json:"namePrefix,omitempty"`
	NameSuffix         string            `json:"nameSuffix,omitempty"`
	CommonLabels       map[string]string `json:"commonLabels,omitempty"`
	CommonAnnotations  map[string]string `json:"commonAnnotations,omitempty"`
	Components         []string          `json:"components,omitempty"`
	Substitute         map[string]string `json:"substitute,omitempty"`
	StrictSubstitute   bool              `json:"strictSubstitute,omitempty"`
}

type ownTenancy struct {
	Namespaces         []string `json:"namespaces,omitempty"`
	AllowClusterScoped bool     `json:"allowClusterScoped,omitempty"`
	ServiceAccountName string   `json:"serviceAccountName,omitempty"`
}

// isOwnFormat reports whether data is gitopskit's own format: its first
// document's apiVersion is in the gitopskit.io group. Anything else is read
// as Flux objects (and refused there when it is not).
func isOwnFormat(data []byte) bool {
	var head struct {
		APIVersion string `json:"apiVersion"`
	}
	for doc := range bytes.SplitSeq(data, []byte("\n---")) {
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		if yaml.Unmarshal(doc, &head) != nil {
			return false
		}
		return strings.HasPrefix(head.APIVersion, "gitopskit.io/")
	}
	return false
}

func stripComments(doc []byte) []byte {
	var out [][]byte
	for line := range bytes.SplitSeq(doc, []byte("\n")) {
		if t := bytes.TrimSpace(line); len(t) > 0 && t[0] != '#' {
			out = append(out, line)
		}
	}
	return bytes.Join(out, []byte("\n"))
}

// loadOwn reads gitopskit's own format. namespace is the records'
// namespace when metadata.namespace is empty.
func loadOwn(ctx context.Context, data []byte, namespace string, lk lookups) (reconcile.Configuration, error) {
	invalid := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", reconcile.ErrInvalidConfiguration, fmt.Sprintf(format, args...))
	}
	var docs int
	for doc := range bytes.SplitSeq(data, []byte("\n---")) {
		if len(bytes.TrimSpace(stripComments(doc))) > 0 {
			docs++
		}
	}
	if docs != 1 {
		return reconcile.Configuration{}, invalid("a %s file holds one document, not %d", ownKind, docs)
	}
	var oc ownConfig
	if err := yaml.UnmarshalStrict(data, &oc); err != nil {
		return reconcile.Configuration{}, fmt.Errorf("%w: %s: %w", reconcile.ErrInvalidConfiguration, ownKind, err)
	}
	if oc.APIVersion != ownAPIVersion || oc.Kind != ownKind {
		return reconcile.Configuration{}, invalid("apiVersion %q, kind %q: want %s %s", oc.APIVersion, oc.Kind, ownAPIVersion, ownKind)
	}
	conf := reconcile.Configuration{Name: oc.Metadata.Name, Namespace: oc.Metadata.Namespace}
	if conf.Namespace == "" {
		conf.Namespace = namespace
	}
	if conf.Name == "" {
		return reconcile.Configuration{}, invalid("metadata.name is required")
	}
	for i, s := range oc.Spec.Sources {
		src := reconcile.Source{Name: s.Name, URL: s.URL, Ignore: s.Ignore, Timeout: dur(s.Timeout),
			Ref: source.Ref{Branch: s.Ref.Branch, Tag: s.Ref.Tag, SemVer: s.Ref.SemVer, Commit: s.Ref.Commit, Name: s.Ref.Name}}
		if o := s.OCI; o != nil {
			src.OCI = &reconcile.OCIArtifact{Ref: source.OCIRef{Tag: o.Tag, SemVer: o.SemVer, SemVerFilter: o.SemVerFilter, Digest: o.Digest},
				MediaType: o.MediaType, PlainHTTP: o.Insecure}
		}
		if s.SecretRef != nil {
			ns := conf.Namespace
			if ns == "" {
				ns = reconcile.DefaultNamespace
			}
			data, err := lk.secret(ctx, ns, s.SecretRef.Name)
			if err != nil {
				err = fmt.Errorf("spec.sources[%d].secretRef: Secret %s/%s: %w", i, ns, s.SecretRef.Name, err)
				if isNotFound(err) {
					err = fmt.Errorf("%w: %w", reconcile.ErrInvalidConfiguration, err)
				}
				return reconcile.Configuration{}, err
			}
			if src.Auth, err = source.AuthFromSecretData(data); err != nil {
				return reconcile.Configuration{}, fmt.Errorf("%w: spec.sources[%d].secretRef: %w", reconcile.ErrInvalidConfiguration, i, err)
			}
		}
		conf.Sources = append(conf.Sources, src)
	}
	for _, u := range oc.Spec.Units {
		conf.Units = append(conf.Units, reconcile.Unit{Name: u.Name, Source: u.Source, Path: u.Path, DependsOn: u.DependsOn,
			Prune: u.Prune, Wait: u.Wait, Force: u.Force, Suspend: u.Suspend, AllowEmpty: u.AllowEmpty,
			Timeout: dur(u.Timeout), Interval: dur(u.Interval), RetryInterval: dur(u.RetryInterval),
			ServiceAccountName: u.ServiceAccountName,
			Build: build.KustomizeOptions{TargetNamespace: u.TargetNamespace, NamePrefix: u.NamePrefix,
				NameSuffix: u.NameSuffix, CommonLabels: u.CommonLabels, CommonAnnotations: u.CommonAnnotations,
				Components: u.Components, Substitute: u.Substitute, StrictSubstitute: u.StrictSubstitute}})
	}
	if len(conf.Units) == 0 {
		return reconcile.Configuration{}, invalid("spec.units is empty")
	}
	if t := oc.Spec.Tenancy; t != nil {
		conf.Tenancy = &reconcile.Tenancy{Namespaces: t.Namespaces, AllowClusterScoped: t.AllowClusterScoped,
			ServiceAccountName: t.ServiceAccountName}
	}
	return conf, nil
}

func dur(d *metav1.Duration) time.Duration {
	if d == nil {
		return 0
	}
	return d.Duration
}

// isNotFound reports whether a lookup failed because the object does not
// exist (reconcile.ErrNotFound, or a Kubernetes NotFound API error).
func isNotFound(err error) bool {
	return apierrors.IsNotFound(err) || errors.Is(err, reconcile.ErrNotFound)
}
