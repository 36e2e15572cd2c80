package helmrelease

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/gitopskit/helmrelease/internal/driver"
	"github.com/gitopskit/gitopskit/helmrelease/internal/driver/helmv3"
)

// TemplateOptions configure [Template].
type TemplateOptions struct {
	// CacheDir is where charts from repositories and registries are
	// cached, as [Options.CacheDir]. Required for such charts.
	CacheDir string
	// HTTPClient fetches charts. Default: a new http.Client.
	HTTPClient *http.Client
	// Logger receives diagnostics. Default: discarded.
	Logger *slog.Logger
}

// Template renders rel's chart with no cluster, as [Reconciler.Reconcile]
// renders it before an install: the same chart resolution (path,
// repository or registry, version constraint), the same merged values,
// Helm's default capabilities, the templates' lookup calls answering
// nothing. It returns the objects of the templates, the hooks and the
// chart's crds/ folder (NOTES.txt is not an object), the templates'
// objects changed by [Release.PostRenderers] as an install would change
// them, and the chart it used (with its [ChartRef.ValuesFiles]). For offline renders and diffs; what a cluster would change
// (lookups, capabilities) is not there.
func Template(ctx context.Context, rel Release, opts TemplateOptions) ([]*unstructured.Unstructured, ChartInfo, error) {
	if err := rel.Validate(); err != nil {
		return nil, ChartInfo{}, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{}
	}
	if rel.Chart.Path == "" && opts.CacheDir == "" {
		return nil, ChartInfo{}, &SpecError{Release: rel.Key(), Problems: []string{"TemplateOptions.CacheDir is required for a chart from a repository or registry"}}
	}
	values, err := MergeValues(rel.Values, rel.ValuesFrom...)
	if err != nil {
		return nil, ChartInfo{}, err
	}
	r := &Reconciler{opts: Options{CacheDir: opts.CacheDir, HTTPClient: opts.HTTPClient, Logger: opts.Logger},
		log: opts.Logger, loadChart: helmv3.LoadChart}
	ch, info, err := r.fetchChart(ctx, &rel)
	if err != nil {
		return nil, info, err
	}
	objs, err := helmv3.RenderChart(ch, rel.Name, rel.Namespace, values, driver.RenderOptions{PostRender: postRender(ctx, &rel)})
	var prErr *PostRenderError
	if errors.As(err, &prErr) {
		return nil, info, prErr
	}
	if err != nil {
		return nil, info, &ChartError{Chart: ch.Name + " " + ch.Version, Err: err}
	}
	return objs, info, nil
}
