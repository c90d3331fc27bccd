package docker

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/refstore"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/internal/testbin"
	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/store"
)

// target adapts a docker Cluster and the reference store into a
// nemesis.Target, as the harness runner does.
type target struct {
	*Cluster
	sys *refstore.System
}

func (t target) NodeIDs() []string {
	var ids []string
	for _, n := range t.Nodes() {
		ids = append(ids, n.ID)
	}
	return ids
}

func (t target) node(id string) harness.Node {
	for _, n := range t.Nodes() {
		if n.ID == id {
			return n
		}
	}
	return harness.Node{}
}

func (t target) SetClockOffset(ctx context.Context, id string, o time.Duration) error {
	return t.sys.SetClockOffset(ctx, t.node(id), o)
}

func (t target) Leader(ctx context.Context) (string, error) { return t.sys.Leader(ctx, t.Nodes()) }

// The nemesis against real containers: every fault it starts takes
// effect without error, and after Heal every node runs, answers, has a
// zero clock offset, drops nothing, and every link works.
func TestNemesisOnRealContainersHeals(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	sys, err := refstore.New(testbin.Storenode(t), store.Strong, nil)
	require.NoError(t, err)
	c := startCluster(t, newBackend(t), sys, 3)
	tg := target{Cluster: c, sys: sys}

	n := nemesis.New(nemesis.Config{
		Faults:   []string{"partition", "kill", "pause", "clock", "packet"},
		Packets:  []string{"loss"}, // the only packet fault a kernel without netem takes
		Interval: 400 * time.Millisecond,
		Seed:     11,
	})
	path := filepath.Join(t.TempDir(), "history.jsonl")
	rec, err := history.NewRecorder(path)
	require.NoError(t, err)
	defer rec.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, n.Run(ctx, tg, rec), "every fault must apply on real containers")
	hctx, hcancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer hcancel()
	require.NoError(t, n.Heal(hctx, tg, rec))
	require.NoError(t, rec.Close())

	res, err := history.ReadFile(path)
	require.NoError(t, err)
	started := map[string]bool{}
	for _, e := range res.Events {
		assert.Empty(t, e.Error, "%s failed", e.F)
		if name, ok := strings.CutPrefix(e.F, "start-"); ok {
			started[name] = true
		}
	}
	assert.GreaterOrEqual(t, len(started), 2, "several kinds of fault ran: %v", started)
	t.Logf("%d nemesis events; faults started: %v", len(res.Events), started)

	// Healed for real.
	require.NoError(t, c.waitReady(hctx))
	for _, nd := range c.Nodes() {
		running, paused, _, err := c.state(hctx, c.byID[nd.ID])
		require.NoError(t, err)
		assert.True(t, running && !paused, "%s must run, unpaused", nd.ID)
		assert.Zero(t, statusOf(hctx, t, nd).ClockOffsetNS, "%s clock", nd.ID)
		drops, err := c.Drops(hctx, nd.ID)
		require.NoError(t, err)
		assert.Empty(t, drops, "%s still drops packets", nd.ID)
	}
	for pair, ok := range linkMatrix(t, c) {
		assert.True(t, ok, "after heal, link %s -> %s must work", pair[0], pair[1])
	}
}

// A fault the cluster refuses at run time — here a pause of containers
// stopped behind the nemesis's back, docker's "is not running" — is a fail
// event with docker's reason, and the nemesis goes on (the run is not a
// harness failure).
func TestNemesisRecordsARefusedFaultAndGoesOn(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	sys, err := refstore.New(testbin.Storenode(t), store.Strong, nil)
	require.NoError(t, err)
	c := startCluster(t, newBackend(t), sys, 3)
	tg := target{Cluster: c, sys: sys}
	ctx := context.Background()
	for _, nd := range c.Nodes() {
		require.NoError(t, c.Kill(ctx, nd.ID))
	}

	n := nemesis.New(nemesis.Config{Faults: []string{"pause"}, Interval: 200 * time.Millisecond, Seed: 3})
	path := filepath.Join(t.TempDir(), "history.jsonl")
	rec, err := history.NewRecorder(path)
	require.NoError(t, err)
	defer rec.Close()
	rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	require.NoError(t, n.Run(rctx, tg, rec), "a refused fault does not end the run")
	require.NoError(t, n.Heal(ctx, tg, rec), "nothing took effect, nothing to undo")
	require.NoError(t, rec.Close())

	res, err := history.ReadFile(path)
	require.NoError(t, err)
	require.NotEmpty(t, res.Events)
	for _, e := range res.Events {
		assert.Equal(t, "start-pause", e.F)
		assert.Equal(t, history.Fail, e.Type)
		assert.Contains(t, e.Error, "is not running")
	}
	assert.Equal(t, len(res.Events), n.Stats().Failed)
	assert.Greater(t, len(res.Events), 3, "the nemesis kept trying")
	assert.Empty(t, history.Faults(res.Events), "a fault that took effect nowhere has no interval")
}
