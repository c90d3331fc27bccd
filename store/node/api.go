package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path"
	"strings"
	"sync"

	"github.com/faultline/faultline/store"
	"github.com/faultline/faultline/store/internal/peerhttp"
)

// clientHandler serves the client API (/v1/) and the admin API (/admin/).
func (n *Node) clientHandler() http.Handler {
	read, write, cas := n.handleOp("read"), n.handleOp("write"), n.handleOp("cas")
	mux := http.NewServeMux()
	mux.HandleFunc(store.PathRead, read)
	mux.HandleFunc(store.PathWrite, write)
	mux.HandleFunc(store.PathCAS, cas)
	mux.HandleFunc(store.PathStatus, n.handleStatus)
	mux.HandleFunc(store.PathClock, n.handleClock)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fail(w, http.StatusNotFound, fmt.Sprintf("no such path %q: the client API is POST %s, %s, %s; the admin API is GET %s and GET/PUT %s",
			r.URL.Path, store.PathRead, store.PathWrite, store.PathCAS, store.PathStatus, store.PathClock))
	})
	// The three operations' exact paths skip the mux's pattern matching
	// (a visible cost per request); anything else, non-canonical paths
	// included, goes through the mux as before.
	return recoverer(n, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case store.PathWrite:
			write(w, r)
		case store.PathRead:
			read(w, r)
		case store.PathCAS:
			cas(w, r)
		default:
			if !canonical(w, r) {
				return
			}
			mux.ServeHTTP(w, r)
		}
	}))
}

// canonical answers a path that is not clean ("/v1//write", "/v1/./read",
// "/v1/write/") with a JSON 404 naming the clean one, where ServeMux would
// redirect with an empty body; it returns false when it did.
func canonical(w http.ResponseWriter, r *http.Request) bool {
	p := r.URL.Path
	if p == "" || p[0] != '/' {
		p = "/" + p
	}
	if c := path.Clean(p); c != r.URL.Path {
		fail(w, http.StatusNotFound, fmt.Sprintf("no such path %q: paths are written clean, such as %q", r.URL.Path, c))
		return false
	}
	return true
}

// peerHandler serves the peer address's HTTP side: /peer/ goes to the
// engine, with the full path (nothing is stripped).
func (n *Node) peerHandler() http.Handler {
	mux := http.NewServeMux()
	if h := n.engine.PeerHandler(); h != nil {
		mux.Handle("/peer/", peerhttp.Limit(h))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fail(w, http.StatusNotFound, fmt.Sprintf("no such peer path %q", r.URL.Path))
	})
	return recoverer(n, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if canonical(w, r) {
			mux.ServeHTTP(w, r)
		}
	}))
}

// recoverer turns a handler panic into a 500 "unknown" answer: the
// request may have done anything before it panicked.
func recoverer(n *Node, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				n.log.Error("handler panic", "path", r.URL.Path, "panic", p)
				writeResponse(w, http.StatusInternalServerError, &store.Response{Outcome: store.OutcomeUnknown, Error: fmt.Sprintf("internal error: %v", p)})
			}
		}()
		h.ServeHTTP(w, r)
	})
}

var jsonContentType = []string{"application/json"}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header()["Content-Type"] = jsonContentType
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeResponse writes a store.Response: the bytes writeJSON would write,
// from the hand-written encoder.
func writeResponse(w http.ResponseWriter, status int, resp *store.Response) {
	bp := bufPool.Get().(*[]byte)
	b := append(resp.AppendJSON((*bp)[:0]), '\n')
	w.Header()["Content-Type"] = jsonContentType
	w.WriteHeader(status)
	w.Write(b)
	putBuf(bp, b)
}

// bufPool holds buffers for request and response bodies.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

func putBuf(bp *[]byte, b []byte) {
	if cap(b) <= 64<<10 { // big ones go to the GC
		*bp = b[:0]
		bufPool.Put(bp)
	}
}

// fail answers a request that was refused before anything happened.
func fail(w http.ResponseWriter, status int, msg string) {
	writeResponse(w, status, &store.Response{Outcome: store.OutcomeFail, Error: msg})
}

