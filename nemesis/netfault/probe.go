package netfault

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"time"

	"github.com/vishvananda/netns"
)

// Probe opens a TCP connection to addr from inside ns and closes it. It
// returns nil when the connection was established within timeout, and the
// dial error otherwise (a dropped SYN shows as a timeout).
func Probe(ns Namespace, addr string, timeout time.Duration) error {
	if ns == "" {
		return dial(addr, timeout)
	}
	// The socket is created by the thread that calls socket(2), so lock a
	// thread, move it into ns, dial, and move it back. If it cannot move
	// back, leave it locked: the runtime then ends the thread with this
	// goroutine instead of reusing it.
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("probe: current network namespace: %w", err)
			return
		}
		defer orig.Close()
		target, err := netns.GetFromPath(string(ns))
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("probe: open %s: %w", ns, err)
			return
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("probe: enter %s: %w", ns, explainPerm(err))
			return
		}
		derr := dial(addr, timeout)
		if err := netns.Set(orig); err != nil {
			errc <- derr
			return // thread stays locked and dies with the goroutine
		}
		runtime.UnlockOSThread()
		errc <- derr
	}()
	return <-errc
}

func dial(addr string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return c.Close()
}
