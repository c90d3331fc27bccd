// Package pbkv plugs pbkv, a small primary-backup key-value store (its node
// is ./node), into faultline as a harness.System: what a system author
// writes to test their own system. Read it with harness/systemtest (the
// conformance suite every System should pass) and pbkv_test.go (the tests
// that judge pbkv, with and without its deliberate bug).
//
// Outcomes, the one thing a client adapter must get right: an answer is
// ok (or fail "mismatch" for a cas that found another value); a request
// that could not be sent (the dial failed) or that the node says it could
// not send on (503) is fail: it cannot have taken effect. Anything else on
// a write (a timeout, a broken connection, 502) is info: it may have taken
// effect. A read has no effect, so a read that got no answer is fail.
package pbkv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/history"
)

// System is pbkv as a system under test.
type System struct {
	// Bin is the node binary (built from ./node, statically for the
	// docker backend).
	Bin string
	// StaleReads starts every node with the deliberate bug.
	StaleReads bool
}

var (
	_ harness.System       = (*System)(nil)
	_ harness.Promiser     = (*System)(nil)
	_ harness.LeaderFinder = (*System)(nil)
)

func (s *System) Name() string   { return "pbkv" }
func (s *System) Binary() string { return s.Bin }

// Promise: pbkv means to be linearizable and has cas. With StaleReads it
// still says so: that it is not is the bug the checker must find.
func (s *System) Promise() harness.Promise {
	return harness.Promise{Model: "linearizable", CAS: true}
}

func (s *System) Args(n harness.NodeLayout) []string {
	var peers []string
	for id, addr := range n.Peers {
		peers = append(peers, id+"="+addr)
	}
	sort.Strings(peers)
	args := []string{"-id", n.ID, "-listen", n.ClientListen, "-peer-listen", n.PeerListen,
		"-peers", strings.Join(peers, ","), "-data", n.DataDir}
	if s.StaleReads {
		args = append(args, "-stale-reads")
	}
	return args
}

func (s *System) Ready(ctx context.Context, n harness.Node) error {
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+n.ClientAddr+"/status", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = errors.New(resp.Status)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Leader is the primary: the lowest node id.
func (s *System) Leader(_ context.Context, nodes []harness.Node) (string, error) {
	ids := make([]string, len(nodes))
	for i, n := range nodes {
		ids[i] = n.ID
	}
	sort.Strings(ids)
	return ids[0], nil
}

func (s *System) NewClient(nodes []harness.Node, first int) (harness.Client, error) {
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, notSent{err}
		}
		return c, nil
	}
	return &client{nodes: nodes, cur: first, hc: &http.Client{Transport: &http.Transport{DialContext: dial}}}, nil
}

// notSent marks an error that happened before the request left.
type notSent struct{ error }

func (e notSent) Unwrap() error { return e.error }

type client struct {
	nodes []harness.Node
	cur   int
	hc    *http.Client
}

func (c *client) Use(i int) { c.cur = i }

func (c *client) Close() error { c.hc.CloseIdleConnections(); return nil }

func (c *client) Invoke(ctx context.Context, op harness.Op) harness.Completion {
	url := "http://" + c.nodes[c.cur].ClientAddr + "/kv/" + op.Key
	var req *http.Request
	switch op.F {
	case history.FRead:
		req, _ = http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	case history.FWrite:
		req, _ = http.NewRequestWithContext(ctx, http.MethodPut, url, strings.NewReader(history.Canonical(op.Value)))
	case history.FCAS:
		exp, v, err := history.SplitCAS(op.Value)
		if err != nil {
			return harness.Completion{Type: history.Fail, Error: err.Error()}
		}
		req, _ = http.NewRequestWithContext(ctx, http.MethodPut, url, strings.NewReader(history.Canonical(v)))
		req.Header.Set("If-Match", history.Canonical(exp))
	default:
		return harness.Completion{Type: history.Fail, Error: "pbkv has no " + op.F}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if errors.As(err, new(notSent)) || op.F == history.FRead {
			return harness.Completion{Type: history.Fail, Error: err.Error()}
		}
		return harness.Completion{Type: history.Info, Error: err.Error()}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	switch {
	case err != nil && op.F == history.FRead:
		return harness.Completion{Type: history.Fail, Error: err.Error()}
	case resp.StatusCode == http.StatusOK && op.F == history.FRead && !json.Valid(body):
		return harness.Completion{Type: history.Fail, Error: fmt.Sprintf("read %q, not a JSON value", body)}
	case resp.StatusCode == http.StatusOK && op.F == history.FRead:
		return harness.Completion{Type: history.OK, Value: json.RawMessage(body)}
	case resp.StatusCode == http.StatusOK:
		return harness.Completion{Type: history.OK}
	case resp.StatusCode == http.StatusNotFound && op.F == history.FRead:
		return harness.Completion{Type: history.OK, Value: history.Null}
	case resp.StatusCode == http.StatusPreconditionFailed:
		return harness.Completion{Type: history.Fail, Error: history.ErrorMismatch}
	case resp.StatusCode == http.StatusServiceUnavailable || op.F == history.FRead:
		return harness.Completion{Type: history.Fail, Error: resp.Status + ": " + string(bytes.TrimSpace(body))}
	}
	return harness.Completion{Type: history.Info, Error: resp.Status + ": " + string(bytes.TrimSpace(body))}
}
