package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/gitopskit/gitopskit/internal/object"
	"github.com/gitopskit/gitopskit/reconcile"
	"github.com/gitopskit/gitopskit/source"
)

type renderFlags struct {
	config  configFlags
	offline offlineFlags
	refs    []string
	// output shadows the global --output: render's default is yaml.
	output string
}

func newRenderCommand(e *env) *cobra.Command {
	f := &renderFlags{}
	cmd := &cobra.Command{
		Use:   "render [-f FILE | --url URL ...]",
		Short: "Render what a configuration would apply, with no cluster",
		Long: `render runs the pipeline of sync up to admission with no cluster: it fetches each unit's
revision, applies post-build substitution, builds with kustomize or renders the Helm chart,
and follows the Flux objects found in builds (Kustomizations, HelmReleases, sources) as
units of the same configuration, recursively, in dependency order. Nothing is read from
or written to a cluster; no kubeconfig is needed.

What a reconcile would read from the cluster comes from the units rendered before (a
ConfigMap one unit renders is what a later unit's substituteFrom reads), or from the
ConfigMaps and Secrets of --objects; what neither has is reported as
a gap, never guessed. Helm charts are rendered with Helm's default capabilities, and
lookup finds nothing. A source's credentials Secret (the flux-system Secret flux
bootstrap makes) that --objects lacks is noted and the source fetched without
credentials, so a public repository renders as it is.

--ref SOURCE=REF renders a source at another reference than its own (a pull request's
commit, say); SOURCE is a source of the configuration (a GitRepository's name, or its
namespace-name when in another namespace than the configuration's; "git" with --url) or one
a build declares. ` + refSyntax + `

Output (-o): yaml (the default) is every unit's objects as one YAML stream, each
document after a "# unit: NAME" comment; json is the units with their objects, gaps
and errors; text is per unit its revision, where it was declared, its object keys and
gaps. Secret values are masked in every format.

Exit codes: 0 rendered, 1 a unit could not be rendered (the output has the others),
2 a bad flag or an invalid configuration.`,
		Example: `  # Everything a Flux repository's cluster overlay would apply, as YAML.
  gitopskit render -f clusters/prod/flux-system/gotk-sync.yaml

  # The same at a pull request's commit, its units and object keys only.
  gitopskit render -f clusters/prod/flux-system/gotk-sync.yaml --ref flux-system=$SHA -o text

  # With the cluster's Secrets and ConfigMaps a substituteFrom names.
  kubectl get cm,secret -n flux-system -o yaml > objects.yaml
  gitopskit render -f gotk-sync.yaml --objects objects.yaml -o json

  # One path of one repository.
  gitopskit render --url https://github.com/org/fleet.git --tag v1.2.0 --path ./apps`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.config.validate(cmd); err != nil {
				return err
			}
			if err := checkOutput(f.output); err != nil {
				return err
			}
			refs, err := parseRefFlags(f.refs)
			if err != nil {
				return usageError(err)
			}
			return runRender(cmd.Context(), e, f, refs)
		},
	}
	fs := cmd.Flags()
	f.config.addFlags(fs)
	f.offline.addFlags(fs)
	fs.StringArrayVar(&f.refs, "ref", nil, "render source SOURCE at REF (SOURCE=REF, repeatable)")
	fs.StringVarP(&f.output, "output", "o", "yaml", "output format: yaml (the objects), json or text")
	for _, name := range []string{"prune", "wait", "timeout"} {
		_ = fs.MarkHidden(name) // nothing is applied
	}
	return cmd
}

// checkOutput validates an --output value.
func checkOutput(format string) error {
	switch format {
	case "text", "json", "yaml":
		return nil
	}
	return usagef("--output %q: want text, json or yaml", format)
}

func runRender(ctx context.Context, e *env, f *renderFlags, refs map[string]source.Ref) error {
	setup, err := f.offline.setup(f.config.namespace, e.stderr)
	if err != nil {
		return failure(err)
	}
	defer setup.cleanup()
	conf, err := f.config.load(ctx, e.stdin, setup.lookups)
	if err != nil {
		return failure(err)
	}
	rendering, err := reconcile.Render(ctx, conf, reconcile.RenderOptions{Refs: refs, Objects: setup.objects,
		SourceCache: setup.cache, OnEvent: f.offline.events(e)})
	if err != nil {
		return failure(fmt.Errorf("render: %w", err))
	}
	v := newRenderView(rendering)
	switch f.output {
	case "yaml":
		err = writeRenderYAML(e.stdout, rendering)
		for _, u := range v.Units {
			for _, g := range u.Gaps {
				fmt.Fprintf(e.stderr, "gitopskit: unit %s: gap: %s\n", u.Name, g)
			}
			if u.Error != "" {
				fmt.Fprintf(e.stderr, "gitopskit: unit %s: %s\n", u.Name, u.Error)
			}
		}
	case "json":
		err = writeStructured(e.stdout, "json", v)
	default:
		err = writeRenderText(e.stdout, painter(e.colour(e.stdout)), v)
	}
	if err != nil {
		return failure(err)
	}
	if v.Failed > 0 {
		return failure(fmt.Errorf("%d of %d unit(s) could not be rendered", v.Failed, len(v.Units)))
	}
	return nil
}

