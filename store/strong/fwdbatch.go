package strong

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/faultline/faultline/store"
	"github.com/faultline/faultline/store/internal/peerhttp"
)

// ForwardBatchPath takes, on the leader, a JSON array of forwarded writes
// and cas ([{"op":"write","req":{...store.Request}}, ...]) and answers a
// JSON array of store.Response, one per item, in order. A follower sends
// the writes its clients make concurrently in one such request instead of
// one /peer/forward/ request each: one HTTP round trip (and its syscalls)
// per batch. Each item is classified exactly as on /peer/forward/.
const ForwardBatchPath = "/peer/strong/forward-batch"

// maxForwardBatch bounds the items of one batch request; take also
// bounds its bytes, so the body stays under the leader's limit
// (peerhttp.MaxBodyBytes).
const maxForwardBatch = 64

// forwardSenders is how many batch requests a node has in flight at once:
// while one waits for the leader's commit, the next gathers writes.
const forwardSenders = 4

type batchItem struct {
	Op  string        `json:"op"`
	Req store.Request `json:"req"`
}

// fwdWaiter is one forwarded write waiting in (or sent in) a batch.
type fwdWaiter struct {
	item  batchItem
	ctx   context.Context
	state atomic.Int32 // fwdQueued, fwdSent or fwdGaveUp
	done  chan error   // buffered: the sender never blocks
}

const (
	fwdQueued int32 = iota
	fwdSent
	fwdGaveUp
)

