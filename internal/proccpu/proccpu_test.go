package proccpu

import (
	"os"
	"testing"
	"time"
)

// A process that spins shows CPU time; one that does not exist shows none.
func TestOf(t *testing.T) {
	start := Of(os.Getpid())
	deadline := time.Now().Add(300 * time.Millisecond)
	for x := 0; time.Now().Before(deadline); x++ {
		_ = x * x
	}
	if got := Of(os.Getpid()); got <= start {
		t.Fatalf("CPU time did not grow while spinning: %v then %v", start, got)
	}
	if got := Of(1 << 30); got != 0 {
		t.Fatalf("a pid that does not exist used %v", got)
	}
}
