package strong

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/store"
)

// The batcher's own rules, with a sender the test controls (the real
// sender, over HTTP to a real leader, is exercised by store/node's tests:
// every write through a follower goes this way).
func TestForwardBatcherGathersConcurrentWrites(t *testing.T) {
	var mu sync.Mutex
	var sizes []int
	var held atomic.Int64 // items in batches blocked on release
	release := make(chan struct{})
	var releaseOnce sync.Once
	b := newForwardBatcher(func(ctx context.Context, batch []*fwdWaiter) {
		held.Add(int64(len(batch)))
		<-release
		mu.Lock()
		sizes = append(sizes, len(batch))
		mu.Unlock()
		for _, w := range batch {
			if w.item.Req.Key == "mismatch" {
				w.done <- remoteError{kind: store.ErrMismatch, msg: "no"}
				continue
			}
			w.done <- nil
		}
	})
	defer b.close()
	defer releaseOnce.Do(func() { close(release) }) // runs first, even if the test fails
	const n = 40
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		key := "k"
		if i == 0 {
			key = "mismatch"
		}
		go func() { errs <- b.forward(t.Context(), batchItem{Op: "write", Req: store.Request{Key: key}}) }()
	}
	require.Eventually(t, func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return int64(len(b.queue))+held.Load() == n
	}, 5*time.Second, time.Millisecond, "every write reaches the batcher")
	releaseOnce.Do(func() { close(release) })
	var mismatches, oks int
	for i := 0; i < n; i++ {
		err := <-errs
		switch {
		case err == nil:
			oks++
		case errors.Is(err, store.ErrMismatch):
			mismatches++
		default:
			t.Fatalf("unexpected error %v", err)
		}
	}
	assert.Equal(t, n-1, oks)
	assert.Equal(t, 1, mismatches, "each item gets its own reply")
	mu.Lock()
	defer mu.Unlock()
	assert.Less(t, len(sizes), n/2, "concurrent writes share requests: batch sizes %v", sizes)
}

func TestForwardBatcherDeadlines(t *testing.T) {
	block := make(chan struct{})
	sent := make(chan struct{}, 10)
	b := newForwardBatcher(func(ctx context.Context, batch []*fwdWaiter) {
		sent <- struct{}{}
		<-block // holds its sender until the test ends
		for _, w := range batch {
			w.done <- errors.New("late")
		}
	})
	defer b.close()
	defer close(block)

	// Sent, then the deadline passes: the write may have been applied.
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	err := b.forward(ctx, batchItem{Op: "write", Req: store.Request{Key: "a"}})
	<-sent
	require.Error(t, err)
	assert.ErrorIs(t, err, store.ErrUnknown)

	// Occupy every sender (one item each, one at a time), then queue one
	// more that expires unsent: it was not applied.
	for i := 0; i < forwardSenders-1; i++ { // "a" holds the first
		go b.forward(t.Context(), batchItem{Op: "write", Req: store.Request{Key: "busy"}})
		select {
		case <-sent:
		case <-time.After(5 * time.Second):
			t.Fatal("sender never started")
		}
	}
	ctx2, cancel2 := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel2()
	err = b.forward(ctx2, batchItem{Op: "write", Req: store.Request{Key: "b"}})
	require.Error(t, err)
	assert.ErrorIs(t, err, store.ErrNotApplied, "never sent: %v", err)
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, w := range b.queue {
		assert.Equal(t, fwdGaveUp, w.state.Load(), "an expired item is never sent later")
	}
}