// forwardBatcher gathers forwarded writes and sends them to the leader in
// batches, forwardSenders at a time.
type forwardBatcher struct {
	send   func(context.Context, []*fwdWaiter)
	mu     sync.Mutex
	queue  []*fwdWaiter
	kick   chan struct{}
	stop   chan struct{}
	base   context.Context // cancelled by close, so requests in flight end
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

func newForwardBatcher(send func(context.Context, []*fwdWaiter)) *forwardBatcher {
	base, cancel := context.WithCancel(context.Background())
	b := &forwardBatcher{send: send, kick: make(chan struct{}, 1), stop: make(chan struct{}), base: base, cancel: cancel}
	for i := 0; i < forwardSenders; i++ {
		b.wg.Add(1)
		go b.loop()
	}
	return b
}

// forward queues one write and waits for its classified outcome. A write
// whose ctx ends before it was sent is not applied; after, unknown.
func (b *forwardBatcher) forward(ctx context.Context, item batchItem) error {
	w := &fwdWaiter{item: item, ctx: ctx, done: make(chan error, 1)}
	b.mu.Lock()
	b.queue = append(b.queue, w)
	b.mu.Unlock()
	select {
	case b.kick <- struct{}{}:
	default:
	}
	select {
	case err := <-w.done:
		return err
	case <-ctx.Done():
		if w.state.CompareAndSwap(fwdQueued, fwdGaveUp) {
			return fmt.Errorf("%w: request expired before it was forwarded to the leader: %v", store.ErrNotApplied, ctx.Err())
		}
		return fmt.Errorf("%w: timed out waiting for the leader's reply to a forwarded request: %v", store.ErrUnknown, ctx.Err())
	case <-b.stop:
		if w.state.CompareAndSwap(fwdQueued, fwdGaveUp) {
			return fmt.Errorf("%w: node shutting down", store.ErrNotApplied)
		}
		return fmt.Errorf("%w: node shut down while a forwarded request was in flight", store.ErrUnknown)
	}
}

// maxJSONBytes bounds the item's JSON encoding: every string byte may
// take six (a \u00XX escape), plus the names and punctuation.
func (it *batchItem) maxJSONBytes() int {
	n := len(it.Op) + len(it.Req.Key) + len(it.Req.RequestID)
	for _, v := range []*string{it.Req.Value, it.Req.Expected, it.Req.New} {
		if v != nil {
			n += len(*v)
		}
	}
	return 6*n + 96
}

// take removes up to maxForwardBatch waiters (and at most
// peerhttp.MaxBatchBytes of them, but always one) still queued and marks them sent.
func (b *forwardBatcher) take() []*fwdWaiter {
	b.mu.Lock()
	defer b.mu.Unlock()
	var batch []*fwdWaiter
	i, size := 0, 0
	for ; i < len(b.queue) && len(batch) < maxForwardBatch; i++ {
		w := b.queue[i]
		n := w.item.maxJSONBytes()
		if len(batch) > 0 && size+n > peerhttp.MaxBatchBytes {
			break // the rest go in the next batch
		}
		if w.state.CompareAndSwap(fwdQueued, fwdSent) {
			batch = append(batch, w)
			size += n
		}
	}
	b.queue = append(b.queue[:0:0], b.queue[i:]...)
	if len(b.queue) > 0 {
		select { // more than one batch waiting: wake another sender
		case b.kick <- struct{}{}:
		default:
		}
	}
	return batch
}

func (b *forwardBatcher) loop() {
	defer b.wg.Done()
	for {
		select {
		case <-b.kick:
		case <-b.stop:
			return
		}
		for batch := b.take(); len(batch) > 0; batch = b.take() {
			// The request lives as long as its longest-lived item (each
			// item also gives up on its own deadline).
			deadline := time.Now()
			for _, w := range batch {
				d, ok := w.ctx.Deadline()
				if !ok {
					d = time.Now().Add(time.Hour)
				}
				if d.After(deadline) {
					deadline = d
				}
			}
			ctx, cancel := context.WithDeadline(b.base, deadline)
			b.send(ctx, batch)
			cancel()
		}
	}
}

func (b *forwardBatcher) close() {
	b.once.Do(func() { close(b.stop); b.cancel() })
	b.wg.Wait()
}

// sendBatch sends batch to the leader's ForwardBatchPath and answers
// every waiter. Before anything was sent (no leader, dial failure) every
// item is not applied; a failure after is unknown for every item.
func (e *Engine) sendBatch(ctx context.Context, batch []*fwdWaiter) {
	all := func(err error) {
		for _, w := range batch {
			w.done <- err
		}
	}
	_, leader := e.raft.LeaderWithID()
	if leader == "" {
		all(fmt.Errorf("%w: no leader known", store.ErrNotApplied))
		return
	}
	if string(leader) == e.env.NodeID {
		all(fmt.Errorf("%w: leadership changing, retry", store.ErrNotApplied))
		return
	}
	addr, ok := e.env.Peers[string(leader)]
	if !ok {
		all(fmt.Errorf("%w: no peer address for leader %q", store.ErrNotApplied, leader))
		return
	}
	items := make([]batchItem, len(batch))
	for i, w := range batch {
		items[i] = w.item
	}
	body, err := json.Marshal(items)
	if err != nil {
		all(fmt.Errorf("%w: encode: %v", store.ErrNotApplied, err))
		return
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+ForwardBatchPath, bytes.NewReader(body))
	if err != nil {
		all(fmt.Errorf("%w: %v", store.ErrNotApplied, err))
		return
	}
	hreq.Header.Set("Content-Type", "application/json")
	hresp, err := e.env.PeerClient.Do(hreq)
	if err != nil {
		if isDialError(err) {
			all(fmt.Errorf("%w: forward to leader %s: %v", store.ErrNotApplied, leader, err))
		} else {
			all(fmt.Errorf("%w: forward to leader %s: %v", store.ErrUnknown, leader, err))
		}
		return
	}
	defer hresp.Body.Close()
	var resps []store.Response
	if err := json.NewDecoder(io.LimitReader(hresp.Body, int64(len(batch)+1)*store.MaxBodyBytes)).Decode(&resps); err != nil || len(resps) != len(batch) {
		if err == nil {
			err = fmt.Errorf("%d replies for %d requests", len(resps), len(batch))
		}
		all(fmt.Errorf("%w: forward to leader %s: unreadable reply (status %d): %v", store.ErrUnknown, leader, hresp.StatusCode, err))
		return
	}
	for i, w := range batch {
		w.done <- replyError(string(leader), resps[i])
	}
}

// replyError classifies the leader's reply to one forwarded request.
func replyError(leader string, resp store.Response) error {
	switch resp.Outcome {
	case store.OutcomeOK:
		return nil
	case store.OutcomeFail:
		if resp.Mismatch {
			return remoteError{kind: store.ErrMismatch, msg: resp.Error}
		}
		return remoteError{kind: store.ErrNotApplied, msg: fmt.Sprintf("leader %s: %s", leader, resp.Error)}
	default:
		return remoteError{kind: store.ErrUnknown, msg: fmt.Sprintf("leader %s: %s", leader, resp.Error)}
	}
}

// outcome is the reply (status and body) for a forwarded request's error.
func outcome(err error) (int, store.Response) {
	switch {
	case err == nil:
		return http.StatusOK, store.Response{Outcome: store.OutcomeOK}
	case errors.Is(err, store.ErrMismatch):
		return http.StatusConflict, store.Response{Outcome: store.OutcomeFail, Mismatch: true, Error: err.Error()}
	case errors.Is(err, store.ErrNotApplied):
		return http.StatusServiceUnavailable, store.Response{Outcome: store.OutcomeFail, Error: err.Error()}
	default:
		return http.StatusInternalServerError, store.Response{Outcome: store.OutcomeUnknown, Error: err.Error()}
	}
}

// forwardBatchHandler serves ForwardBatchPath on the leader: every item is
// validated and applied (concurrently, so they share Raft's batches), and
// answered in order. Never forwarded again.
func (e *Engine) forwardBatchHandler(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, store.Response{Outcome: store.OutcomeFail, Error: "use POST"})
		return
	}
	var items []batchItem
	dec := json.NewDecoder(r.Body) // bounded by the node (peerhttp.Limit)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&items); err != nil {
		if tooLarge(err) {
			peerhttp.BodyError(w, "forward batch", err)
			return
		}
		writeJSON(w, http.StatusBadRequest, store.Response{Outcome: store.OutcomeFail, Error: "malformed JSON: want an array of {\"op\":\"write\"|\"cas\",\"req\":{...}}: " + err.Error()})
		return
	}
	if len(items) > maxForwardBatch {
		writeJSON(w, http.StatusBadRequest, store.Response{Outcome: store.OutcomeFail, Error: fmt.Sprintf("%d items in one batch: at most %d", len(items), maxForwardBatch)})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), e.cfg.ForwardTimeout)
	defer cancel()
	resps := make([]store.Response, len(items))
	var wg sync.WaitGroup
	for i, it := range items {
		if err := it.Req.Validate(it.Op); err != nil || (it.Op != "write" && it.Op != "cas") {
			if err == nil {
				err = fmt.Errorf("op %q cannot be batched: want write or cas", it.Op)
			}
			resps[i] = store.Response{Outcome: store.OutcomeFail, Error: err.Error()}
			continue
		}
		if !e.isLeader() {
			resps[i] = store.Response{Outcome: store.OutcomeFail, Error: "forwarded to a node that is not the leader"}
			continue
		}
		c := command{Op: it.Op, Key: it.Req.Key, ID: it.Req.RequestID}
		if it.Op == "write" {
			c.Value = *it.Req.Value
		} else {
			c.Expected, c.Value = *it.Req.Expected, *it.Req.New
		}
		wg.Add(1)
		go func(i int, c command) {
			defer wg.Done()
			_, resps[i] = outcome(e.apply(ctx, c))
		}(i, c)
	}
	wg.Wait()
	writeJSON(w, http.StatusOK, resps)
}
