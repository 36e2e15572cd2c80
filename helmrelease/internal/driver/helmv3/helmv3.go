package helmv3

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sort"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/kube"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage/driver"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"

	hrdriver "github.com/gitopskit/gitopskit/helmrelease/internal/driver"
	valuesutil "github.com/gitopskit/gitopskit/internal/values"
)

// Config configures a [Driver].
type Config struct {
	// REST is the cluster's client configuration.
	REST *rest.Config
	// Discovery and Mapper are shared by all drivers of one caller, so that
	// discovery runs once, not once per release.
	Discovery discovery.CachedDiscoveryInterface
	Mapper    meta.RESTMapper
	// Namespace is where release records are stored and the releases'
	// target namespace.
	Namespace string
	// Logger receives Helm's debug output. If nil, it is discarded.
	Logger *slog.Logger
}

// Driver runs Helm v3 actions for the releases of one namespace.
type Driver struct {
	cfg       *action.Configuration
	kc        *kube.Client
	getter    *getter
	namespace string
	log       *slog.Logger
}

var _ hrdriver.Driver = (*Driver)(nil)

// New returns a Driver for c.Namespace.
func New(c Config) (*Driver, error) {
	if c.REST == nil || c.Discovery == nil || c.Mapper == nil {
		return nil, errors.New("helmv3: REST, Discovery and Mapper are required")
	}
	if c.Namespace == "" {
		return nil, errors.New("helmv3: namespace is required")
	}
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	g := &getter{cfg: c.REST, discovery: c.Discovery, mapper: c.Mapper, namespace: c.Namespace}
	logf := func(format string, v ...any) {
		log.Debug(fmt.Sprintf(format, v...), "component", "helm", "namespace", c.Namespace)
	}
	cfg := new(action.Configuration)
	if err := cfg.Init(g, c.Namespace, "secret", logf); err != nil {
		return nil, fmt.Errorf("helmv3: init: %w", err)
	}
	kc, ok := cfg.KubeClient.(*kube.Client)
	if !ok {
		return nil, fmt.Errorf("helmv3: unexpected kube client %T", cfg.KubeClient)
	}
	kc.Namespace = c.Namespace
	return &Driver{cfg: cfg, kc: kc, getter: g, namespace: c.Namespace, log: log}, nil
}

// History implements [hrdriver.Driver].
func (d *Driver) History(ctx context.Context, name string) ([]*hrdriver.Release, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rels, err := d.cfg.Releases.History(name)
	if errors.Is(err, driver.ErrReleaseNotFound) {
		return []*hrdriver.Release{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("release history: %w", err)
	}
	out := make([]*hrdriver.Release, 0, len(rels))
	for _, r := range rels {
		out = append(out, convert(r))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Revision > out[j].Revision })
	return out, nil
}

// Install implements [hrdriver.Driver].
func (d *Driver) Install(ctx context.Context, name string, ch *hrdriver.Chart, values map[string]any, opts hrdriver.ActionOptions) (*hrdriver.Release, error) {
	c, err := load(ch)
	if err != nil {
		return nil, err
	}
	d.cfg.Releases.MaxHistory = opts.MaxHistory
	i := action.NewInstall(d.cfg)
	i.ReleaseName = name
	i.Namespace = d.namespace
	i.Timeout = opts.Timeout
	i.Wait = opts.Wait
	i.WaitForJobs = opts.WaitForJobs
	i.DisableHooks = opts.DisableHooks
	i.SkipCRDs = opts.SkipCRDs
	i.Replace = opts.Replace
	i.Labels = maps.Clone(opts.Labels)
	i.Description = opts.Description
	i.PostRenderer = postRenderers(opts)
	rel, err := i.RunWithContext(ctx, c, valuesutil.DeepCopy(values))
	if err != nil {
		return nil, err
	}
	return convert(rel), nil
}

