package node_test

import (
	"context"
	"fmt"
	"math"
	"math/rand"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/stretchr/testify/require"

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

type regState struct {
	Value string
	Found bool
}

var registerModel = porcupine.NondeterministicModel{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range h {
			k := op.Input.(regInput).Key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		sort.Strings(keys)
		var out [][]porcupine.Operation
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() []interface{} { return []interface{}{regState{}} },
	Step: func(s, in, out interface{}) []interface{} {
		st, i, o := s.(regState), in.(regInput), out.(regOutput)
		next := regState{Value: i.Value, Found: true}
		switch i.Op {
		case "read":
			if o.Found == st.Found && (!o.Found || o.Value == st.Value) {
				return []interface{}{st}
			}
			return nil
		case "write":
			return []interface{}{next}
		case "cas":
			match := st.Found && st.Value == i.Expected
			switch {
			case o.Kind == "ok" && match:
				return []interface{}{next}
			case o.Kind == "mismatch" && !match:
				return []interface{}{st}
			case o.Kind == "unknown" && match:
				return []interface{}{next, st}
			case o.Kind == "unknown":
				return []interface{}{st}
			}
			return nil
		}
		return nil
	},
	Equal: func(a, b interface{}) bool { return a.(regState) == b.(regState) },
	DescribeOperation: func(in, out interface{}) string {
		return fmt.Sprintf("%+v -> %+v", in, out)
	},
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
		want   porcupine.CheckResult
	}{
		{"correct", store.Faults{}, porcupine.Ok},
		{"stale-reads", store.Faults{store.StaleReads: true}, porcupine.Illegal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, counts := partitionRun(t, tc.faults)
			require.Equal(t, tc.want, res, "checker verdict; ops: %v", counts)
		})
	}
}

func partitionRun(t *testing.T, faults store.Faults) (porcupine.CheckResult, map[string]int) {
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
	var history []porcupine.Operation
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
				history = append(history, porcupine.Operation{ClientId: w, Input: in, Call: call, Output: out, Return: ret})
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
	t.Logf("%d operations in the history: %v", len(history), counts)
	require.GreaterOrEqual(t, counts["read ok"], 20, "reads should succeed between faults")
	require.GreaterOrEqual(t, counts["write ok"], 5, "writes should succeed between faults")
	return porcupine.CheckOperationsTimeout(registerModel.ToModel(), history, 60*time.Second), counts
}

// The checker used above does catch a stale read: a sanity check of the
// model, so a passing test above means something.
func TestRegisterModelCatchesStaleRead(t *testing.T) {
	h := []porcupine.Operation{
		{ClientId: 0, Input: regInput{Op: "write", Key: "a", Value: "1"}, Call: 0, Output: regOutput{Kind: "ok"}, Return: 10},
		{ClientId: 1, Input: regInput{Op: "write", Key: "a", Value: "2"}, Call: 20, Output: regOutput{Kind: "ok"}, Return: 30},
		{ClientId: 2, Input: regInput{Op: "read", Key: "a"}, Call: 40, Output: regOutput{Kind: "ok", Value: "1", Found: true}, Return: 50},
	}
	require.Equal(t, porcupine.Illegal, porcupine.CheckOperationsTimeout(registerModel.ToModel(), h, 10*time.Second))
	h[2].Output = regOutput{Kind: "ok", Value: "2", Found: true}
	require.Equal(t, porcupine.Ok, porcupine.CheckOperationsTimeout(registerModel.ToModel(), h, 10*time.Second))
	// An unknown write may surface later.
	h = append(h, porcupine.Operation{ClientId: 3, Input: regInput{Op: "write", Key: "a", Value: "3"}, Call: 35, Output: regOutput{Kind: "unknown"}, Return: math.MaxInt64},
		porcupine.Operation{ClientId: 2, Input: regInput{Op: "read", Key: "a"}, Call: 60, Output: regOutput{Kind: "ok", Value: "3", Found: true}, Return: 70})
	require.Equal(t, porcupine.Ok, porcupine.CheckOperationsTimeout(registerModel.ToModel(), h, 10*time.Second))
}
