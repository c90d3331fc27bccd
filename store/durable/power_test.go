package durable_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/testbin"
	"github.com/faultline/faultline/lazyfs"
	"github.com/faultline/faultline/store/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPowerLoss runs a real storenode on a lazyfs mount (a real FUSE
// filesystem that keeps what is not fsynced apart), acknowledges writes,
// SIGKILLs it and, for a power loss, drops what the filesystem holds
// un-fsynced before restarting it. Without a fault nothing acknowledged
// may be lost either way; with lazy-fsync a kill loses nothing (the page
// cache survives it) and a power loss must lose something.
func TestPowerLoss(t *testing.T) {
	if err := lazyfs.Available(); err != nil {
		t.Skipf("FUSE is not usable here: %v", err)
	}
	bin := testbin.Storenode(t)
	tests := []struct {
		mode, fault string
		power       bool
		wantLoss    bool
	}{
		{"strong", "", true, false},
		{"causal", "", true, false},
		{"eventual", "", true, false},
		{"eventual", "lazy-fsync", false, false},
		{"eventual", "lazy-fsync", true, true},
		{"causal", "lazy-fsync", true, true},
	}
	for _, tt := range tests {
		name := tt.mode + "/" + tt.fault + "/kill"
		if tt.power {
			name = tt.mode + "/" + tt.fault + "/power"
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			backing, mnt := filepath.Join(dir, "disk"), filepath.Join(dir, "mnt")
			require.NoError(t, os.Mkdir(backing, 0o755))
			require.NoError(t, os.Mkdir(mnt, 0o755))
			fs, err := lazyfs.Mount(backing, mnt, lazyfs.Options{})
			if err != nil {
				t.Skipf("cannot mount FUSE here: %v", err)
			}
			t.Cleanup(func() { assert.NoError(t, fs.Unmount()) })

			cmd, addr := startNode(t, bin, tt.mode, mnt, tt.fault)
			waitWritable(t, addr) // strong: the node elects itself first
			acked := writeUntilKilled(t, cmd, addr)
			require.NotEmpty(t, acked)
			held := fs.Stats()
			if tt.power {
				require.NoError(t, fs.Lose())
			}
			cmd, addr = startNode(t, bin, tt.mode, mnt, "")
			c, err := client.New(client.Config{Endpoints: []string{addr}, Timeout: 5 * time.Second})
			require.NoError(t, err)
			var lost int
			ctx := context.Background()
			for _, k := range acked {
				var v string
				var found bool
				for try := 0; ; try++ { // strong: the restarted node elects itself first
					v, found, err = c.Read(ctx, k)
					if err == nil || try == 50 {
						break
					}
					time.Sleep(100 * time.Millisecond)
				}
				require.NoError(t, err)
				if !found || v != k {
					lost++
				}
			}
			t.Logf("%d writes acknowledged, filesystem held %+v un-fsynced at the kill, %d lost", len(acked), held, lost)
			if tt.wantLoss {
				assert.NotZero(t, lost, "a power loss under lazy-fsync must lose acknowledged writes")
			} else {
				assert.Zero(t, lost, "acknowledged writes lost")
			}
		})
	}
}

// waitWritable waits until the node at addr acknowledges a write.
func waitWritable(t *testing.T, addr string) {
	t.Helper()
	c, err := client.New(client.Config{Endpoints: []string{addr}, Timeout: 2 * time.Second})
	require.NoError(t, err)
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := c.Write(context.Background(), "warm-up", "warm-up")
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the node at %s acknowledged no write within 15 s: %v", addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
