package store

import (
	"sync/atomic"
	"time"
)

// Clock is a node's skewable wall clock. Every wall-clock reading of the
// node (HLC timestamps, LWW, anything but Raft's monotonic timers) goes
// through it, so the clock nemesis can skew a node that shares the host's
// real clock (as a container does) through the admin API.
type Clock struct {
	offset atomic.Int64 // nanoseconds added to the real clock
}

// Now is the real time plus the offset.
func (c *Clock) Now() time.Time {
	return time.Now().Add(time.Duration(c.offset.Load()))
}

// Offset is the current skew.
func (c *Clock) Offset() time.Duration { return time.Duration(c.offset.Load()) }

// SetOffset sets the skew; 0 resets the clock.
func (c *Clock) SetOffset(d time.Duration) { c.offset.Store(int64(d)) }
