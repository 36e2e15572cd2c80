package reconcile_test

import (
	"context"
	"errors"
	"testing"

	"github.com/gitopskit/gitopskit/reconcile"
)

// FuzzLoadFlux checks that LoadFlux never panics, fails only with a
// *FluxError, and on success returns units that each name a loaded source
// and only dependencies that are units.
func FuzzLoadFlux(f *testing.F) {
	f.Add([]byte(fluxSeed))
	f.Add([]byte(fluxKitchenSink))
	f.Add([]byte("---\n--- {apiVersion: v1}\n...\nkind: [\n"))
	f.Add([]byte("apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: a}\nspec: {interval: 1m, sourceRef: {kind: GitRepository, name: a}, postBuild: {substitute: {a: &x [1], b: *x}}}\n"))
	f.Add([]byte("a: &a [x, x]\nb: [*a, *a]\nc: [*b, *b]\n"))
	f.Add([]byte("- 1\n- {apiVersion: 3}\n"))
	secrets := map[string][]byte{"username": []byte("u"), "password": []byte("p"), "v": []byte("1")}
	opts := reconcile.FluxOptions{
		SecretData: func(ctx context.Context, namespace, name string) (map[string][]byte, error) {
			if name == "missing" {
				return nil, reconcile.ErrNotFound
			}
			return secrets, nil
		},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		conf, err := reconcile.LoadFlux(context.Background(), data, opts)
		if err != nil {
			var fe *reconcile.FluxError
			if !errors.As(err, &fe) || !errors.Is(err, reconcile.ErrInvalidConfiguration) {
				t.Fatalf("LoadFlux: %v (%T), want an invalid configuration *FluxError", err, err)
			}
			return
		}
		sources := map[string]bool{}
		for _, s := range conf.Sources {
			if s.URL == "" || s.Ref.Validate() != nil {
				t.Fatalf("source %+v", s)
			}
			sources[s.Name] = true
		}
		units := map[string]bool{}
		for _, u := range conf.Units {
			units[u.Name] = true
		}
		if len(units) == 0 || conf.Namespace == "" || conf.Name == "" {
			t.Fatalf("configuration %+v", conf)
		}
		for _, u := range conf.Units {
			helmFromRepo := u.Helm != nil && u.Helm.Chart.RepoURL != "" && u.Source == ""
			if !(sources[u.Source] || helmFromRepo) || u.Interval <= 0 || u.Timeout <= 0 || u.RetryInterval < 0 {
				t.Fatalf("unit %+v", u)
			}
			for _, d := range u.DependsOn {
				if !units[d] {
					t.Fatalf("unit %s depends on %s, not a unit", u.Name, d)
				}
			}
		}
	})
}
