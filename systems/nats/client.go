package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/history"
)

// NewClient returns a client for one harness process: one connection, to
// nodes[first] only (see the package doc for why and for the outcomes).
func (s *System) NewClient(nodes []harness.Node, first int) (harness.Client, error) {
	c := &client{sys: s, nodes: nodes}
	c.Use(first)
	return c, nil
}

type client struct {
	sys   *System
	nodes []harness.Node
	node  int
	nc    *nats.Conn
	js    jetstream.JetStream
	err   error // why nc could not be made
}

// Use moves the client to nodes[i]: the old connection is closed and a new
// one made to that node alone.
func (c *client) Use(i int) {
	if i < 0 || i >= len(c.nodes) {
		return
	}
	if c.nc != nil && i == c.node {
		return
	}
	c.Close()
	c.node = i
	c.nc, c.js, c.err = c.sys.connect(c.nodes[i])
}

func (c *client) Close() error {
	if c.nc != nil {
		c.nc.Close()
		c.nc, c.js = nil, nil
	}
	return nil
}

// connect opens a connection pinned to n: the servers a node advertises
// are ignored, and when the connection drops it reconnects to n alone.
// RetryOnFailedConnect returns at once even when n is down (an op then
// fails as not sent; a failed NewClient would end the run). With the
// reconnect buffer off, nothing is queued while disconnected to be sent
// later, behind the op's back.
func (s *System) connect(n harness.Node) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := nats.Connect("nats://"+n.ClientAddr,
		nats.Name("faultline"),
		nats.DontRandomize(), nats.IgnoreDiscoveredServers(),
		nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1),
		nats.ReconnectWait(100*time.Millisecond), nats.ReconnectJitter(50*time.Millisecond, 50*time.Millisecond),
		nats.ReconnectBufSize(-1),
		nats.Timeout(s.cfg.DialTimeout),
		// A paused node is found within ~3 s instead of two minutes.
		nats.PingInterval(time.Second), nats.MaxPingsOutstanding(3),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to %s (%s): %w", n.ID, n.ClientAddr, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

func (c *client) Invoke(ctx context.Context, op harness.Op) harness.Completion {
	if op.Node >= 0 {
		c.Use(op.Node)
	}
	if c.err != nil {
		return harness.Completion{Type: history.Fail, Error: "not sent: " + c.err.Error()}
	}
	if !c.connected(ctx) {
		// Checked before sending: nothing was written, so nothing can
		// take effect.
		return harness.Completion{Type: history.Fail, Error: fmt.Sprintf("not sent: not connected to %s (%s)", c.nodes[c.node].ID, c.nc.Status())}
	}
	switch op.F {
	case history.FAdd:
		return c.publish(ctx, op.Value)
	case history.FRead:
		if op.Key != "" && op.Key != setKey {
			return harness.Completion{Type: history.Fail, Error: fmt.Sprintf("nats: key %q: only the set workload's one set (%q) is stored", op.Key, setKey)}
		}
		return c.readRetrying(ctx, op.Final)
	default:
		return harness.Completion{Type: history.Fail, Error: fmt.Sprintf("nats: op %q is not supported: the set workload (add, read) runs on NATS", op.F)}
	}
}

