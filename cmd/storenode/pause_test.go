package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/internal/testbin"
	"github.com/faultline/faultline/store/client"
)

// A leader frozen with SIGSTOP while the others elect a new leader and
// take a write must not serve its old value when it thaws: reads stay
// linearizable across pauses (no leader leases).
func TestPausedLeaderServesNoStaleRead(t *testing.T) {
	bin := testbin.Storenode(t)
	dir := t.TempDir()
	ports := freePorts(t, 6)
	var procs []*proc
	var peerList, endpoints []string
	for i := 0; i < 3; i++ {
		p := &proc{id: fmt.Sprintf("n%d", i+1), client: ports[i], peer: ports[3+i],
			data: filepath.Join(dir, fmt.Sprintf("n%d", i+1)), log: filepath.Join(dir, fmt.Sprintf("n%d.log", i+1))}
		procs = append(procs, p)
		peerList = append(peerList, p.id+"="+p.peer)
		endpoints = append(endpoints, p.client)
	}
	peers := strings.Join(peerList, ",")
	for _, p := range procs {
		p.start(t, bin, peers)
	}
	waitWritable(t, endpoints)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	c, err := client.New(client.Config{Endpoints: endpoints, Timeout: 3 * time.Second})
	require.NoError(t, err)
	st, err := c.Status(ctx)
	require.NoError(t, err)
	var leader *proc
	for i, p := range procs {
		if p.id == st.Leader {
			leader = p
			c.Use(i)
		}
	}
	require.NotNil(t, leader, "status names a leader: %+v", st)
	require.NoError(t, c.Write(ctx, "k", "old"))

	require.NoError(t, leader.cmd.Process.Signal(syscall.SIGSTOP))
	t.Cleanup(func() { leader.cmd.Process.Signal(syscall.SIGCONT) })

	// The others elect a new leader and take a new write.
	var others []string
	for _, p := range procs {
		if p != leader {
			others = append(others, p.client)
		}
	}
	oc, err := client.New(client.Config{Endpoints: others, Timeout: 2 * time.Second})
	require.NoError(t, err)
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; ; i++ {
		oc.Use(i % 2)
		if err := oc.Write(ctx, "k", "new"); err == nil {
			break
		}
		require.True(t, time.Now().Before(deadline), "the majority never took the write")
		time.Sleep(100 * time.Millisecond)
	}

	// Thaw the old leader and read from it at once, and for a while.
	require.NoError(t, leader.cmd.Process.Signal(syscall.SIGCONT))
	served := 0
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); {
		v, _, err := c.Read(ctx, "k")
		if err == nil {
			served++
			require.Equal(t, "new", v, "the thawed old leader served a stale value")
		}
	}
	assert.Greater(t, served, 0, "the thawed node should serve reads again once it follows the new leader")
}
