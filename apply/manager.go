package apply

import (
	"fmt"
	"io"
	"log/slog"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"

	"github.com/gitopskit/gitopskit/internal/kube"
)

// ManagerOptions configure a [Manager].
type ManagerOptions struct {
	// FieldManager is the server-side apply field manager.
	// Default [DefaultFieldManager].
	FieldManager string
	// Logger receives debug lines about stages and requests. Default: none.
	Logger *slog.Logger
}

// DefaultManagerOptions returns the options [NewManager] uses for zero
// fields.
func DefaultManagerOptions() ManagerOptions {
	return ManagerOptions{FieldManager: DefaultFieldManager, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// Manager applies and prunes objects in one cluster. It keeps the discovery
// information it needs in memory (refreshed when a kind is unknown), so
// reuse one Manager across reconciles. Its methods are safe for concurrent
// use.
type Manager struct {
	opts   ManagerOptions
	dyn    dynamic.Interface
	rest   rest.Interface
	meta   metadata.Interface
	mapper *kube.Mapper
	log    *slog.Logger
}

// NewManager returns a manager for the cluster cfg points at. Unless cfg
// sets a rate limit, the manager's clients are not throttled client-side.
// It makes no request.
func NewManager(cfg *rest.Config, opts ManagerOptions) (*Manager, error) {
	def := DefaultManagerOptions()
	if opts.FieldManager == "" {
		opts.FieldManager = def.FieldManager
	}
	if opts.Logger == nil {
		opts.Logger = def.Logger
	}
	cfg = kube.Config(cfg)
	hc, err := kube.HTTPClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("apply: %w", err)
	}
	dyn, err := dynamic.NewForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, fmt.Errorf("apply: %w", err)
	}
	md, err := metadata.NewForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, fmt.Errorf("apply: %w", err)
	}
	rc, err := newRESTClient(cfg, hc)
	if err != nil {
		return nil, fmt.Errorf("apply: %w", err)
	}
	mapper, err := kube.NewMapper(cfg, hc)
	if err != nil {
		return nil, fmt.Errorf("apply: %w", err)
	}
	return &Manager{opts: opts, dyn: dyn, rest: rc, meta: md, mapper: mapper, log: opts.Logger}, nil
}
