// Package refstore plugs the reference store (cmd/storenode) into the
// harness as a harness.System: the node command line, readiness, the
// client adapter that maps the store's outcomes onto the history's, clock
// skew (harness.ClockSkewer) and leader lookup (harness.LeaderFinder).
//
// Outcomes: a nil error is ok; a *client.NotAppliedError is fail (error
// "mismatch" for a cas that found another value); a *client.UnknownError,
// or any other error, is info. Values: the bundled workloads write
// integers, stored as decimal strings; a stored string that is valid JSON
// reads back as that JSON (so integers read back as integers) and any
// other string as a JSON string; an absent key reads null.
//
// Sets (the set workload): the store has only string values, so a set is
// stored as one key per client adapter, "<set>/c<n>", holding the JSON
// array of the elements that adapter added with an ok (plus the one being
// added). Each such key has a single writer, which writes whole arrays
// that only grow, so plain reads and writes suffice in every mode (no cas,
// which causal and eventual do not order). A retired process's adapter is
// never reused, so a late write of unknown outcome lands on its own key
// and can only add its own elements. A read of the set reads every member
// key registered before it started (on the process's current node) and
// returns the sorted union as a JSON array. Adds to a key that is not
// workloads.SetKey work the same way.
package refstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/store"
	"github.com/faultline/faultline/store/client"
	"github.com/faultline/faultline/workloads"
)

// System is the reference store as a system under test.
type System struct {
	bin    string
	mode   store.Mode
	faults []string
	// secret is the cluster's peer secret, new for each System (a run):
	// only its nodes can talk to each other's peer addresses.
	secret string

	clients atomic.Int64
	setsMu  sync.Mutex
	sets    map[string][]string // set key -> member keys, in creation order
	admin   *http.Client
}

var (
	_ harness.System       = (*System)(nil)
	_ harness.ClockSkewer  = (*System)(nil)
	_ harness.LeaderFinder = (*System)(nil)
	_ harness.Promiser     = (*System)(nil)
)

// New returns the reference store run from bin in mode, every node
// started with the deliberate faults (store.ParseFaults names).
func New(bin string, mode store.Mode, faults []string) (*System, error) {
	if _, err := store.ParseMode(string(mode)); err != nil {
		return nil, err
	}
	if _, err := store.ParseFaults(strings.Join(faults, ",")); err != nil {
		return nil, err
	}
	var secret [16]byte
	rand.Read(secret[:])
	return &System{
		bin: bin, mode: mode, faults: faults, secret: hex.EncodeToString(secret[:]),
		sets:  map[string][]string{},
		admin: &http.Client{Timeout: 2 * time.Second},
	}, nil
}

func (s *System) Name() string { return "faultline-store" }

// Options are what a run of this system records in test.json beside the
// harness's own options: strong mode's Raft timing.
func (s *System) Options() map[string]any {
	if s.mode != store.Strong {
		return map[string]any{}
	}
	return map[string]any{"raft_timing": store.DefaultRaftTiming()}
}

// Promise is what the mode keeps: strong is linearizable and has cas;
// causal is causal+ and eventual eventual, neither with cas (the causal
// checkers give cas no meaning).
func (s *System) Promise() harness.Promise {
	return harness.Promise{Model: workloads.Models[string(s.mode)], CAS: s.mode == store.Strong}
}

// Mode is the store's mode every node runs in.
func (s *System) Mode() store.Mode { return s.mode }
func (s *System) Binary() string   { return s.bin }

// Args is storenode's command line for one node.
func (s *System) Args(n harness.NodeLayout) []string {
	ids := make([]string, 0, len(n.Peers))
	for id := range n.Peers {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	peers := make([]string, 0, len(ids))
	for _, id := range ids {
		peers = append(peers, id+"="+n.Peers[id])
	}
	args := []string{
		"--id", n.ID,
		"--listen", n.ClientListen,
		"--peer-listen", n.PeerListen,
		"--peers", strings.Join(peers, ","),
		"--data", n.DataDir,
		"--mode", string(s.mode),
		// On the command line because the backends take a command line
		// only: local users can read it in the process list (README,
		// Security).
		"--peer-secret", s.secret,
	}
	if len(s.faults) > 0 {
		args = append(args, "--faults", strings.Join(s.faults, ","))
	}
	return args
}

func (s *System) status(ctx context.Context, n harness.Node) (store.Status, error) {
	var st store.Status
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+n.ClientAddr+store.PathStatus, nil)
	if err != nil {
		return st, err
	}
	resp, err := s.admin.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("GET %s: %s: %s", store.PathStatus, resp.Status, bytes.TrimSpace(body))
	}
	if err := json.Unmarshal(body, &st); err != nil {
		return st, fmt.Errorf("GET %s: bad status body: %w", store.PathStatus, err)
	}
	return st, nil
}

