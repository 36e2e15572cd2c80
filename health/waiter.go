package health

import (
	"errors"
	"io"
	"log/slog"

	"k8s.io/client-go/dynamic"

	"github.com/gitopskit/gitopskit/cluster"
)

// WaiterOptions configure a [Waiter].
type WaiterOptions struct {
	// Checks are CEL health checks for custom resources; other kinds use
	// kstatus.
	Checks []CELCheck
	// Logger receives debug lines. Default: none.
	Logger *slog.Logger
}

// Waiter waits for objects in one cluster to become ready, as the identity
// of the [cluster.Cluster] it was made with (sharing its discovery and
// connections). Its methods are safe for concurrent use.
type Waiter struct {
	checks  *Checks
	dyn     dynamic.Interface
	cluster *cluster.Cluster
	log     *slog.Logger
}

// NewWaiter returns a waiter acting as c's identity. It compiles the checks
// (a [*CheckError] if one is invalid) and makes no request.
func NewWaiter(c *cluster.Cluster, opts WaiterOptions) (*Waiter, error) {
	if c == nil {
		return nil, errors.New("health: nil cluster")
	}
	checks, err := NewChecks(opts.Checks...)
	if err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Waiter{checks: checks, dyn: c.Dynamic(), cluster: c, log: opts.Logger}, nil
}
