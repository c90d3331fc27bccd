package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/internal/testbin"
	"github.com/faultline/faultline/store"
	"github.com/faultline/faultline/store/client"
)

// A three-node strong cluster with the default Raft timing keeps its
// leader for 60 s of writes with no fault while every core is kept busy
// by spinning goroutines in this process. With the former timing (250 ms
// leader lease) a loaded 2-core machine saw the leader step down in such
// a run. Skipped with -short: it is a minute of burnt CPU.
func TestStrongKeepsLeaderUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("a minute of full CPU load; run without -short")
	}
	bin := testbin.Storenode(t)
	dir := t.TempDir()
	ports := freePorts(t, 6)
	var procs []*proc
	var peerList, endpoints []string
	for i := range 3 {
		p := &proc{id: fmt.Sprintf("n%d", i+1), client: ports[i], peer: ports[3+i],
			data: filepath.Join(dir, fmt.Sprintf("n%d", i+1)), log: filepath.Join(dir, fmt.Sprintf("n%d.log", i+1))}
		procs = append(procs, p)
		peerList = append(peerList, p.id+"="+p.peer)
		endpoints = append(endpoints, p.client)
	}
	for _, p := range procs {
		p.start(t, bin, strings.Join(peerList, ","))
	}
	waitWritable(t, endpoints)
	status := func(p *proc) store.Status {
		resp, err := http.Get("http://" + p.client + store.PathStatus)
		require.NoError(t, err)
		defer resp.Body.Close()
		var st store.Status
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&st))
		return st
	}
	first := status(procs[0])
	require.NotEmpty(t, first.Leader)
	require.Equal(t, store.DefaultRaftTiming(), *first.Raft, "the status reports the timing")

	stop := make(chan struct{})
	var burners sync.WaitGroup
	for range runtime.NumCPU() {
		burners.Add(1)
		go func() {
			defer burners.Done()
			x := 0
			for {
				select {
				case <-stop:
					return
				default:
					for i := range 1 << 16 {
						x += i
					}
				}
			}
		}()
	}
	var ok, failed atomic.Int64
	var writers sync.WaitGroup
	deadline := time.Now().Add(60 * time.Second)
	for w := range 8 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			c, err := client.New(client.Config{Endpoints: endpoints, Timeout: 5 * time.Second})
			if err != nil {
				t.Error(err)
				return
			}
			c.Use(w % 3)
			for i := 0; time.Now().Before(deadline); i++ {
				if c.Write(context.Background(), fmt.Sprintf("k%d", i%50), fmt.Sprint(i)) == nil {
					ok.Add(1)
				} else {
					failed.Add(1)
				}
			}
		}()
	}
	writers.Wait()
	close(stop)
	burners.Wait()
	t.Logf("%d writes ok, %d not, in 60 s under full CPU load", ok.Load(), failed.Load())
	for _, p := range procs {
		st := status(p)
		assert.Equal(t, first.Leader, st.Leader, "%s: the leader changed", p.id)
		assert.Equal(t, first.Term, st.Term, "%s: a new term began (an election)", p.id)
	}
	assert.Zero(t, failed.Load(), "writes failed without a fault")
}
