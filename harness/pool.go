package harness

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/faultline/faultline/generator"
	"github.com/faultline/faultline/history"
)

// pool runs the client processes of a test: Concurrency workers, each a
// sequence of processes in Jepsen's sense. A process has at most one op
// outstanding; when an op ends with info its outcome is unknown, so the
// process is retired and the worker goes on as process old+Concurrency
// with a fresh client (a later op must never overlap an op of unknown
// outcome in the same process). Workers keep their process and client
// across phases.
type pool struct {
	workers   []*worker
	rec       recorder
	nodes     []Node
	newClient func(first int) (Client, error)
	opTimeout time.Duration
	seed      int64
	zero      time.Time // generator time zero
	stats     *stats
}

// recorder is what the pool needs of history.Recorder.
type recorder interface {
	Record(e history.Event) (history.Event, error)
}

type worker struct {
	id      int
	process int
	client  Client
	node    int // index in nodes
	gctx    generator.Context
}

// stats are live counts of completions, for progress lines.
type stats struct {
	OK, Fail, Info, Invoked atomic.Int64
}

func newPool(n int, nodes []Node, home func(worker int) int, rec recorder, newClient func(int) (Client, error), opTimeout time.Duration, seed int64, zero time.Time) *pool {
	p := &pool{rec: rec, nodes: nodes, newClient: newClient, opTimeout: opTimeout, seed: seed, zero: zero, stats: &stats{}}
	for w := 0; w < n; w++ {
		node := 0
		if home != nil && len(nodes) > 0 {
			node = home(w) % len(nodes)
		}
		p.workers = append(p.workers, &worker{
			id: w, process: w, node: node,
			gctx: generator.Context{Worker: w, Workers: n, Process: w, Rand: generator.NewRand(seed, w)},
		})
	}
	return p
}

// run drives every worker through gen until gen is done for all of them
// or ctx ends (an op in flight when ctx ends completes as info). It
// returns the first harness failure (a client that cannot be made, a
// history that cannot be written).
func (p *pool) run(ctx context.Context, gen generator.Generator) error {
	var wg sync.WaitGroup
	errs := make([]error, len(p.workers))
	for i, w := range p.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = p.runWorker(ctx, w, gen)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (p *pool) runWorker(ctx context.Context, w *worker, gen generator.Generator) error {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for !ended(ctx) {
		if w.client == nil {
			c, err := p.newClient(w.node)
			if err != nil {
				return fmt.Errorf("worker %d: new client for process %d: %w", w.id, w.process, err)
			}
			w.client = c
		}
		w.gctx.Now = time.Since(p.zero)
		w.gctx.Process = w.process
		st := gen.Next(w.gctx)
		switch st.Kind {
		case generator.Done:
			return nil
		case generator.Wait:
			d := st.Until - time.Since(p.zero)
			if d <= 0 {
				continue
			}
			timer.Reset(d)
			select {
			case <-ctx.Done():
				return nil
			case <-timer.C:
			}
			continue
		}
		if ended(ctx) { // the generator may have taken a while
			return nil
		}
		if err := p.do(ctx, w, gen, st.Op); err != nil {
			return err
		}
	}
	return nil
}

// do performs one op as w's current process and records its invoke and
// completion.
func (p *pool) do(ctx context.Context, w *worker, gen generator.Generator, op generator.Op) error {
	if op.Node >= 0 && op.Node < len(p.nodes) && op.Node != w.node {
		w.client.Use(op.Node)
		w.node = op.Node
	}
	nodeID := ""
	if w.node < len(p.nodes) {
		nodeID = p.nodes[w.node].ID
	}
	value := op.Value
	if value == nil {
		value = history.Null
	}
	if _, err := p.rec.Record(history.Event{Process: w.process, Type: history.Invoke, F: op.F, Key: op.Key, Value: value, Node: nodeID, Final: op.Final}); err != nil {
		return fmt.Errorf("record invoke: %w", err)
	}
	p.stats.Invoked.Add(1)
	opCtx, cancel := context.WithTimeout(ctx, p.opTimeout)
	c := w.client.Invoke(opCtx, op)
	timedOut := errors.Is(opCtx.Err(), context.DeadlineExceeded) && !ended(ctx)
	cancel()
	switch c.Type {
	case history.OK, history.Fail, history.Info:
	default:
		c = Completion{Type: history.Info, Error: fmt.Sprintf("client returned no outcome (type %q)", c.Type)}
	}
	if c.Type == history.Info {
		switch {
		case ended(ctx):
			c.Error = joinErr("interrupted", c.Error)
		case timedOut:
			c.Error = joinErr("timeout after "+p.opTimeout.String(), c.Error)
		}
	}
	ev := history.Event{Process: w.process, Type: c.Type, F: op.F, Key: op.Key, Value: value, Node: nodeID, Error: c.Error, Final: op.Final}
	if c.Type == history.OK && (c.Value != nil || op.F == history.FRead) {
		// A read's value is what it read (nil: null); other ops keep
		// the invoke's value unless the client says otherwise.
		ev.Value = c.Value
	}
	if _, err := p.rec.Record(ev); err != nil {
		return fmt.Errorf("record completion: %w", err)
	}
	if u, ok := gen.(generator.Updater); ok {
		u.Update(w.gctx, op, c)
	}
	switch c.Type {
	case history.OK:
		p.stats.OK.Add(1)
	case history.Fail:
		p.stats.Fail.Add(1)
	case history.Info:
		p.stats.Info.Add(1)
		// Retire the process: its op may still take effect at any time.
		w.client.Close()
		w.client = nil
		w.process += len(p.workers)
	}
	return nil
}

// close closes every worker's client.
func (p *pool) close() {
	for _, w := range p.workers {
		if w.client != nil {
			w.client.Close()
			w.client = nil
		}
	}
}

// ended reports whether ctx has ended, counting a deadline that has
// passed though ctx.Err is still nil: the timer that ends a context
// fires late on a loaded machine, and in those milliseconds a client
// that dials with ctx's deadline fails every op at once, so that workers
// would invoke hundreds of ops that can only fail.
func ended(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}

func joinErr(what, detail string) string {
	if detail == "" || detail == what {
		return what
	}
	return what + ": " + detail
}