// renderView is a rendering in json output.
type renderView struct {
	// Objects counts the objects of every unit.
	Objects int `json:"objects"`
	// Failed counts the units that could not be rendered (exit code 1).
	Failed int `json:"failed"`
	// Gaps counts what needed the cluster and was not rendered.
	Gaps  int              `json:"gaps"`
	Units []renderUnitView `json:"units"`
}

type renderUnitView struct {
	Name string `json:"name"`
	// DeclaredBy is the unit whose build declared this one; empty for the
	// configuration's own units.
	DeclaredBy string `json:"declaredBy,omitempty"`
	// FluxObject is the Flux object the unit comes from ("Kustomization
	// namespace/name").
	FluxObject string     `json:"fluxObject,omitempty"`
	Revision   string     `json:"revision,omitempty"`
	Chart      *chartView `json:"chart,omitempty"`
	Error      string     `json:"error,omitempty"`
	Gaps       []string   `json:"gaps,omitempty"`
	// Keys are the objects' keys ("group/Kind/namespace/name"), in the
	// order of Objects.
	Keys []string `json:"keys"`
	// Objects are what the unit would apply, Secret values masked.
	Objects []map[string]any `json:"objects"`
}

type chartView struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Digest  string `json:"digest,omitempty"`
	Source  string `json:"source,omitempty"`
}

func newRenderView(r *reconcile.Rendering) renderView {
	v := renderView{Units: []renderUnitView{}}
	for _, u := range r.Units {
		uv := renderUnitView{Name: u.Name, DeclaredBy: u.DeclaredBy, FluxObject: u.FluxObject, Revision: u.Revision,
			Gaps: u.Gaps, Keys: []string{}, Objects: []map[string]any{}}
		if u.Chart != nil {
			uv.Chart = &chartView{Name: u.Chart.Name, Version: u.Chart.Version, Digest: u.Chart.Digest, Source: u.Chart.Source}
		}
		if u.Err != nil {
			uv.Error = u.Err.Error()
			v.Failed++
		}
		for _, o := range u.Objects {
			uv.Keys = append(uv.Keys, object.KeyOf(o).String())
			uv.Objects = append(uv.Objects, masked(o).Object)
		}
		v.Objects += len(u.Objects)
		v.Gaps += len(u.Gaps)
		v.Units = append(v.Units, uv)
	}
	return v
}

// writeRenderYAML writes every unit's objects as one YAML stream, each
// document after a "# unit: NAME" comment, Secret values masked.
func writeRenderYAML(w io.Writer, r *reconcile.Rendering) error {
	var b strings.Builder
	for _, u := range r.Units {
		for _, o := range u.Objects {
			y, err := yaml.Marshal(masked(o).Object)
			if err != nil {
				return fmt.Errorf("unit %s: %s: %w", u.Name, object.KeyOf(o), err)
			}
			if b.Len() > 0 {
				b.WriteString("---\n")
			}
			fmt.Fprintf(&b, "# unit: %s\n", u.Name)
			b.Write(y)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeRenderText writes per unit its revision, where it was declared,
// its object keys, gaps and error; then a summary line.
func writeRenderText(w io.Writer, p painter, v renderView) error {
	var b strings.Builder
	for _, u := range v.Units {
		rev := u.Revision
		if rev == "" {
			rev = "-"
		}
		fmt.Fprintf(&b, "%s @ %s\n", p.paint(bold, u.Name), rev)
		switch {
		case u.DeclaredBy != "" && u.FluxObject != "":
			fmt.Fprintf(&b, "  declared by unit %s (%s)\n", u.DeclaredBy, u.FluxObject)
		case u.DeclaredBy != "":
			fmt.Fprintf(&b, "  declared by unit %s\n", u.DeclaredBy)
		case u.FluxObject != "":
			fmt.Fprintf(&b, "  declared by the configuration (%s)\n", u.FluxObject)
		}
		if u.Chart != nil {
			fmt.Fprintf(&b, "  chart %s %s\n", u.Chart.Name, u.Chart.Version)
		}
		if u.Error != "" {
			fmt.Fprintf(&b, "  %s %s\n", p.paint(red, "error:"), u.Error)
		}
		for _, g := range u.Gaps {
			fmt.Fprintf(&b, "  %s %s\n", p.paint(yellow, "gap:"), g)
		}
		if u.Error == "" && len(u.Keys) == 0 {
			b.WriteString("  no objects\n")
		}
		for _, k := range u.Keys {
			fmt.Fprintf(&b, "  %s\n", k)
		}
	}
	summary := fmt.Sprintf("render: %d unit(s), %d object(s)", len(v.Units), v.Objects)
	if v.Gaps > 0 {
		summary += fmt.Sprintf("; %d gap(s)", v.Gaps)
	}
	if v.Failed > 0 {
		summary += fmt.Sprintf("; %d unit(s) could not be rendered", v.Failed)
	}
	b.WriteString(summary + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}
