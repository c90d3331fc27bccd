package node_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/store"
	"github.com/faultline/faultline/store/client"
	"github.com/faultline/faultline/store/internal/enginetest"
	"github.com/faultline/faultline/store/node"
)

// A register per key, for porcupine: reads, writes and cas, where an op
// of unknown outcome may or may not have taken effect.
type regInput struct {
	Op, Key, Value, Expected string
}

type regOutput struct {
	Kind  string // ok, mismatch, unknown
	Value string
	Found bool
}

// regOp is one operation of the runs below: Return is math.MaxInt64 for
// an outcome unknown.
type regOp struct {
	Client       int
	Input        regInput
	Output       regOutput
	Call, Return int64
}

// checkLinearizable judges ops with faultline's linearizability checker,
// as history events: its search is bounded in memory and decides the
// runs below in well under a second, where raw Porcupine could take its
// whole minute on a loaded machine (the writes of unknown outcome).
func checkLinearizable(t *testing.T, ops []regOp) checkers.Result {
	t.Helper()
	str := func(v string) json.RawMessage { b, _ := json.Marshal(v); return b }
	var events []history.Event
	for _, op := range ops {
		inv := history.Event{Time: op.Call, Process: op.Client, Type: history.Invoke, F: op.Input.Op, Key: op.Input.Key, Value: history.Null}
		done := inv
		switch op.Input.Op {
		case "write":
			inv.Value = str(op.Input.Value)
		case "cas":
			inv.Value, _ = json.Marshal([]string{op.Input.Expected, op.Input.Value})
		}
		done.Value = inv.Value
		switch op.Output.Kind {
		case "ok":
			done.Type, done.Time = history.OK, op.Return
			if op.Input.Op == "read" && op.Output.Found {
				done.Value = str(op.Output.Value)
			}
		case "mismatch":
			done.Type, done.Time, done.Error = history.Fail, op.Return, history.ErrorMismatch
		default:
			// Unknown: the client went on to its next op, which began
			// after this one's error; the completion's time says nothing
			// more (info may take effect at any later time).
			done.Type, done.Time, done.Error = history.Info, op.Call+1, "unknown"
		}
		events = append(events, inv, done)
	}
	// At equal times invocations first: the history's order decides ties,
	// and two ops whose ends share a nanosecond are concurrent.
	sort.SliceStable(events, func(i, j int) bool {
		a, b := events[i], events[j]
		if a.Time != b.Time {
			return a.Time < b.Time
		}
		return a.Type == history.Invoke && b.Type != history.Invoke
	})
	for i := range events {
		events[i].Index = int64(i)
	}
	c, err := checkers.New("linearizable", checkers.Options{Timeout: time.Minute})
	require.NoError(t, err)
	return c.Check(context.Background(), events)
}

// Concurrent reads, writes and cas through every node while a nemesis
// isolates one node after another: the history must be linearizable.
// Writes and cas of unknown outcome stay in the history with no return
// (they may take effect at any later time); refused ops and failed reads
// had no effect and are left out. With the stale-reads fault the same
// run must be caught (isolated nodes keep serving old values), which
// shows the run has teeth.
func TestStrongLinearizableUnderPartitions(t *testing.T) {
	for _, tc := range []struct {
		name   string
		faults store.Faults
		want   checkers.Validity
	}{
		{"correct", store.Faults{}, checkers.Valid},
		{"stale-reads", store.Faults{store.StaleReads: true}, checkers.Invalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, counts := partitionRun(t, tc.faults)
			require.Equal(t, tc.want, res.Valid, "checker verdict (%s); ops: %v", res.Reason, counts)
		})
	}
}

