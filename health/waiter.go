package health

import (
	"fmt"
	"io"
	"log/slog"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/gitopskit/gitopskit/internal/kube"
)

// WaiterOptions configure a [Waiter].
type WaiterOptions struct {
	// Checks are CEL health checks for custom resources; other kinds use
	// kstatus.
	Checks []CELCheck
	// Logger receives debug lines. Default: none.
	Logger *slog.Logger
}

// Waiter waits for objects in one cluster to become ready. Reuse one: it
// caches discovery. Its methods are safe for concurrent use.
type Waiter struct {
	checks *Checks
	dyn    dynamic.Interface
	mapper *kube.Mapper
	log    *slog.Logger
}

// NewWaiter returns a waiter for the cluster cfg points at. It compiles the
// checks (a [*CheckError] if one is invalid) and makes no request.
func NewWaiter(cfg *rest.Config, opts WaiterOptions) (*Waiter, error) {
	checks, err := NewChecks(opts.Checks...)
	if err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	cfg = kube.Config(cfg)
	hc, err := kube.HTTPClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("health: %w", err)
	}
	dyn, err := dynamic.NewForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, fmt.Errorf("health: %w", err)
	}
	mapper, err := kube.NewMapper(cfg, hc)
	if err != nil {
		return nil, fmt.Errorf("health: %w", err)
	}
	return &Waiter{checks: checks, dyn: dyn, mapper: mapper, log: opts.Logger}, nil
}
