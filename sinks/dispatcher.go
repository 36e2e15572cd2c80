package sinks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/gitopskit/gitopskit/reconcile"
)

// DefaultQueueSize is the queue of a Dispatcher made with a zero
// [Options.QueueSize].
const DefaultQueueSize = 1024

// ErrInvalidOptions is wrapped by the errors of the constructors of this
// package for missing or bad options.
var ErrInvalidOptions = errors.New("sinks: invalid options")

// Sink receives events. Send is called from one goroutine at a time, in
// the order the events happened; it should honour ctx, which ends when the
// Dispatcher is closed and its deadline passed.
type Sink interface {
	Send(ctx context.Context, e Event) error
}

// SinkFunc is a function as a [Sink].
type SinkFunc func(ctx context.Context, e Event) error

// Send calls f.
func (f SinkFunc) Send(ctx context.Context, e Event) error { return f(ctx, e) }

// Options configure a [Dispatcher].
type Options struct {
	// Configuration names the configuration whose events the Dispatcher is
	// given, for [Event.Configuration]. Required.
	Configuration string
	// Cluster, optional, names the cluster, for [Event.Cluster].
	Cluster string
	// QueueSize bounds the events waiting to be sent. Default
	// [DefaultQueueSize].
	QueueSize int
	// Filter selects the events to deliver. Default: all.
	Filter Filter
	// Logger receives a warning for each event the sink failed to take
	// (after its retries) and for the first drop when the queue is full.
	// Default: discarded.
	Logger *slog.Logger
	// OnError, when set, is called (from the sending goroutine) with the
	// error of each event the sink failed to take.
	OnError func(Event, error)
}

// Stats count what a Dispatcher did with the events it was given.
type Stats struct {
	Filtered int64 // not selected by the filter
	Queued   int64 // put on the queue
	Dropped  int64 // not delivered: the queue was full, the Dispatcher closed, or Close's deadline passed
	Sent     int64 // taken by the sink
	Failed   int64 // refused by the sink (after its retries)
}

// Dispatcher delivers reconcile events to a [Sink] asynchronously. Its
// methods are safe for concurrent use.
type Dispatcher struct {
	sink  Sink
	opts  Options
	queue chan Event
	done  chan struct{} // closed when the sending goroutine ends

	ctx    context.Context // of the sends; cancelled by Close
	cancel context.CancelFunc

	mu     sync.RWMutex // guards closed against Handle's sends on queue
	closed bool

	statsMu sync.Mutex
	stats   Stats
}

// New returns a Dispatcher sending to sink, and starts its goroutine; stop
// it with [Dispatcher.Close].
func New(sink Sink, opts Options) (*Dispatcher, error) {
	if sink == nil {
		return nil, fmt.Errorf("%w: nil sink", ErrInvalidOptions)
	}
	if opts.Configuration == "" {
		return nil, fmt.Errorf("%w: no Configuration", ErrInvalidOptions)
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	d := &Dispatcher{sink: sink, opts: opts, queue: make(chan Event, opts.QueueSize), done: make(chan struct{})}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	go d.loop()
	return d, nil
}

// Handle filters e and queues it for the sink; give it to
// [reconcile.Options.OnEvent]. It never blocks: when the queue is full, or
// the Dispatcher closed, the event is dropped and counted.
func (d *Dispatcher) Handle(e reconcile.Event) {
	if !d.opts.Filter.Allows(e) {
		d.count(func(s *Stats) { s.Filtered++ })
		return
	}
	ev := NewEvent(d.opts.Configuration, d.opts.Cluster, e)
	d.mu.RLock()
	queued := false
	if !d.closed {
		select {
		case d.queue <- ev:
			queued = true
		default:
		}
	}
	d.mu.RUnlock()
	if queued {
		d.count(func(s *Stats) { s.Queued++ })
		return
	}
	var first bool
	d.count(func(s *Stats) { s.Dropped++; first = s.Dropped == 1 })
	if first {
		d.opts.Logger.Warn("sinks: event dropped: the queue is full or the dispatcher closed; later drops are only counted",
			"configuration", d.opts.Configuration, "unit", e.Unit, "type", e.Type)
	}
}

// Stats returns the counts so far.
func (d *Dispatcher) Stats() Stats {
	d.statsMu.Lock()
	defer d.statsMu.Unlock()
	return d.stats
}

func (d *Dispatcher) count(f func(*Stats)) {
	d.statsMu.Lock()
	f(&d.stats)
	d.statsMu.Unlock()
}

// Close stops taking events and delivers the queued ones until ctx ends;
// then it cancels the send in flight, drops what is left, and returns
// ctx's error. Later calls return at once.
func (d *Dispatcher) Close(ctx context.Context) error {
	d.mu.Lock()
	if !d.closed {
		d.closed = true
		close(d.queue)
	}
	d.mu.Unlock()
	select {
	case <-d.done:
		return nil
	case <-ctx.Done():
		d.cancel()
		<-d.done
		return fmt.Errorf("sinks: close: events left unsent: %w", ctx.Err())
	}
}

func (d *Dispatcher) loop() {
	defer close(d.done)
	defer d.cancel()
	for ev := range d.queue {
		if d.ctx.Err() != nil {
			d.count(func(s *Stats) { s.Dropped++ })
			continue
		}
		if err := d.sink.Send(d.ctx, ev); err != nil {
			d.count(func(s *Stats) { s.Failed++ })
			d.opts.Logger.Warn("sinks: event not delivered", "configuration", ev.Configuration, "unit", ev.Unit,
				"type", ev.Type, "error", err.Error())
			if d.opts.OnError != nil {
				d.opts.OnError(ev, err)
			}
			continue
		}
		d.count(func(s *Stats) { s.Sent++ })
	}
}
