package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/faultline/faultline/lazyfs"
	"github.com/faultline/faultline/store"
	"github.com/faultline/faultline/store/client"
)

// BenchmarkLazyFS measures what the power fault's filesystem costs the
// store: 64 clients writing, with every node's data directory on the
// disk (fs=none) or on a lazyfs mount served by this process
// (fs=lazyfs), one after the other in the same run. -count interleaves
// the two.
//
//	go test -run '^$' -bench LazyFS -benchtime 3s -count 3 ./store/bench
func BenchmarkLazyFS(b *testing.B) {
	if err := lazyfs.Available(); err != nil {
		b.Skipf("FUSE is not usable here: %v", err)
	}
	for _, mode := range store.Modes {
		for _, fs := range []string{"none", "lazyfs"} {
			b.Run(fmt.Sprintf("%s/fs=%s", mode, fs), func(b *testing.B) {
				dir := b.TempDir()
				if fs == "lazyfs" {
					mountNodes(b, dir, 3)
				}
				c := startProcs(b, mode, 3, dir)
				populate(b, c)
				b.Run("write/clients=64", func(b *testing.B) { run(b, c, "write", 64) })
			})
		}
	}
}

// mountNodes mounts dir/<id> over dir/<id>.disk for n nodes, unmounted
// when the benchmark ends (after the nodes stop: cleanups run last in,
// first out).
func mountNodes(b *testing.B, dir string, n int) {
	b.Helper()
	for i := 1; i <= n; i++ {
		mnt := filepath.Join(dir, fmt.Sprintf("n%d", i))
		backing := mnt + ".disk"
		for _, d := range []string{mnt, backing} {
			if err := os.Mkdir(d, 0o755); err != nil {
				b.Fatal(err)
			}
		}
		fs, err := lazyfs.Mount(backing, mnt, lazyfs.Options{})
		if err != nil {
			b.Skipf("cannot mount FUSE here: %v", err)
		}
		b.Cleanup(func() {
			if err := fs.Unmount(); err != nil {
				b.Error(err)
			}
		})
	}
}

// populate writes every key once, so that writes overwrite.
func populate(b *testing.B, c *procCluster) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := client.New(client.Config{Endpoints: c.addrs, Timeout: 10 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < keys; i++ {
		if err := retry(ctx, func() error { return cl.Write(ctx, key(i), "init") }); err != nil {
			b.Fatalf("populate: %v", err)
		}
	}
}
