// Package object holds the helpers every gitopskit package shares for
// Kubernetes objects held as *unstructured.Unstructured: one identity key, one
// apply-friendly sort order, one YAML decoder and one YAML encoder.
//
// # Keys
//
// [Key] is the identity of an object: group, kind, namespace and name. The API
// version is deliberately not part of it, because apps/v1 and apps/v1beta2
// Deployments with the same namespace and name are the same object on the API
// server. [Key.String] renders a key as "group/Kind/namespace/name", with
// "core" for the core (empty) group and an empty namespace segment for
// cluster-scoped objects, for example "apps/Deployment/prod/web",
// "core/Service/prod/web" and "rbac.authorization.k8s.io/ClusterRole//admin".
// [ParseKey] reads that form back.
//
// # Order
//
// [Sort] orders objects so that applying them front to back works on an empty
// cluster: CustomResourceDefinitions, then Namespaces, then other cluster-wide
// prerequisites (ClusterRoles, StorageClasses, PriorityClasses, ...), then
// namespaced prerequisites (ServiceAccounts, Roles, ConfigMaps, Secrets,
// Services, ...), then workloads, then everything else, and admission
// webhooks and APIServices last, so that they never block the creation of the
// objects before them. [Rank] exposes the tier. Ties are broken by key and
// then by API version; the sort is stable and deterministic.
//
// # Decoding and encoding
//
// [Decode] reads a multi-document YAML or JSON stream with the apimachinery
// decoders, so that integers stay int64 as they do in objects read from the
// API server. Empty documents are skipped and List kinds are expanded.
// Malformed input gives a [*DecodeError] naming the source and the line.
// [Encode] writes objects as a deterministic multi-document YAML stream.
package object
