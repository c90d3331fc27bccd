package causal

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/faultline/faultline/store"
	"github.com/faultline/faultline/store/durable"
	"github.com/faultline/faultline/store/internal/peerhttp"
)

// Peer API paths, under the node's /peer/ mount.
const (
	pathReplicate = "/peer/causal/replicate" // POST replicateRequest -> replicateResponse
	pathVector    = "/peer/causal/vector"    // GET -> replicateResponse
	pathStatus    = "/peer/causal/status"    // GET -> Stats
)

type replicateRequest struct {
	From   string `json:"from"`
	Writes []*rec `json:"writes"`
}

type replicateResponse struct {
	// Applied is the receiver's contiguous applied vector: what it has
	// durably applied; a sender may forget writes every peer has applied.
	Applied store.Token `json:"applied"`
	// Received is, per origin, the contiguous prefix of writes the
	// receiver holds, applied or buffered: a sender resumes after
	// Received[sender]. (Buffered writes are lost if the receiver
	// restarts; Received then goes back and the sender resends.)
	Received store.Token `json:"received"`
}

// PeerHandler serves the node-to-node API.
func (e *Engine) PeerHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+pathReplicate, e.handleReplicate)
	mux.HandleFunc("GET "+pathVector, func(w http.ResponseWriter, r *http.Request) {
		peerhttp.WriteJSON(w, e.progress())
	})
	mux.HandleFunc("GET "+pathStatus, func(w http.ResponseWriter, r *http.Request) { peerhttp.WriteJSON(w, e.Stats()) })
	return mux
}

func (e *Engine) handleReplicate(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body) // bounded by the node (peerhttp.Limit)
	if err != nil {
		peerhttp.BodyError(w, "causal replicate: reading the body", err)
		return
	}
	req, err := decodeBatch(body)
	if err != nil {
		http.Error(w, fmt.Sprintf("causal replicate: bad body (want the binary batch of store/causal/codec.go): %v", err), http.StatusBadRequest)
		return
	}
	for _, wr := range req.Writes {
		if wr == nil || wr.Origin == "" || wr.Seq == 0 {
			http.Error(w, "causal replicate: every write needs an origin and a seq > 0", http.StatusBadRequest)
			return
		}
	}
	last := e.receive(req.Writes)
	if last != nil {
		if err := last.Wait(r.Context()); err != nil {
			http.Error(w, fmt.Sprintf("causal replicate: %v", err), http.StatusServiceUnavailable)
			return
		}
	}
	peerhttp.WriteJSON(w, e.progress())
}

// progress is what a sender needs to know of this node.
func (e *Engine) progress() replicateResponse {
	e.mu.Lock()
	defer e.mu.Unlock()
	resp := replicateResponse{Applied: e.visible.prefixes(), Received: store.Token{}}
	for o, p := range e.submitted {
		n := p.prefix
		for m := e.pending[o]; m[n+1] != nil; n++ {
		}
		if n > 0 {
			resp.Received[o] = n
		}
	}
	return resp
}

// receive takes remote writes: buffers them until their dependencies are
// covered (or, under skip-deps, submits them at once). Everything that
// can be applied goes to disk in one submission, returned (nil if none).
func (e *Engine) receive(writes []*rec) *durable.Pending {
	e.mu.Lock()
	defer e.mu.Unlock()
	var b remoteBatch
	for _, w := range writes {
		if w.Origin == e.id || e.submitted.get(w.Origin).has(w.Seq) {
			continue // a write of ours, or one we have
		}
		if e.skipDeps {
			e.stageRemote(&b, w)
			continue
		}
		m := e.pending[w.Origin]
		if m == nil {
			m = map[uint64]*rec{}
			e.pending[w.Origin] = m
		}
		if m[w.Seq] == nil {
			m[w.Seq] = w
			e.nPending++
		}
	}
	e.drainLocked(&b)
	return e.submitRemote(&b)
}

