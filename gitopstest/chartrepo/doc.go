// Package chartrepo serves Helm charts on 127.0.0.1 for tests and example
// programs, and builds the charts from Go:
//
//   - [Repo] is an HTTP chart repository: packaged charts and the
//     index.yaml that lists them, optionally behind basic authentication.
//   - [Registry] is an OCI registry (an in-memory registry from
//     go-containerregistry), optionally behind basic authentication, to
//     which charts are pushed with Helm's registry client over plain HTTP,
//     and artifacts of manifests as `flux push artifact` pushes them
//     ([Registry.PushArtifact], [FluxLayer]).
//   - [Chart] describes a chart in code; [WriteDir] writes it as a chart
//     directory and [Package] packages it into a .tgz archive as
//     `helm package` does.
//
// # Building charts
//
//	c := chartrepo.Chart{
//		Name: "hello", Version: "1.0.0",
//		Values:    "replicas: 1\n",
//		Templates: map[string]string{"cm.yaml": "apiVersion: v1\nkind: ConfigMap\n..."},
//	}
//	archive, err := chartrepo.Package(c)
//
// # Serving them
//
//	repo, err := chartrepo.StartRepo(ctx, chartrepo.RepoOptions{Username: "u", Password: "p"})
//	defer repo.Close()
//	err = repo.Add(archive) // index.yaml now lists hello 1.0.0
//	// repo.URL() is "http://127.0.0.1:PORT"
//
//	reg, err := chartrepo.StartRegistry(ctx, chartrepo.RegistryOptions{})
//	defer reg.Close()
//	ref, err := reg.Push(archive, "charts") // "127.0.0.1:PORT/charts/hello:1.0.0"
//	// reg.URL() + "/charts" is the OCI repository URL "oci://127.0.0.1:PORT/charts"
//
//	layer, err := chartrepo.FluxLayer(map[string]string{"deploy/app.yaml": "..."})
//	digest, err := reg.PushArtifact(ctx, "manifests/app", "v1.0.0", layer)
//	// an OCIRepository of url reg.URL()+"/manifests/app" fetches it
//
// Package [github.com/gitopskit/gitopskit/gitopstest] wraps the starters for
// tests (one call, closed in t.Cleanup). Nothing here reads environment
// variables or logs to stdout, except that Helm's registry client, used by
// [Registry.Push], looks for Docker credential files it then does not use.
package chartrepo
