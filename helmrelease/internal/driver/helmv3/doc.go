// Package helmv3 implements [driver.Driver] with the Helm v3 library
// (helm.sh/helm/v3/pkg/action). It is the only package of helmrelease that
// imports Helm's action, chart and storage packages.
//
// Release records are stored as Secrets in the release's namespace (Helm's
// default "secret" storage driver). The Kubernetes clients come from the
// caller's rest.Config through a small RESTClientGetter: no kubeconfig file
// and no environment variable is read. Helm's debug output goes to the
// caller's *slog.Logger at debug level.
package helmv3
