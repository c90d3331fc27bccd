package strong

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"

	"github.com/faultline/faultline/store"
	"github.com/faultline/faultline/store/internal/peerhttp"
)

// ForwardPrefix is where a node takes requests forwarded by other nodes
// (on the peer address). The body is a store.Request and the reply a
// store.Response, as on the client API.
const ForwardPrefix = "/peer/forward/"

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

// remoteError is the leader's own error, classified as kind.
type remoteError struct {
	kind error
	msg  string
}

func (e remoteError) Error() string { return e.msg }
func (e remoteError) Unwrap() error { return e.kind }

// isDialError reports whether err happened before the request was sent.
func isDialError(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

// TermPath answers GET with this node's current Raft term, {"term":N}:
// a leader confirms its leadership for reads by asking a quorum.
const TermPath = "/peer/strong/term"

// ReadIndexPath answers GET, on the leader only, with a read index,
// {"index":N}, from a read round that began after the request arrived.
const ReadIndexPath = "/peer/strong/readindex"

func (e *Engine) peerHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(ForwardPrefix, e.forwardHandler())
	mux.HandleFunc(ForwardBatchPath, e.forwardBatchHandler)
	mux.HandleFunc(TermPath, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, termReply{Term: e.raft.CurrentTerm()})
	})
	mux.HandleFunc(ReadIndexPath, func(w http.ResponseWriter, r *http.Request) {
		if !e.isLeader() {
			writeJSON(w, http.StatusServiceUnavailable, indexReply{Error: "not the leader"})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), e.cfg.ForwardTimeout)
		defer cancel()
		idx, err := e.reads.wait(ctx)
		if err != nil {
			writeJSON(w, http.StatusServiceUnavailable, indexReply{Error: err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, indexReply{Index: idx})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, store.Response{Outcome: store.OutcomeFail, Error: fmt.Sprintf("no such peer path %q", r.URL.Path)})
	})
	return mux
}

type indexReply struct {
	Index uint64 `json:"index"`
	Error string `json:"error,omitempty"`
}

// askReadIndex gets a read index from the leader.
func (e *Engine) askReadIndex(ctx context.Context) (uint64, error) {
	_, leader := e.raft.LeaderWithID()
	if leader == "" {
		return 0, fmt.Errorf("%w: no leader known", store.ErrNotApplied)
	}
	addr, ok := e.env.Peers[string(leader)]
	if !ok || string(leader) == e.env.NodeID {
		return 0, fmt.Errorf("%w: leader %q not reachable as a peer", store.ErrNotApplied, leader)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+ReadIndexPath, nil)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", store.ErrNotApplied, err)
	}
	resp, err := e.env.PeerClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%w: read index from leader %s: %v", store.ErrNotApplied, leader, err)
	}
	defer resp.Body.Close()
	var ir indexReply
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&ir); err != nil {
		return 0, fmt.Errorf("%w: read index from leader %s: status %d: %v", store.ErrNotApplied, leader, resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusOK || ir.Index == 0 && ir.Error != "" {
		return 0, fmt.Errorf("%w: read index from leader %s: %s", store.ErrNotApplied, leader, ir.Error)
	}
	return ir.Index, nil
}

type termReply struct {
	Term uint64 `json:"term"`
}

// peerTerm asks the node at the peer address addr for its current term.
func (e *Engine) peerTerm(ctx context.Context, addr string) (uint64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+TermPath, nil)
	if err != nil {
		return 0, err
	}
	resp, err := e.env.PeerClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("status %d", resp.StatusCode)
	}
	var tr termReply
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1024)).Decode(&tr); err != nil {
		return 0, fmt.Errorf("decode term: %w", err)
	}
	return tr.Term, nil
}

// forwardHandler serves /peer/forward/{read,write,cas}: requests another
// node forwarded because it believes this node leads. It never forwards
// again: a node that is not the leader refuses (not applied).
func (e *Engine) forwardHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op, ok := strings.CutPrefix(r.URL.Path, ForwardPrefix)
		if !ok || (op != "read" && op != "write" && op != "cas") {
			writeJSON(w, http.StatusNotFound, store.Response{Outcome: store.OutcomeFail, Error: fmt.Sprintf("no such peer path %q: valid are %sread, %swrite, %scas", r.URL.Path, ForwardPrefix, ForwardPrefix, ForwardPrefix)})
			return
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeJSON(w, http.StatusMethodNotAllowed, store.Response{Outcome: store.OutcomeFail, Error: "use POST"})
			return
		}
		var req store.Request
		dec := json.NewDecoder(io.LimitReader(r.Body, store.MaxBodyBytes))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			if tooLarge(err) {
				peerhttp.BodyError(w, "forward", err)
				return
			}
			writeJSON(w, http.StatusBadRequest, store.Response{Outcome: store.OutcomeFail, Error: "malformed JSON: " + err.Error()})
			return
		}
		if err := req.Validate(op); err != nil {
			writeJSON(w, http.StatusBadRequest, store.Response{Outcome: store.OutcomeFail, Error: err.Error()})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), e.cfg.ForwardTimeout)
		defer cancel()
		if !e.isLeader() {
			writeJSON(w, http.StatusServiceUnavailable, store.Response{Outcome: store.OutcomeFail, Error: "forwarded to a node that is not the leader"})
			return
		}
		var resp store.Response
		var err error
		switch op {
		case "read":
			var rr store.ReadResponse
			rr, err = e.linearRead(ctx, store.ReadRequest{Key: req.Key})
			resp.Value, resp.Found = rr.Value, rr.Found
		case "write":
			err = e.apply(ctx, command{Op: "write", Key: req.Key, Value: *req.Value, ID: req.RequestID})
		case "cas":
			err = e.apply(ctx, command{Op: "cas", Key: req.Key, Expected: *req.Expected, Value: *req.New, ID: req.RequestID})
		}
		status, out := outcome(err)
		out.Value, out.Found = resp.Value, resp.Found
		resp = out
		writeJSON(w, status, resp)
	})
}

// tooLarge reports whether a body read failed on the node's size limit
// or read deadline (peerhttp.BodyError answers those).
func tooLarge(err error) bool {
	var mb *http.MaxBytesError
	var ne net.Error
	return errors.As(err, &mb) || errors.As(err, &ne) && ne.Timeout()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
