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
const roundTimeout = 5 * time.Second

// readBatcher runs linearizable-read verification rounds one at a time
// and lets every read that arrived before a round started share it, so
// concurrent reads cost one quorum round trip, not one each. A read that
// arrives during a round waits for the next one: a round only vouches for
// reads that arrived before it began.
type readBatcher struct {
	verify  func(context.Context) error
	mu      sync.Mutex
	waiting []chan error
	kick    chan struct{}
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
}

func newReadBatcher(verify func(context.Context) error) *readBatcher {
	b := &readBatcher{
		verify: verify,
		kick:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	go b.loop()
	return b
}

// wait returns nil once a round that started after the call succeeded.
func (b *readBatcher) wait(ctx context.Context) error {
	ch := make(chan error, 1)
	b.mu.Lock()
	b.waiting = append(b.waiting, ch)
	b.mu.Unlock()
	select {
	case b.kick <- struct{}{}:
	default:
	}
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return fmt.Errorf("%w: read not confirmed in time: %v", store.ErrNotApplied, ctx.Err())
	case <-b.stop:
		return fmt.Errorf("%w: node shutting down", store.ErrNotApplied)
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
		ctx, cancel := context.WithTimeout(context.Background(), roundTimeout)
		err := b.verify(ctx)
		cancel()
		for _, ch := range batch {
			ch <- err
		}
	}
}

func (b *readBatcher) close() {
	b.once.Do(func() { close(b.stop) })
	<-b.done
}