// drainLocked stages every buffered write whose dependencies are
// submitted (submissions become visible in order, and a batch in its
// own order, so a dependency is always visible first).
func (e *Engine) drainLocked(b *remoteBatch) {
	for progress := true; progress; {
		progress = false
		for o, m := range e.pending {
			for {
				w := m[e.submitted.get(o).prefix+1]
				if w == nil || !e.depsSubmitted(w) {
					break
				}
				delete(m, w.Seq)
				e.nPending--
				e.stageRemote(b, w)
				progress = true
			}
			if len(m) == 0 {
				delete(e.pending, o)
			}
		}
	}
}

func (e *Engine) depsSubmitted(w *rec) bool {
	for d, n := range w.Deps {
		if d == w.Origin {
			continue
		}
		if p := e.submitted[d]; p == nil || p.prefix < n {
			return false
		}
	}
	return true
}

// remoteBatch is remote writes on their way to disk together.
type remoteBatch struct {
	ops     []durable.Op
	writes  []*rec
	origins map[string]bool
}

// stageRemote adds a remote write to b: it counts as submitted from now
// on. Call with mu held.
func (e *Engine) stageRemote(b *remoteBatch, w *rec) {
	e.lamport = max(e.lamport, w.Lamport)
	e.submitted.get(w.Origin).add(w.Seq)
	ent := e.kv[w.Key]
	if ent == nil {
		ent = &entry{}
		e.kv[w.Key] = ent
	}
	if w.newer(ent.sub) {
		ent.sub = w
		b.ops = append(b.ops, durable.Put(bucketKV, []byte(w.Key), appendRec(nil, w)))
	}
	if b.origins == nil {
		b.origins = map[string]bool{}
	}
	b.origins[w.Origin] = true
	b.writes = append(b.writes, w)
}

// submitRemote persists a batch of staged remote writes (with each
// origin's applied prefix) and applies them, in order, once durable. It
// returns nil for an empty batch. Call with mu held.
func (e *Engine) submitRemote(b *remoteBatch) *durable.Pending {
	if len(b.writes) == 0 {
		return nil
	}
	for o := range b.origins {
		b.ops = append(b.ops, durable.Put(bucketMeta, []byte("applied/"+o), seqKey(e.submitted.get(o).prefix)))
	}
	writes := b.writes
	return e.db.Submit(b.ops, func() {
		e.mu.Lock()
		for _, w := range writes {
			e.visible.get(w.Origin).add(w.Seq)
			if ent := e.kv[w.Key]; w.newer(ent.vis) {
				ent.vis = w
			}
		}
		e.notifyLocked()
		e.mu.Unlock()
	})
}

// logRange returns up to n own visible writes from seq from on, and false
// if some of them are no longer in the log.
func (e *Engine) logRange(from uint64, n int) ([]*rec, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if from <= e.logBase {
		return nil, false
	}
	i := int(from - e.logBase - 1)
	if i >= len(e.outlog) {
		return nil, true
	}
	end := min(len(e.outlog), i+n)
	size := 0
	for j := i; j < end; j++ {
		size += e.outlog[j].encodedBytes()
		if j > i && size > peerhttp.MaxBatchBytes {
			end = j
			break
		}
	}
	return append([]*rec(nil), e.outlog[i:end]...), true
}

// setAcked records a peer's progress and drops what every peer has.
// Under ack-before-fsync nothing is dropped: peers acknowledge before
// their data is durable, so they may need it again after a kill.
func (e *Engine) setAcked(peer string, n uint64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.acked[peer] = n
	if e.env.Faults.On(store.AckBeforeFsync) {
		return
	}
	low := e.visible.get(e.id).prefix
	for p := range e.env.Peers {
		low = min(low, e.acked[p])
	}
	if low <= e.logBase {
		return
	}
	drop := int(low - e.logBase)
	if drop > len(e.outlog) {
		drop = len(e.outlog)
	}
	ops := make([]durable.Op, 0, drop)
	for _, r := range e.outlog[:drop] {
		ops = append(ops, durable.Delete(bucketLog, seqKey(r.Seq)))
	}
	e.outlog = e.outlog[drop:]
	e.logBase += uint64(drop)
	e.db.Submit(ops, nil)
}

