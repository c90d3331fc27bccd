package harness

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/faultline/faultline/nemesis"
)

// target adapts a running Cluster and its System into the nemesis's
// Target: cluster faults go to the backend, clock skew and leader lookup
// to the system when it supports them. The nemesis defines Target itself
// (it cannot import harness, which imports it), by node id rather than
// Node, because its schedules are pure and know only ids.
type target struct {
	c   Cluster
	sys System
}

var _ nemesis.Target = target{}

func (t target) NodeIDs() []string {
	var ids []string
	for _, n := range t.c.Nodes() {
		ids = append(ids, n.ID)
	}
	return ids
}

func (t target) Kill(ctx context.Context, id string) error    { return t.c.Kill(ctx, id) }
func (t target) Restart(ctx context.Context, id string) error { return t.c.Restart(ctx, id) }
func (t target) Pause(ctx context.Context, id string) error   { return t.c.Pause(ctx, id) }
func (t target) Resume(ctx context.Context, id string) error  { return t.c.Resume(ctx, id) }
func (t target) Partition(ctx context.Context, g nemesis.Grudge) error {
	return t.c.Partition(ctx, g)
}
func (t target) Packet(ctx context.Context, id string, f nemesis.PacketFault) error {
	return t.c.Packet(ctx, id, f)
}

func (t target) LoseUnsynced(ctx context.Context, id string) error {
	l, ok := t.c.(UnsyncedLoser)
	if !ok {
		return fmt.Errorf("this cluster cannot lose un-fsynced writes: it was not started on the lazy filesystem (ClusterSpec.LazyFS)")
	}
	return l.LoseUnsynced(ctx, id)
}

func (t target) node(id string) (Node, error) {
	for _, n := range t.c.Nodes() {
		if n.ID == id {
			return n, nil
		}
	}
	return Node{}, fmt.Errorf("no node %q in the cluster", id)
}

func (t target) SetClockOffset(ctx context.Context, id string, offset time.Duration) error {
	cs, ok := t.sys.(ClockSkewer)
	if !ok {
		return fmt.Errorf("system %s cannot skew a node's clock (it does not implement harness.ClockSkewer): %w", t.sys.Name(), errors.ErrUnsupported)
	}
	n, err := t.node(id)
	if err != nil {
		return err
	}
	return cs.SetClockOffset(ctx, n, offset)
}

func (t target) Leader(ctx context.Context) (string, error) {
	lf, ok := t.sys.(LeaderFinder)
	if !ok {
		return "", fmt.Errorf("system %s has no leader to find (it does not implement harness.LeaderFinder)", t.sys.Name())
	}
	return lf.Leader(ctx, t.c.Nodes())
}
