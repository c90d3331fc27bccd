package eventual

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/faultline/faultline/store/internal/peerhttp"
)

// Peer API paths, under the node's /peer/ mount.
const (
	pathReplicate = "/peer/eventual/replicate" // POST replicateRequest -> {}
	pathDigest    = "/peer/eventual/digest"    // POST digestRequest -> replicateRequest
	pathStatus    = "/peer/eventual/status"    // GET -> Stats
)

type replicateRequest struct {
	From    string `json:"from"`
	Records []*rec `json:"records"`
}

type digestRequest struct {
	From    string   `json:"from"`
	Buckets []uint64 `json:"buckets"` // nDigest XOR-hashes of the sender's state
}

// PeerHandler serves the node-to-node API.
func (e *Engine) PeerHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+pathReplicate, e.handleReplicate)
	mux.HandleFunc("POST "+pathDigest, e.handleDigest)
	mux.HandleFunc("GET "+pathStatus, func(w http.ResponseWriter, r *http.Request) { peerhttp.WriteJSON(w, e.Stats()) })
	return mux
}

func validRecords(recs []*rec) error {
	for _, r := range recs {
		if r == nil || r.Origin == "" || r.TS.Node == "" {
			return fmt.Errorf("every record needs an origin and a timestamp with a node id")
		}
	}
	return nil
}

func (e *Engine) handleReplicate(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body) // bounded by the node (peerhttp.Limit)
	if err != nil {
		peerhttp.BodyError(w, "eventual replicate: reading the body", err)
		return
	}
	req, err := decodeBatch(body)
	if err != nil {
		http.Error(w, fmt.Sprintf("eventual replicate: bad body (want the binary batch of store/eventual/codec.go): %v", err), http.StatusBadRequest)
		return
	}
	if err := validRecords(req.Records); err != nil {
		http.Error(w, "eventual replicate: "+err.Error(), http.StatusBadRequest)
		return
	}
	if last := e.receive(req.Records, false); last != nil {
		if err := last.Wait(r.Context()); err != nil {
			http.Error(w, fmt.Sprintf("eventual replicate: %v", err), http.StatusServiceUnavailable)
			return
		}
	}
	peerhttp.WriteJSON(w, struct{}{})
}

// handleDigest answers a peer's digest with this node's records in every
// bucket that differs.
func (e *Engine) handleDigest(w http.ResponseWriter, r *http.Request) {
	var req digestRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil || len(req.Buckets) != nDigest {
		http.Error(w, fmt.Sprintf("eventual digest: bad body (want JSON {from, buckets: [%d]uint64}): %v", nDigest, err), http.StatusBadRequest)
		return
	}
	e.mu.Lock()
	var differ [nDigest]bool
	differs := false
	for i, h := range req.Buckets {
		if h != e.digest[i] {
			differ[i], differs = true, true
		}
	}
	resp := replicateRequest{From: e.id}
	size := 0
	if differs {
		// Start at a random bucket, so that capped answers still cover
		// every bucket over a few rounds.
		start := rand.IntN(nDigest)
	buckets:
		for i := range nDigest {
			bk := (start + i) % nDigest
			if !differ[bk] {
				continue
			}
			for _, k := range e.keys[bk] {
				if len(resp.Records) >= maxRepair || size > peerhttp.MaxBatchBytes {
					break buckets
				}
				if ent := e.kv[k]; ent.vis != nil && !ent.vis.notOnDisk {
					resp.Records = append(resp.Records, ent.vis)
					size += 6 * ent.vis.encodedBytes() // JSON: escapes may take six bytes a byte
				}
			}
		}
	}
	e.mu.Unlock()
	peerhttp.WriteJSON(w, resp)
}

// push sends this node's new writes to one peer in batches. When a
// batch fails, it and everything queued behind it are dropped:
// anti-entropy repairs them.
func (e *Engine) push(peer, base string) {
	defer e.wg.Done()
	var backoff peerhttp.Backoff
	for e.ctx.Err() == nil {
		select {
		case <-e.wake[peer]:
			// Let a batch gather: one message per peer for many writes.
			peerhttp.Sleep(e.ctx, linger)
		case <-time.After(200 * time.Millisecond):
		case <-e.ctx.Done():
			return
		}
		for e.ctx.Err() == nil {
			e.mu.Lock()
			ob := e.outbox[peer]
			n := min(len(ob), maxBatch)
			size := 0
			for j := range n {
				size += ob[j].encodedBytes()
				if j > 0 && size > peerhttp.MaxBatchBytes {
					n = j
					break
				}
			}
			batch := ob[:n:n]
			e.outbox[peer] = ob[n:]
			e.mu.Unlock()
			if n == 0 {
				break
			}
			if err := peerhttp.Call(e.ctx, e.client, http.MethodPost, base+pathReplicate, peerhttp.Binary(appendBatch(nil, e.id, batch)), &struct{}{}); err != nil {
				// The peer is unreachable: drop what is queued for it too;
				// anti-entropy repairs all of it once the peer is back.
				e.mu.Lock()
				e.outbox[peer] = nil
				e.mu.Unlock()
				e.log.Debug("push to peer failed; anti-entropy will repair", "peer", peer, "err", err)
				backoff.Wait(e.ctx)
				break
			}
			backoff.Reset()
		}
	}
}

// antiEntropy pulls from one peer every antiEntropyEvery whatever differs.
func (e *Engine) antiEntropy(peer, base string) {
	defer e.wg.Done()
	for {
		peerhttp.Sleep(e.ctx, antiEntropyEvery)
		if e.ctx.Err() != nil {
			return
		}
		e.mu.Lock()
		req := digestRequest{From: e.id, Buckets: append([]uint64(nil), e.digest[:]...)}
		e.mu.Unlock()
		var resp replicateRequest
		if err := peerhttp.Call(e.ctx, e.client, http.MethodPost, base+pathDigest, req, &resp); err != nil {
			e.log.Debug("anti-entropy with peer failed; will retry", "peer", peer, "err", err)
			continue
		}
		if validRecords(resp.Records) != nil || len(resp.Records) == 0 {
			continue
		}
		if last := e.receive(resp.Records, true); last != nil {
			last.Wait(e.ctx)
		}
	}
}
