// Package build turns an artifact directory and a path inside it into a
// sorted, validated list of Kubernetes objects, by running kustomize over a
// filesystem confined to the artifact root or by rendering a Helm chart.
//
// The build stage is where untrusted repository content is parsed, so it is
// the security boundary of the pipeline: paths that escape the artifact,
// remote bases and plugins are refused with typed errors.
//
// Status: designed, not yet implemented; this file reserves the package and
// states its job (see the project's issue tracker).
package build
