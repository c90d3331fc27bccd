package strong

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/faultline/faultline/store"
)

// roundTimeout bounds one verification round; a leader cut off from its
// quorum steps down well before (LeaderLeaseTimeout) and fails the round.
const roundTimeout = 2 * time.Second

// readBatcher runs linearizable-read verification rounds one at a time
// and lets every read that arrived before a round started share it, so
// concurrent reads cost one quorum round trip, not one each. A read that
// arrives during a round waits for the next one: a round only vouches for
// reads that arrived before it began.
type readBatcher struct {
	verify  func(context.Context) (uint64, error)
	mu      sync.Mutex
	waiting []chan roundResult
	kick    chan struct{}
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
	base    context.Context // cancelled by close, so a round in flight ends
	cancel  context.CancelFunc
}

// roundResult is a round's outcome: the read index, or why none.
type roundResult struct {
	index uint64
	err   error
}

func newReadBatcher(verify func(context.Context) (uint64, error)) *readBatcher {
	base, cancel := context.WithCancel(context.Background())
	b := &readBatcher{
		base:   base,
		cancel: cancel,
		verify: verify,
		kick:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	go b.loop()
	return b
}

// wait returns the read index of a round that started after the call.
func (b *readBatcher) wait(ctx context.Context) (uint64, error) {
	ch := make(chan roundResult, 1)
	b.mu.Lock()
	b.waiting = append(b.waiting, ch)
	b.mu.Unlock()
	select {
	case b.kick <- struct{}{}:
	default:
	}
	select {
	case r := <-ch:
		return r.index, r.err
	case <-ctx.Done():
		return 0, fmt.Errorf("%w: read not confirmed in time: %v", store.ErrNotApplied, ctx.Err())
	case <-b.stop:
		return 0, fmt.Errorf("%w: node shutting down", store.ErrNotApplied)
	}
}

func (b *readBatcher) loop() {
	defer close(b.done)
	for {
		select {
		case <-b.kick:
		case <-b.stop:
			return
		}
		b.mu.Lock()
		batch := b.waiting
		b.waiting = nil
		b.mu.Unlock()
		if len(batch) == 0 {
			continue
		}
		ctx, cancel := context.WithTimeout(b.base, roundTimeout)
		idx, err := b.verify(ctx)
		cancel()
		for _, ch := range batch {
			ch <- roundResult{idx, err}
		}
	}
}

func (b *readBatcher) close() {
	b.once.Do(func() { close(b.stop); b.cancel() })
	<-b.done
}