// readBody reads the whole body, at most store.MaxBodyBytes, into b.
func readBody(w http.ResponseWriter, r *http.Request, b []byte) ([]byte, error) {
	body := http.MaxBytesReader(w, r.Body, store.MaxBodyBytes)
	if r.ContentLength > 0 && r.ContentLength <= store.MaxBodyBytes && int(r.ContentLength) >= cap(b) {
		b = make([]byte, 0, r.ContentLength+1)
	}
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := body.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// decodeBody decodes a JSON body strictly into v (a *store.Request goes
// through store.DecodeRequest, the others through store.DecodeStrict),
// answering the error itself; it returns false when it did.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	bp := bufPool.Get().(*[]byte)
	b, err := readBody(w, r, (*bp)[:0])
	if err == nil {
		if req, ok := v.(*store.Request); ok {
			err = store.DecodeRequest(b, req)
		} else {
			err = store.DecodeStrict(b, v)
		}
	}
	putBuf(bp, b)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			fail(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body over %d bytes", store.MaxBodyBytes))
			return false
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			fail(w, http.StatusRequestTimeout, "the request body did not arrive in time: "+err.Error())
			return false
		}
		if errors.Is(err, io.EOF) {
			err = errors.New("empty body")
		}
		fail(w, http.StatusBadRequest, "malformed JSON body: "+err.Error()+`; want an object like {"key":"k","value":"v","request_id":"c1-1"}`)
		return false
	}
	return true
}

func allow(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	fail(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on %s: use %s", r.Method, r.URL.Path, strings.Join(methods, " or ")))
	return false
}

// handleOp serves one of read, write, cas.
func (n *Node) handleOp(op string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !allow(w, r, http.MethodPost) {
			return
		}
		var req store.Request
		if !decodeBody(w, r, &req) {
			return
		}
		if err := req.Validate(op); err != nil {
			fail(w, http.StatusBadRequest, err.Error())
			return
		}
		token, err := store.DecodeToken(r.Header.Get(store.TokenHeader))
		if err != nil {
			fail(w, http.StatusBadRequest, err.Error())
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), n.cfg.RequestTimeout)
		defer cancel()
		resp := store.Response{Outcome: store.OutcomeOK, RequestID: req.RequestID}
		var out store.Token
		switch op {
		case "read":
			var rr store.ReadResponse
			rr, err = n.engine.Read(ctx, store.ReadRequest{Key: req.Key, Token: token})
			resp.Value, resp.Found, out = rr.Value, rr.Found, rr.Token
		case "write":
			var wr store.WriteResponse
			wr, err = n.engine.Write(ctx, store.WriteRequest{Key: req.Key, Value: *req.Value, RequestID: req.RequestID, Token: token})
			out = wr.Token
		case "cas":
			var wr store.WriteResponse
			wr, err = n.engine.CAS(ctx, store.CASRequest{Key: req.Key, Expected: *req.Expected, New: *req.New, RequestID: req.RequestID, Token: token})
			out = wr.Token
		}
		status := http.StatusOK
		switch {
		case err == nil:
			if t := store.EncodeToken(out); t != "" {
				w.Header().Set(store.TokenHeader, t)
			}
		case errors.Is(err, store.ErrMismatch):
			status, resp.Outcome, resp.Mismatch = http.StatusConflict, store.OutcomeFail, true
		case errors.Is(err, store.ErrNotApplied):
			status, resp.Outcome = http.StatusServiceUnavailable, store.OutcomeFail
		case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded):
			status, resp.Outcome = http.StatusGatewayTimeout, store.OutcomeUnknown
		default: // store.ErrUnknown, or anything unclassified: when in doubt, unknown
			status, resp.Outcome = http.StatusInternalServerError, store.OutcomeUnknown
		}
		if err != nil {
			resp.Error = err.Error()
			if status == http.StatusInternalServerError || status == http.StatusGatewayTimeout {
				n.log.Warn("outcome unknown", "op", op, "key", req.Key, "request_id", req.RequestID, "error", err)
			}
		}
		writeResponse(w, status, &resp)
	}
}

func (n *Node) handleStatus(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	writeJSON(w, http.StatusOK, n.Status())
}

func (n *Node) handleClock(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, http.MethodGet, http.MethodPut) {
		return
	}
	if r.Method == http.MethodPut {
		var c store.ClockOffset
		if !decodeBody(w, r, &c) {
			return
		}
		if c.OffsetNS == nil {
			fail(w, http.StatusBadRequest, `missing "offset_ns": want {"offset_ns": <nanoseconds, may be negative; 0 resets>}`)
			return
		}
		if err := store.CheckClockOffset(c.Offset()); err != nil {
			fail(w, http.StatusBadRequest, err.Error())
			return
		}
		n.clock.SetOffset(c.Offset())
		n.log.Info("clock offset set", "offset", c.Offset())
	}
	off := int64(n.clock.Offset())
	writeJSON(w, http.StatusOK, store.ClockOffset{OffsetNS: &off})
}
