package workloads

import (
	"fmt"
	"sync"

	"github.com/faultline/faultline/generator"
	"github.com/faultline/faultline/history"
)

// rotatingKey is the key of a single-key workload: every worker shares it
// until maxOps ops were emitted on it or maxUnknown of them ended with an
// unknown outcome (info), then the workload moves to the next key
// (prefix-0, prefix-1, ...). Ops still in flight on an old key complete
// there; a key is never used again once left. A bound <= 0 never moves
// on.
type rotatingKey struct {
	prefix             string
	maxOps, maxUnknown int

	mu           sync.Mutex
	n            int // index of the current key
	ops, unknown int // on the current key
}

func (k *rotatingKey) key() string { return fmt.Sprintf("%s-%d", k.prefix, k.n) }

// next returns the key of an op about to be emitted, and counts it.
func (k *rotatingKey) next(generator.Context) string {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.maxOps > 0 && k.ops >= k.maxOps {
		k.move()
	}
	k.ops++
	return k.key()
}

// completed counts an op of unknown outcome on the current key; ops on a
// key already left do not count.
func (k *rotatingKey) completed(key string, typ history.Type) {
	if typ != history.Info {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if key != k.key() {
		return
	}
	k.unknown++
	if k.maxUnknown > 0 && k.unknown >= k.maxUnknown {
		k.move()
	}
}

func (k *rotatingKey) move() { k.n, k.ops, k.unknown = k.n+1, 0, 0 }

// wrap returns g with the key's completion counting in front of g's own
// Update.
func (k *rotatingKey) wrap(g generator.Generator) generator.Generator {
	return &rotating{k: k, g: g}
}

type rotating struct {
	k *rotatingKey
	g generator.Generator
}

func (r *rotating) Next(ctx generator.Context) generator.Step { return r.g.Next(ctx) }

func (r *rotating) Update(ctx generator.Context, op generator.Op, c generator.Completion) {
	r.k.completed(op.Key, c.Type)
	if u, ok := r.g.(generator.Updater); ok {
		u.Update(ctx, op, c)
	}
}