// connected reports whether the connection is up, waiting up to the dial
// timeout for a reconnect: a node that is down fails an op in about a
// second, not in a busy loop of instant failures.
func (c *client) connected(ctx context.Context) bool {
	deadline := time.Now().Add(c.sys.cfg.DialTimeout)
	for !c.nc.IsConnected() {
		if c.nc.IsClosed() || time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// setKey is the set workload's key (workloads.SetKey); every add is a
// message on Subject whatever the key, so one set only.
const setKey = "set"

// publish sends value as a message on Subject and waits for the stream's
// acknowledgement, without retries: one send, one outcome.
func (c *client) publish(ctx context.Context, value json.RawMessage) harness.Completion {
	_, err := c.js.Publish(ctx, Subject, value, jetstream.WithRetryAttempts(0))
	if err == nil {
		return harness.Completion{Type: history.OK}
	}
	return harness.Completion{Type: publishOutcome(err), Error: err.Error()}
}

// publishOutcome classifies a failed publish. Fail only when the message
// certainly reached no stream: no responders (the server found no
// subscriber for the subject and dropped it) or an error nats.go returns
// before it writes anything. Everything else — a timeout, a connection
// lost after the write, an error from the stream (the leader may have
// proposed it before answering) — is unknown.
func publishOutcome(err error) history.Type {
	switch {
	case errors.Is(err, jetstream.ErrNoStreamResponse), errors.Is(err, nats.ErrNoResponders),
		errors.Is(err, nats.ErrReconnectBufExceeded), errors.Is(err, nats.ErrMaxPayload),
		errors.Is(err, nats.ErrBadSubject), errors.Is(err, nats.ErrConnectionDraining),
		errors.Is(err, nats.ErrInvalidConnection), errors.Is(err, nats.ErrInvalidContext):
		return history.Fail
	}
	return history.Info
}

// readRetrying reads until a read succeeds or less than a second of the
// op is left: a read changes nothing, so trying again inside one op is
// safe, and a final read must not fail on a consumer that a node just
// restarted cannot host yet ("no responders").
//
// A final read (made after every fault is healed, every node answers
// JetStream requests and the quiet period has passed) that is told "stream
// not found" on every attempt for notFoundFor is the empty set: the
// cluster's meta leader says it holds no such stream, so it holds none of
// its messages (a power loss can take a stream's own metadata: nats-server
// then drops the stream at its start, "Stream metafile checksums do not
// match"). Any other read told so fails: a node that has just restarted
// may say it before it has caught up.
func (c *client) readRetrying(ctx context.Context, final bool) harness.Completion {
	var notFoundSince time.Time
	for {
		r, notFound := c.readAll(ctx)
		if r.Type == history.OK {
			return r
		}
		switch {
		case !notFound:
			notFoundSince = time.Time{}
		case notFoundSince.IsZero():
			notFoundSince = time.Now()
		case final && time.Since(notFoundSince) >= notFoundFor:
			return harness.Completion{Type: history.OK, Value: json.RawMessage("[]")}
		}
		dl, ok := ctx.Deadline()
		if !ok || time.Until(dl) < time.Second {
			return r
		}
		select {
		case <-ctx.Done():
			return r
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// attemptTimeout bounds each request of a read attempt that the cluster
// may leave unanswered (no stream leader yet), so that the read tries
// again within its op.
const attemptTimeout = time.Second

// notFoundFor is how long a final read must be told "stream not found",
// on every attempt, before it reads that as the empty set.
const notFoundFor = 2 * time.Second

// readAll reads the whole stream: the stream's last sequence number (from
// its leader), then every message through an ephemeral consumer until that
// sequence, or until the consumer has nothing more to give. A read changes
// nothing, so any error is fail: it may be tried again.
func (c *client) readAll(ctx context.Context) (harness.Completion, bool) {
	fail := func(what string, err error) harness.Completion {
		return harness.Completion{Type: history.Fail, Error: what + ": " + err.Error()}
	}
	// Bounded apart from the op: with no stream leader the request goes
	// unanswered, and one attempt must not take the whole op.
	ictx, cancel := context.WithTimeout(ctx, attemptTimeout)
	st, err := c.js.Stream(ictx, Stream)
	cancel()
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return fail("stream info", err), true
	}
	if err != nil {
		// Stream not found is fail too, never the empty set: a node
		// that has just restarted can say so before its meta layer has
		// caught up. If the stream is really gone, the final reads fail
		// and the verdict is unknown, their errors saying why.
		return fail("stream info", err), false
	}
	state := st.CachedInfo().State
	elems := make([]json.RawMessage, 0, state.Msgs)
	if state.Msgs == 0 {
		return readValue(elems), false
	}
	// An ephemeral pull consumer, not nats.go's ordered consumer: that
	// one recreates itself after a gap with retries that no context
	// bounds, and an op must end by its deadline.
	cctx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	cons, err := st.CreateConsumer(cctx, jetstream.ConsumerConfig{
		DeliverPolicy: jetstream.DeliverAllPolicy, AckPolicy: jetstream.AckNonePolicy,
		MemoryStorage: true, Replicas: 1, InactiveThreshold: 10 * time.Second,
	})
	if err != nil {
		return fail("create a consumer", err), false
	}
	defer func() {
		// Best effort, off the op's time: the inactive threshold
		// removes it anyway.
		go func() {
			dctx, cancel := context.WithTimeout(context.Background(), time.Second)
			st.DeleteConsumer(dctx, cons.CachedInfo().Name)
			cancel()
		}()
	}()
	for {
		wait := 2 * time.Second
		if dl, ok := ctx.Deadline(); ok {
			wait = min(wait, time.Until(dl)-50*time.Millisecond)
		}
		if wait < 100*time.Millisecond {
			return harness.Completion{Type: history.Fail, Error: fmt.Sprintf("read: out of time after %d of %d messages", len(elems), state.Msgs)}, false
		}
		batch, err := cons.Fetch(1000, jetstream.FetchMaxWait(wait))
		if err != nil {
			return fail("fetch", err), false
		}
		got := 0
		done := false
		msgs := batch.Messages()
	recv:
		for {
			var m jetstream.Msg
			var ok bool
			select {
			case m, ok = <-msgs:
			case <-ctx.Done():
				return fail("fetch", ctx.Err()), false
			}
			if !ok {
				break recv
			}
			got++
			elems = append(elems, json.RawMessage(append([]byte(nil), m.Data()...)))
			if md, err := m.Metadata(); err == nil && md.Sequence.Stream >= state.LastSeq {
				// The pull stays open until its batch is full or its
				// wait ends: do not wait for more than was asked for.
				done = true
				break recv
			}
		}
		if done {
			return readValue(elems), false
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) {
			return fail("fetch", err), false
		}
		if done || got == 0 {
			return readValue(elems), false
		}
	}
}

func readValue(elems []json.RawMessage) harness.Completion {
	b, err := json.Marshal(elems)
	if err != nil {
		return harness.Completion{Type: history.Fail, Error: "encode the read: " + err.Error()}
	}
	return harness.Completion{Type: history.OK, Value: b}
}