func partitionRun(t *testing.T, faults store.Faults) (checkers.Result, map[string]int) {
	var mu sync.Mutex
	proxies := map[string]*enginetest.Proxy{}
	c := startCluster(t, node.ClusterConfig{Faults: faults, PeerAddr: func(from, to, addr string) string {
		mu.Lock()
		defer mu.Unlock()
		p := enginetest.NewProxy(t, addr)
		proxies[from+">"+to] = p
		return p.Addr()
	}})
	waitLeader(t, c)
	addrs := c.ClientAddrs()
	ids := c.IDs()
	start := time.Now()
	now := func() int64 { return int64(time.Since(start)) }

	var hmu sync.Mutex
	var ops []regOp
	var counts = map[string]int{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(w)))
			cl, err := client.New(client.Config{Endpoints: addrs, ID: fmt.Sprintf("lin%d", w), Timeout: 3 * time.Second})
			if err != nil {
				t.Error(err)
				return
			}
			cl.Use(w % len(addrs))
			last := map[string]string{}
			// Each op of unknown outcome multiplies the checker's search:
			// after a few, a client only reads.
			unknownBudget := 8
			for seq := 0; ; seq++ {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("k%d", rng.Intn(8)) // many keys: small partitions for the checker
				in := regInput{Key: key, Value: fmt.Sprintf("w%d-%d", w, seq)}
				var out regOutput
				call := now()
				var err error
				switch r := rng.Intn(10); {
				case r < 5 || unknownBudget == 0:
					in.Op = "read"
					out.Value, out.Found, err = cl.Read(context.Background(), key)
					in.Value = ""
				case r < 8:
					in.Op = "write"
					err = cl.Write(context.Background(), key, in.Value)
				default:
					in.Op = "cas"
					in.Expected = last[key]
					err = cl.CAS(context.Background(), key, in.Expected, in.Value)
				}
				ret := now()
				var na *client.NotAppliedError
				var unk *client.UnknownError
				switch {
				case err == nil:
					out.Kind = "ok"
					if in.Op == "read" {
						last[key] = out.Value
					} else {
						last[key] = in.Value
					}
				case client.IsMismatch(err):
					out.Kind = "mismatch"
				case errAs(err, &na) || in.Op == "read":
					cl.Use(rng.Intn(len(addrs)))
					hmu.Lock()
					counts[in.Op+" not applied"]++
					hmu.Unlock()
					continue // no effect
				case errAs(err, &unk):
					out.Kind, ret = "unknown", math.MaxInt64
					unknownBudget--
					cl.Use(rng.Intn(len(addrs)))
				default:
					t.Errorf("unclassified error %T %v", err, err)
					return
				}
				hmu.Lock()
				counts[in.Op+" "+out.Kind]++
				ops = append(ops, regOp{Client: w, Input: in, Call: call, Output: out, Return: ret})
				hmu.Unlock()
			}
		}(w)
	}

	rng := rand.New(rand.NewSource(1))
	for round := 0; round < 7; round++ {
		time.Sleep(600 * time.Millisecond)
		victim := ""
		if round%3 != 2 {
			victim = ids[rng.Intn(len(ids))]
		}
		mu.Lock()
		for k, p := range proxies {
			p.Heal()
			if victim != "" && (k[:len(victim)+1] == victim+">" || k[len(k)-len(victim)-1:] == ">"+victim) {
				p.Cut()
			}
		}
		mu.Unlock()
	}
	mu.Lock()
	for _, p := range proxies {
		p.Heal()
	}
	mu.Unlock()
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()

	hmu.Lock()
	defer hmu.Unlock()
	t.Logf("%d operations in the history: %v", len(ops), counts)
	require.GreaterOrEqual(t, counts["read ok"], 20, "reads should succeed between faults")
	require.GreaterOrEqual(t, counts["write ok"], 5, "writes should succeed between faults")
	return checkLinearizable(t, ops), counts
}

// The conversion above keeps what the checker needs to catch a stale
// read: a passing run above means something.
func TestRegisterModelCatchesStaleRead(t *testing.T) {
	h := []regOp{
		{Client: 0, Input: regInput{Op: "write", Key: "a", Value: "1"}, Call: 0, Output: regOutput{Kind: "ok"}, Return: 10},
		{Client: 1, Input: regInput{Op: "write", Key: "a", Value: "2"}, Call: 20, Output: regOutput{Kind: "ok"}, Return: 30},
		{Client: 2, Input: regInput{Op: "read", Key: "a"}, Call: 40, Output: regOutput{Kind: "ok", Value: "1", Found: true}, Return: 50},
	}
	require.Equal(t, checkers.Invalid, checkLinearizable(t, h).Valid)
	h[2].Output = regOutput{Kind: "ok", Value: "2", Found: true}
	require.Equal(t, checkers.Valid, checkLinearizable(t, h).Valid)
	// An unknown write may surface later.
	h = append(h, regOp{Client: 3, Input: regInput{Op: "write", Key: "a", Value: "3"}, Call: 35, Output: regOutput{Kind: "unknown"}, Return: math.MaxInt64},
		regOp{Client: 2, Input: regInput{Op: "read", Key: "a"}, Call: 60, Output: regOutput{Kind: "ok", Value: "3", Found: true}, Return: 70})
	require.Equal(t, checkers.Valid, checkLinearizable(t, h).Valid)
	// A cas that found its expected value absent is a mismatch.
	h = append(h, regOp{Client: 4, Input: regInput{Op: "cas", Key: "b", Expected: "1", Value: "2"}, Call: 80, Output: regOutput{Kind: "mismatch"}, Return: 90})
	require.Equal(t, checkers.Valid, checkLinearizable(t, h).Valid)
}
