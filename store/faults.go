package store

import (
	"fmt"
	"sort"
	"strings"
)

// Fault is a deliberate-fault switch: a bug the store carries on purpose,
// off by default, that the harness must catch.
type Fault string

// The deliberate faults.
const (
	// StaleReads: strong mode serves reads locally, without the
	// leadership check (linearizability checker must catch it under
	// partitions).
	StaleReads Fault = "stale-reads"
	// AckBeforeFsync: writes are acknowledged before they are durable
	// (acknowledged writes lost after kill -9).
	AckBeforeFsync Fault = "ack-before-fsync"
	// LazyFsync: the durable layer writes at once, fsyncs every few
	// seconds and acknowledges before the fsync (acknowledged writes
	// lost after a power loss, never after kill -9).
	LazyFsync Fault = "lazy-fsync"
	// SkipDeps: causal mode applies remote writes without waiting for
	// their dependencies (causal checker must catch it).
	SkipDeps Fault = "skip-deps"
)

// AllFaults lists the valid faults, for usage messages.
var AllFaults = []Fault{StaleReads, AckBeforeFsync, LazyFsync, SkipDeps}

// Faults is a set of switched-on faults.
type Faults map[Fault]bool

// On reports whether f is switched on.
func (fs Faults) On(f Fault) bool { return fs[f] }

// List returns the switched-on faults, sorted.
func (fs Faults) List() []string {
	out := make([]string, 0, len(fs))
	for f, on := range fs {
		if on {
			out = append(out, string(f))
		}
	}
	sort.Strings(out)
	return out
}

// ParseFaults parses a comma-separated list of fault names ("" = none).
func ParseFaults(s string) (Faults, error) {
	fs := Faults{}
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		ok := false
		for _, f := range AllFaults {
			if string(f) == name {
				fs[f], ok = true, true
			}
		}
		if !ok {
			return nil, fmt.Errorf("unknown fault %q: valid faults are stale-reads, ack-before-fsync, lazy-fsync, skip-deps", name)
		}
	}
	return fs, nil
}
