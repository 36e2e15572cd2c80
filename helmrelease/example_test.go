package helmrelease_test

import (
	"github.com/gitopskit/gitopskit/cluster"

	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"k8s.io/client-go/rest"

	"github.com/gitopskit/gitopskit/depgraph"
	"github.com/gitopskit/gitopskit/helmrelease"
)

// Values from a ConfigMap and a Secret the caller has read, merged in
// order, with inline values on top; a Secret key placed at a target path.
func ExampleMergeValues() {
	configMap := map[string]string{"values.yaml": "replicas: 2\ndb:\n  host: db.local\n  port: 5432\n"}
	secret := map[string][]byte{"password": []byte("s3cret")}

	values, err := helmrelease.MergeValues(
		map[string]any{"replicas": 3}, // inline: wins
		helmrelease.ValuesFrom{Kind: "ConfigMap", Name: "app-values", Data: helmrelease.ConfigMapData(configMap)},
		helmrelease.ValuesFrom{Kind: "Secret", Name: "app-db", ValuesKey: "password", TargetPath: "db.password", Data: secret},
		helmrelease.ValuesFrom{Kind: "ConfigMap", Name: "extra", Optional: true}, // absent: skipped
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(values["replicas"], values["db"])
	// Output: 3 map[host:db.local password:s3cret port:5432]
}

// A missing required values reference is a typed error naming it.
func ExampleValuesError() {
	_, err := helmrelease.MergeValues(nil, helmrelease.ValuesFrom{Kind: "Secret", Name: "app-db"})
	var ve *helmrelease.ValuesError
	fmt.Println(errors.Is(err, helmrelease.ErrValues), errors.As(err, &ve) && ve.Name == "app-db")
	fmt.Println(err)
	// Output:
	// true true
	// helmrelease: values from Secret/app-db key "values.yaml": object not found
}

// Equal values give equal digests, whatever their order or formatting: the
// digest is what decides whether an upgrade is needed.
func ExampleValuesDigest() {
	a, _ := helmrelease.MergeValues(nil, helmrelease.ValuesFrom{Kind: "ConfigMap", Name: "v",
		Data: map[string][]byte{"values.yaml": []byte("b: 2\na: 1\n")}})
	b := map[string]any{"a": 1, "b": 2}
	da, _ := helmrelease.ValuesDigest(a)
	db, _ := helmrelease.ValuesDigest(b)
	fmt.Println(da == db)
	// Output: true
}

// Releases grouped into levels by their dependencies.
func ExampleOrder() {
	levels, err := helmrelease.Order([]helmrelease.Release{
		{Name: "app", Namespace: "prod", DependsOn: []string{"postgres", "infra/ingress"}},
		{Name: "postgres", Namespace: "prod"},
		{Name: "ingress", Namespace: "infra"},
	})
	fmt.Println(levels, err)

	_, err = helmrelease.Order([]helmrelease.Release{
		{Name: "a", Namespace: "x", DependsOn: []string{"b"}},
		{Name: "b", Namespace: "x", DependsOn: []string{"a"}},
	})
	fmt.Println(errors.Is(err, depgraph.ErrCycle))
	// Output:
	// [[infra/ingress prod/postgres] [prod/app]] <nil>
	// true
}

// Credentials stored the usual way in a Secret.
func ExampleBasicAuthFromSecret() {
	auth, err := helmrelease.BasicAuthFromSecret(map[string][]byte{"username": []byte("robot"), "password": []byte("t0ken")})
	fmt.Println(auth.Username, err)
	_, err = helmrelease.BasicAuthFromSecret(map[string][]byte{"username": []byte("robot")})
	fmt.Println(err)
	// Output:
	// robot <nil>
	// helmrelease: credentials: missing key "password"
}

// Installing (or upgrading, or leaving alone) a release from a chart
// repository, with remediation and drift correction. (Not run: it needs a
// cluster and a repository.)
func ExampleReconciler_Reconcile() {
	var cfg *rest.Config                          // the cluster, from the embedding program
	c, err := cluster.New(cfg, cluster.Options{}) // one per cluster, shared with the other stages
	if err != nil {
		fmt.Println(err)
		return
	}
	r, err := helmrelease.NewReconciler(c, helmrelease.Options{
		CacheDir: "/var/cache/myapp/charts",
		Logger:   slog.New(slog.NewTextHandler(os.Stderr, nil)),
		Events:   func(e helmrelease.Event) { fmt.Println(e.Type, e.Message) },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	st, err := r.Reconcile(context.Background(), helmrelease.Release{
		Name: "podinfo", Namespace: "apps", CreateNamespace: true,
		Chart:   helmrelease.ChartRef{RepoURL: "https://charts.example.com", Name: "podinfo", Version: "6.x"},
		Values:  map[string]any{"replicaCount": 2},
		Install: helmrelease.InstallPolicy{Retries: 2},
		Upgrade: helmrelease.UpgradePolicy{Retries: 2},
		Drift:   helmrelease.DriftPolicy{Mode: helmrelease.DriftCorrect},
	})
	switch {
	case errors.Is(err, helmrelease.ErrRetriesExhausted):
		fmt.Println("giving up until the chart or values change:", st.Message)
	case err != nil:
		fmt.Println("not ready:", st.Reason, err)
	default:
		fmt.Println("ready:", st.Reason, "revision", st.Revision, "chart", st.ChartVersion)
	}
}