// Ready polls GET /admin/status until the node answers (and, in strong
// mode, knows a leader, so the first ops do not all fail).
func (s *System) Ready(ctx context.Context, n harness.Node) error {
	var last error
	for {
		st, err := s.status(ctx, n)
		switch {
		case err != nil:
			last = err
		case s.mode == store.Strong && st.Leader == "":
			last = errors.New("the node answers but knows no leader yet")
		default:
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Leader returns the node that says it is the leader, else the leader most
// nodes name.
func (s *System) Leader(ctx context.Context, nodes []harness.Node) (string, error) {
	votes := map[string]int{}
	var errs []error
	for _, n := range nodes {
		st, err := s.status(ctx, n)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", n.ID, err))
			continue
		}
		if st.Role == "leader" {
			return st.ID, nil
		}
		if st.Leader != "" {
			votes[st.Leader]++
		}
	}
	best, most := "", 0
	for id, v := range votes {
		if v > most || (v == most && id < best) {
			best, most = id, v
		}
	}
	if best == "" {
		return "", fmt.Errorf("no node knows a leader (mode %s): %w", s.mode, errors.Join(errs...))
	}
	return best, nil
}

// SetClockOffset skews n's clock through PUT /admin/clock.
func (s *System) SetClockOffset(ctx context.Context, n harness.Node, offset time.Duration) error {
	ns := int64(offset)
	body, _ := json.Marshal(store.ClockOffset{OffsetNS: &ns})
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, "http://"+n.ClientAddr+store.PathClock, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.admin.Do(req)
	if err != nil {
		return fmt.Errorf("skew the clock of %s: %w", n.ID, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("skew the clock of %s: %s: %s", n.ID, resp.Status, bytes.TrimSpace(b))
	}
	return nil
}

// dialTimeout bounds a client's connection attempt to a node.
const dialTimeout = time.Second

// NewClient returns an adapter for one harness process.
func (s *System) NewClient(nodes []harness.Node, first int) (harness.Client, error) {
	if len(nodes) == 0 {
		return nil, errors.New("refstore: no nodes to talk to")
	}
	if first < 0 || first >= len(nodes) {
		return nil, fmt.Errorf("refstore: node index %d out of range [0, %d)", first, len(nodes))
	}
	eps := make([]string, len(nodes))
	for i, n := range nodes {
		eps[i] = n.ClientAddr
	}
	n := s.clients.Add(1)
	// A short dial timeout: a node that is down or cut off makes the
	// dial fail in a second, which the client reports as "not applied"
	// (nothing was sent), instead of the op waiting out its whole timeout
	// as "unknown".
	tr := &http.Transport{MaxIdleConnsPerHost: 2, IdleConnTimeout: 30 * time.Second,
		DialContext: (&net.Dialer{Timeout: dialTimeout}).DialContext}
	c, err := client.New(client.Config{Endpoints: eps, ID: fmt.Sprintf("h%d", n), HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		return nil, fmt.Errorf("refstore: %w", err)
	}
	c.Use(first)
	return &adapter{sys: s, c: c, tr: tr, n: n, added: map[string][]int64{}}, nil
}

// adapter is one process's client.
type adapter struct {
	sys   *System
	c     *client.Client
	tr    *http.Transport
	n     int64
	added map[string][]int64 // set key -> elements this adapter added (ok)
}

func (a *adapter) Use(i int) { a.c.Use(i) }

func (a *adapter) Close() error {
	a.tr.CloseIdleConnections()
	return nil
}

func (a *adapter) Invoke(ctx context.Context, op harness.Op) harness.Completion {
	switch op.F {
	case history.FRead:
		if op.Key == workloads.SetKey || a.sys.isSet(op.Key) {
			return a.readSet(ctx, op.Key)
		}
		v, found, err := a.c.Read(ctx, op.Key)
		if err != nil {
			return outcome(err)
		}
		if !found {
			return harness.Completion{Type: history.OK, Value: history.Null}
		}
		return harness.Completion{Type: history.OK, Value: decode(v)}
	case history.FWrite:
		return outcome(a.c.Write(ctx, op.Key, encode(op.Value)))
	case history.FCAS:
		exp, nv, err := history.SplitCAS(op.Value)
		if err != nil {
			return harness.Completion{Type: history.Fail, Error: "bad cas input: " + err.Error()}
		}
		return outcome(a.c.CAS(ctx, op.Key, encode(exp), encode(nv)))
	case history.FAdd:
		return a.add(ctx, op)
	}
	return harness.Completion{Type: history.Fail, Error: fmt.Sprintf("refstore does not know the function %q (read, write, cas, add)", op.F)}
}

// outcome maps a store client error onto a completion.
func outcome(err error) harness.Completion {
	if err == nil {
		return harness.Completion{Type: history.OK}
	}
	var na *client.NotAppliedError
	if errors.As(err, &na) {
		if na.Mismatch {
			return harness.Completion{Type: history.Fail, Error: history.ErrorMismatch}
		}
		return harness.Completion{Type: history.Fail, Error: na.Reason}
	}
	var un *client.UnknownError
	if errors.As(err, &un) {
		return harness.Completion{Type: history.Info, Error: un.Reason}
	}
	return harness.Completion{Type: history.Info, Error: err.Error()}
}

// encode turns a history value into the stored string: integers as
// decimal strings, other JSON as its compact text.
func encode(v json.RawMessage) string { return history.Canonical(v) }

// decode turns a stored string back into a history value.
func decode(s string) json.RawMessage {
	if _, err := strconv.ParseInt(s, 10, 64); err == nil {
		return json.RawMessage(s)
	}
	if json.Valid([]byte(s)) {
		return json.RawMessage(s)
	}
	b, _ := json.Marshal(s)
	return b
}

func (s *System) isSet(key string) bool {
	s.setsMu.Lock()
	defer s.setsMu.Unlock()
	_, ok := s.sets[key]
	return ok
}

// member returns (registering it on first use) this adapter's key for set.
func (a *adapter) member(set string) string {
	key := fmt.Sprintf("%s/c%d", set, a.n)
	a.sys.setsMu.Lock()
	defer a.sys.setsMu.Unlock()
	if !slices.Contains(a.sys.sets[set], key) {
		a.sys.sets[set] = append(a.sys.sets[set], key)
	}
	return key
}

func (a *adapter) add(ctx context.Context, op harness.Op) harness.Completion {
	e, err := strconv.ParseInt(history.Canonical(op.Value), 10, 64)
	if err != nil {
		return harness.Completion{Type: history.Fail, Error: fmt.Sprintf("add takes an integer element, not %s", history.Canonical(op.Value))}
	}
	key := a.member(op.Key)
	next := append(slices.Clone(a.added[op.Key]), e)
	body, _ := json.Marshal(next)
	c := outcome(a.c.Write(ctx, key, string(body)))
	if c.Type == history.OK {
		a.added[op.Key] = next
	}
	return c
}

func (a *adapter) readSet(ctx context.Context, set string) harness.Completion {
	a.sys.setsMu.Lock()
	members := slices.Clone(a.sys.sets[set])
	a.sys.setsMu.Unlock()
	seen := map[int64]bool{}
	for _, k := range members {
		v, found, err := a.c.Read(ctx, k)
		if err != nil {
			c := outcome(err)
			c.Error = fmt.Sprintf("reading member key %s: %s", k, c.Error)
			return c
		}
		if !found {
			continue
		}
		var elems []int64
		if err := json.Unmarshal([]byte(v), &elems); err != nil {
			return harness.Completion{Type: history.Info, Error: fmt.Sprintf("member key %s holds %q, not a JSON array of integers", k, v)}
		}
		for _, e := range elems {
			seen[e] = true
		}
	}
	out := make([]int64, 0, len(seen))
	for e := range seen {
		out = append(out, e)
	}
	slices.Sort(out)
	b, _ := json.Marshal(out)
	return harness.Completion{Type: history.OK, Value: b}
}