// Upgrade implements [hrdriver.Driver].
func (d *Driver) Upgrade(ctx context.Context, name string, ch *hrdriver.Chart, values map[string]any, opts hrdriver.ActionOptions) (*hrdriver.Release, error) {
	c, err := load(ch)
	if err != nil {
		return nil, err
	}
	u := action.NewUpgrade(d.cfg)
	u.Namespace = d.namespace
	u.Timeout = opts.Timeout
	u.Wait = opts.Wait
	u.WaitForJobs = opts.WaitForJobs
	u.DisableHooks = opts.DisableHooks
	u.SkipCRDs = true // Helm never touches crds/ on upgrade; the caller applies them
	u.Force = opts.Force
	u.MaxHistory = opts.MaxHistory
	u.ResetValues = true // the values given are the whole truth, even when empty
	u.Labels = maps.Clone(opts.Labels)
	u.Description = opts.Description
	u.PostRenderer = postRenderers(opts)
	rel, err := u.RunWithContext(ctx, name, c, valuesutil.DeepCopy(values))
	if err != nil {
		return nil, err
	}
	return convert(rel), nil
}

// Rollback implements [hrdriver.Driver]. Helm's rollback takes no context:
// ctx is checked before it starts.
func (d *Driver) Rollback(ctx context.Context, name string, revision int, opts hrdriver.RollbackOptions) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := action.NewRollback(d.cfg)
	r.Version = revision
	r.Timeout = opts.Timeout
	r.Wait = opts.Wait
	r.WaitForJobs = opts.WaitForJobs
	r.DisableHooks = opts.DisableHooks
	r.Force = opts.Force
	r.MaxHistory = opts.MaxHistory
	return r.Run(name)
}

// Uninstall implements [hrdriver.Driver]. Helm's uninstall takes no
// context: ctx is checked before it starts.
func (d *Driver) Uninstall(ctx context.Context, name string, opts hrdriver.UninstallOptions) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	u := action.NewUninstall(d.cfg)
	u.Timeout = opts.Timeout
	u.Wait = opts.Wait
	u.DisableHooks = opts.DisableHooks
	u.KeepHistory = opts.KeepHistory
	u.Description = opts.Description
	_, err := u.Run(name)
	return err
}

// Test implements [hrdriver.Driver].
func (d *Driver) Test(ctx context.Context, name string, timeout time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t := action.NewReleaseTesting(d.cfg)
	t.Namespace = d.namespace
	t.Timeout = timeout
	_, err := t.Run(name)
	return err
}

// Mark implements [hrdriver.Driver].
func (d *Driver) Mark(ctx context.Context, name string, revision int, m hrdriver.Mark) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	rel, err := d.cfg.Releases.Get(name, revision)
	if err != nil {
		return fmt.Errorf("get revision %d: %w", revision, err)
	}
	if m.Status != "" {
		rel.Info.Status = release.Status(m.Status)
	}
	if m.Description != "" {
		rel.Info.Description = m.Description
	}
	if len(m.Labels) > 0 {
		if rel.Labels == nil {
			rel.Labels = map[string]string{}
		}
		for k, v := range m.Labels {
			if v == "" {
				delete(rel.Labels, k)
			} else {
				rel.Labels[k] = v
			}
		}
	}
	if err := d.cfg.Releases.Update(rel); err != nil {
		return fmt.Errorf("update revision %d: %w", revision, err)
	}
	return nil
}

func convert(r *release.Release) *hrdriver.Release {
	out := &hrdriver.Release{
		Name:      r.Name,
		Namespace: r.Namespace,
		Revision:  r.Version,
		Manifest:  r.Manifest,
		Values:    r.Config,
		Labels:    map[string]string{},
	}
	maps.Copy(out.Labels, r.Labels)
	if r.Info != nil {
		out.Status = hrdriver.Status(r.Info.Status)
		out.Description = r.Info.Description
		out.Updated = r.Info.LastDeployed.Time
		out.Notes = r.Info.Notes
	}
	if r.Chart != nil && r.Chart.Metadata != nil {
		out.ChartName = r.Chart.Metadata.Name
		out.ChartVersion = r.Chart.Metadata.Version
		out.AppVersion = r.Chart.Metadata.AppVersion
	}
	return out
}
