package harness_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/generator"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/store"
)

// oneKey writes fresh values to one key and reads it back, alternately.
type oneKey struct{ n atomic.Int64 }

func (g *oneKey) Next(generator.Context) generator.Step {
	i := g.n.Add(1)
	if i%2 == 0 {
		return generator.Emitting(generator.Op{F: history.FRead, Key: "mine", Value: history.Null, Node: -1})
	}
	return generator.Emitting(generator.Op{F: history.FWrite, Key: "mine", Value: json.RawMessage(strconv.FormatInt(i, 10)), Node: -1})
}

// ownWorkload is a workload of the user's own. With checkers, it learns
// the run through ForRun (it records the Env in seen).
type ownWorkload struct {
	g        oneKey
	checkers []checkers.Checker
	seen     *harness.Env
}

func (w *ownWorkload) Name() string                   { return "one-key" }
func (w *ownWorkload) Checkers() []checkers.Checker   { return w.checkers }
func (w *ownWorkload) Generator() generator.Generator { return &w.g }
func (w *ownWorkload) HomeNode(worker int) int        { return worker % 3 }
func (w *ownWorkload) Keys() []string                 { return []string{"mine"} }
func (w *ownWorkload) FinalReads() generator.Generator {
	var ops []generator.Op
	for n := range 3 {
		ops = append(ops, generator.Op{F: history.FRead, Key: "mine", Value: history.Null, Node: n, Final: true})
	}
	return generator.Ops(ops...)
}

// agree is a checker of the user's own: the final reads of every node
// returned the same value.
type agree struct{}

func (agree) Name() string { return "final-reads-agree" }
func (agree) Check(_ context.Context, events []history.Event) checkers.Result {
	res := checkers.Result{Checker: "final-reads-agree", Valid: checkers.Invalid}
	seen := map[string]bool{}
	n := 0
	for _, op := range history.Pair(events) {
		if op.Final && op.Type == history.OK {
			seen[history.Canonical(op.Output)] = true
			n++
		}
	}
	if n == 3 && len(seen) == 1 {
		res.Valid = checkers.Valid
	} else {
		res.Anomalies = []checkers.Anomaly{{Name: "disagreement", Explanation: "the nodes' final reads differ or are missing"}}
	}
	return res
}

// killOnce kills n2 once and restarts it on heal.
type killOnce struct{ on atomic.Bool }

func (k *killOnce) Run(ctx context.Context, t nemesis.Target, rec nemesis.Recorder) error {
	select {
	case <-ctx.Done():
		return nil
	case <-time.After(500 * time.Millisecond):
	}
	if err := t.Kill(ctx, "n2"); err != nil {
		return err
	}
	k.on.Store(true)
	_, err := rec.Record(history.Event{Process: -1, Type: history.Info, F: "start-kill", Value: json.RawMessage(`{"nodes":["n2"]}`)})
	<-ctx.Done()
	return err
}

func (k *killOnce) Heal(ctx context.Context, t nemesis.Target, rec nemesis.Recorder) error {
	if !k.on.Load() {
		return nil
	}
	if err := t.Restart(ctx, "n2"); err != nil {
		return err
	}
	k.on.Store(false)
	_, err := rec.Record(history.Event{Process: -1, Type: history.Info, F: "stop-kill", Value: json.RawMessage(`{"nodes":["n2"]}`)})
	return err
}

func (k *killOnce) Name() string { return "kill-once" }

func (k *killOnce) Active() string {
	if k.on.Load() {
		return "kill n2"
	}
	return ""
}

func (w *ownWorkload) ForRun(env harness.Env) (harness.Workload, error) {
	if w.seen == nil {
		return w, nil
	}
	*w.seen = env
	return &ownWorkload{checkers: w.checkers}, nil
}

// A test made of the user's own values: workload, nemesis and checker.
func TestRunCustomParts(t *testing.T) {
	lin, err := checkers.New("linearizable", checkers.Options{})
	require.NoError(t, err)
	var env harness.Env
	tt, _ := newTest(t, store.Strong, &ownWorkload{checkers: []checkers.Checker{lin, agree{}}, seen: &env})
	tt.Nemesis = &killOnce{}
	res, err := harness.Run(context.Background(), tt)
	require.NoError(t, err)
	assert.Equal(t, harness.Env{Model: "linearizable", CAS: true, Workers: 5, Nodes: 3, Seed: 42}, env, "ForRun learnt the run")
	require.True(t, res.Checked, "%v", res.CheckErr)
	assert.Equal(t, []string{"linearizable", "final-reads-agree"}, res.Checkers, "the workload's checkers")
	require.Len(t, res.Summary.Results, 2)
	assert.Equal(t, "final-reads-agree", res.Summary.Results[1].Checker)
	assert.Equal(t, checkers.Valid, res.Summary.Valid, "%+v", res.Summary)
	assert.Equal(t, filepath.Join(tt.RunsDir, "linearizable-one-key-kill-once"), filepath.Dir(res.Dir))

	h, err := history.ReadFile(filepath.Join(res.Dir, "history.jsonl"))
	require.NoError(t, err)
	var fs []string
	keys := map[string]bool{}
	for _, e := range h.Events {
		if e.Process == -1 {
			fs = append(fs, e.F)
		} else {
			keys[e.Key] = true
		}
	}
	assert.Equal(t, []string{"start-kill", "stop-kill"}, fs, "the custom nemesis ran and healed")
	assert.Equal(t, map[string]bool{"mine": true}, keys, "only the custom workload's key")
}
