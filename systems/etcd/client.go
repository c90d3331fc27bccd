package etcd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/workloads"
)

// NewClient returns an adapter for one harness process, connected to
// nodes[first] only.
func (s *System) NewClient(nodes []harness.Node, first int) (harness.Client, error) {
	if len(nodes) == 0 {
		return nil, errors.New("etcd: no nodes to talk to")
	}
	if first < 0 || first >= len(nodes) {
		return nil, fmt.Errorf("etcd: node index %d out of range [0, %d)", first, len(nodes))
	}
	a := &adapter{sys: s, nodes: nodes, cur: -1}
	a.Use(first)
	s.clients.Add(1)
	return a, nil
}

// adapter is one process's client. It holds one etcd client per node it
// has used (each with that node as its only endpoint), so switching nodes
// keeps connections and the history's node stays true.
type adapter struct {
	sys   *System
	nodes []harness.Node
	cur   int
	conns map[int]*clientv3.Client
	err   error // why the current node's client could not be made
}

func (a *adapter) Use(i int) {
	if i < 0 || i >= len(a.nodes) || i == a.cur {
		return
	}
	a.cur, a.err = i, nil
	if a.conns == nil {
		a.conns = map[int]*clientv3.Client{}
	}
	if _, ok := a.conns[i]; ok {
		return
	}
	c, err := a.sys.dial(a.nodes[i].ClientAddr)
	if err != nil {
		a.err = err
		return
	}
	a.conns[i] = c
}

func (a *adapter) Close() error {
	var errs []error
	for _, c := range a.conns {
		errs = append(errs, c.Close())
	}
	a.conns = nil
	return errors.Join(errs...)
}

func (a *adapter) Invoke(ctx context.Context, op harness.Op) harness.Completion {
	if op.Node >= 0 {
		a.Use(op.Node)
	}
	c := a.conns[a.cur]
	if c == nil {
		return harness.Completion{Type: history.Fail, Error: fmt.Sprintf("no client for node %s: %v", a.nodes[a.cur].ID, a.err)}
	}
	switch op.F {
	case history.FRead:
		if op.Key == workloads.SetKey {
			return a.readSet(ctx, c, op.Key)
		}
		resp, err := c.Get(ctx, op.Key, a.readOpts()...)
		if err != nil {
			return readOutcome(err)
		}
		if len(resp.Kvs) == 0 {
			return harness.Completion{Type: history.OK, Value: history.Null}
		}
		return harness.Completion{Type: history.OK, Value: decode(resp.Kvs[0].Value)}
	case history.FWrite:
		_, err := c.Put(clientv3.WithRequireLeader(ctx), op.Key, history.Canonical(op.Value))
		return writeOutcome(err)
	case history.FCAS:
		exp, nv, err := history.SplitCAS(op.Value)
		if err != nil {
			return harness.Completion{Type: history.Fail, Error: "bad cas input: " + err.Error()}
		}
		resp, err := c.Txn(clientv3.WithRequireLeader(ctx)).
			If(clientv3.Compare(clientv3.Value(op.Key), "=", history.Canonical(exp))).
			Then(clientv3.OpPut(op.Key, history.Canonical(nv))).
			Commit()
		if err != nil {
			return writeOutcome(err)
		}
		if !resp.Succeeded {
			return harness.Completion{Type: history.Fail, Error: history.ErrorMismatch}
		}
		return harness.Completion{Type: history.OK}
	case history.FAdd:
		e, err := strconv.ParseInt(history.Canonical(op.Value), 10, 64)
		if err != nil {
			return harness.Completion{Type: history.Fail, Error: fmt.Sprintf("add takes an integer element, not %s", history.Canonical(op.Value))}
		}
		_, err = c.Put(clientv3.WithRequireLeader(ctx), setPrefix(op.Key)+strconv.FormatInt(e, 10), "")
		return writeOutcome(err)
	}
	return harness.Completion{Type: history.Fail, Error: fmt.Sprintf("etcd client does not know the function %q (read, write, cas, add)", op.F)}
}

func (a *adapter) readOpts() []clientv3.OpOption {
	if a.sys.cfg.Serializable {
		return []clientv3.OpOption{clientv3.WithSerializable()}
	}
	return nil
}

func setPrefix(set string) string { return set + "/" }

// readSet reads every element key of set in one Range.
func (a *adapter) readSet(ctx context.Context, c *clientv3.Client, set string) harness.Completion {
	resp, err := c.Get(ctx, setPrefix(set), append(a.readOpts(), clientv3.WithPrefix(), clientv3.WithKeysOnly())...)
	if err != nil {
		return readOutcome(err)
	}
	out := make([]int64, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		e, err := strconv.ParseInt(strings.TrimPrefix(string(kv.Key), setPrefix(set)), 10, 64)
		if err != nil {
			return harness.Completion{Type: history.Fail, Error: fmt.Sprintf("set %s holds key %q, not <set>/<integer>", set, kv.Key)}
		}
		out = append(out, e)
	}
	slices.Sort(out)
	b, _ := json.Marshal(out)
	return harness.Completion{Type: history.OK, Value: b}
}

// decode turns a stored value back into a history value: JSON text as
// it is, anything else as a JSON string.
func decode(v []byte) json.RawMessage {
	if json.Valid(v) {
		return json.RawMessage(slices.Clone(v))
	}
	b, _ := json.Marshal(string(v))
	return b
}

// readOutcome: a read takes no effect, so any error is fail.
func readOutcome(err error) harness.Completion {
	return harness.Completion{Type: history.Fail, Error: errText(err)}
}

// writeOutcome maps the error of a Put or Txn onto a completion: fail only
// when the request provably took no effect (the table in the package doc).
func writeOutcome(err error) harness.Completion {
	if err == nil {
		return harness.Completion{Type: history.OK}
	}
	if notApplied(err) {
		return harness.Completion{Type: history.Fail, Error: errText(err)}
	}
	return harness.Completion{Type: history.Info, Error: errText(err)}
}

// notApplied reports whether err proves that a mutation took no effect.
func notApplied(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return false
	}
	switch rpctypes.ErrorDesc(err) {
	case rpctypes.ErrNoLeader.Error(), // refused by the require-leader check before proposing
		rpctypes.ErrTooManyRequests.Error(), // refused before proposing
		rpctypes.ErrRequestTooLarge.Error(),
		rpctypes.ErrNoSpace.Error(), // quota check before proposing, or a capped apply
		rpctypes.ErrEmptyKey.Error():
		return true
	}
	st, ok := status.FromError(err)
	if !ok {
		return false
	}
	switch st.Code() {
	case codes.InvalidArgument, codes.PermissionDenied, codes.Unauthenticated:
		return true
	case codes.Unavailable:
		// With WaitForReady(false) (failFast) an RPC on a connection that
		// is down fails in the picker with the dial error: never sent.
		// Errors of a connection that broke after sending name the
		// transport instead (EOF, "transport is closing", "connection
		// reset"), and stay unknown.
		return strings.Contains(st.Message(), "while dialing")
	}
	return false
}

func errText(err error) string {
	if st, ok := status.FromError(err); ok {
		return st.Code().String() + ": " + st.Message()
	}
	return err.Error()
}