// replicate sends this node's writes to one peer, forever: resume from
// the peer's applied vector, send batches in order, back off on errors.
func (e *Engine) replicate(peer, addr string) {
	defer e.wg.Done()
	base := "http://" + addr
	var backoff peerhttp.Backoff
	var sent, acked uint64
	known := false
	lastProgress := time.Now()
	for e.ctx.Err() == nil {
		if !known {
			var resp replicateResponse
			if err := peerhttp.Call(e.ctx, e.client, http.MethodGet, base+pathVector, nil, &resp); err != nil {
				backoff.Wait(e.ctx)
				continue
			}
			acked = resp.Applied[e.id]
			sent, known, lastProgress = max(acked, resp.Received[e.id]), true, time.Now()
			e.setAcked(peer, acked)
		}
		if acked < sent && time.Since(lastProgress) > stallResend {
			// The peer holds writes it cannot apply yet (their
			// dependencies are elsewhere) or has lost them (restart):
			// ask it what it holds.
			known = false
			continue
		}
		batch, ok := e.logRange(sent+1, maxBatch)
		if !ok {
			e.mu.Lock()
			base := e.logBase
			e.mu.Unlock()
			e.log.Warn("peer lacks writes this node no longer has in its log (lost after acknowledging them?); skipping them",
				"peer", peer, "from", sent+1, "logStart", base+1)
			sent = base
			continue
		}
		if len(batch) == 0 {
			select {
			case <-e.wake[peer]:
				// Let a batch gather: one message per peer for many writes.
				peerhttp.Sleep(e.ctx, linger)
			case <-time.After(200 * time.Millisecond):
			case <-e.ctx.Done():
			}
			continue
		}
		resp, err := e.send(base, batch)
		if err != nil {
			known = false
			e.log.Debug("replication to peer failed; will retry", "peer", peer, "err", err)
			backoff.Wait(e.ctx)
			continue
		}
		backoff.Reset()
		sent = batch[len(batch)-1].Seq
		if resp.Received != nil {
			sent = min(sent, resp.Received[e.id]) // resend what it lacks
		}
		if n := resp.Applied[e.id]; n > acked {
			acked, lastProgress = n, time.Now()
		} else if n < acked {
			acked = n // the peer went back (lost writes)
		}
		e.setAcked(peer, acked)
	}
}

// send posts one batch. Under skip-deps it splits the batch into
// parallel requests, each delayed at random, so writes arrive out of
// order; it returns the answer that shows the most progress.
func (e *Engine) send(base string, batch []*rec) (replicateResponse, error) {
	e.sentWrites.Add(uint64(len(batch)))
	if !e.skipDeps || len(batch) < 2 {
		var resp replicateResponse
		err := peerhttp.Call(e.ctx, e.client, http.MethodPost, base+pathReplicate, peerhttp.Binary(appendBatch(nil, e.id, batch)), &resp)
		return resp, err
	}
	const parts = 4
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		out  replicateResponse
		fail error
	)
	for i := 0; i < parts; i++ {
		var part []*rec
		for j := i; j < len(batch); j += parts {
			part = append(part, batch[j])
		}
		if len(part) == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			peerhttp.Sleep(e.ctx, time.Duration(rand.IntN(100))*time.Millisecond)
			var resp replicateResponse
			err := peerhttp.Call(e.ctx, e.client, http.MethodPost, base+pathReplicate, peerhttp.Binary(appendBatch(nil, e.id, part)), &resp)
			mu.Lock()
			defer mu.Unlock()
			// The answer that came last knows of every part.
			if err != nil {
				fail = err
			} else if out.Received == nil || resp.Received[e.id] >= out.Received[e.id] {
				out = resp
			}
		}()
	}
	wg.Wait()
	return out, fail
}
