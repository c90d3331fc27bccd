package store

import (
	"fmt"
	"sync/atomic"
	"time"
)

// MaxClockOffset bounds the skew PUT /admin/clock accepts, either way: a
// day is far beyond any skew the clock nemesis applies (minutes) and
// what NTP-less machines drift, while an offset of centuries would push
// every eventual node's hybrid clock there for good (a hybrid clock
// never goes back).
const MaxClockOffset = 24 * time.Hour

// CheckClockOffset says what is wrong with a requested skew, or nil.
func CheckClockOffset(d time.Duration) error {
	if d > MaxClockOffset || d < -MaxClockOffset {
		return fmt.Errorf("clock offset %v is out of range: at most %v either way (%d ns)", d, MaxClockOffset, int64(MaxClockOffset))
	}
	return nil
}

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
