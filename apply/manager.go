package apply

import (
	"errors"
	"fmt"
	"io"
	"log/slog"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"

	"github.com/gitopskit/gitopskit/cluster"
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

// Manager applies and prunes objects in one cluster as one identity: the
// [cluster.Cluster] it was made with. Discovery, connections and the
// request budget are the Cluster's, shared with every other stage. Its
// methods are safe for concurrent use.
type Manager struct {
	opts    ManagerOptions
	cluster *cluster.Cluster
	dyn     dynamic.Interface
	rest    rest.Interface
	meta    metadata.Interface
	log     *slog.Logger
}

// NewManager returns a manager acting as c's identity. It makes no request.
func NewManager(c *cluster.Cluster, opts ManagerOptions) (*Manager, error) {
	if c == nil {
		return nil, errors.New("apply: nil cluster")
	}
	def := DefaultManagerOptions()
	if opts.FieldManager == "" {
		opts.FieldManager = def.FieldManager
	}
	if opts.Logger == nil {
		opts.Logger = def.Logger
	}
	rc, err := newRESTClient(c.Config(), c.HTTPClient())
	if err != nil {
		return nil, fmt.Errorf("apply: %w", err)
	}
	return &Manager{opts: opts, cluster: c, dyn: c.Dynamic(), rest: rc, meta: c.Metadata(), log: opts.Logger}, nil
}
