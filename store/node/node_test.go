package node_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/store"
	"github.com/faultline/faultline/store/client"
	"github.com/faultline/faultline/store/internal/enginetest"
	"github.com/faultline/faultline/store/node"
)

func newClient(t *testing.T, addrs ...string) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{Endpoints: addrs, Timeout: 5 * time.Second})
	require.NoError(t, err)
	return c
}

func ctx5(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// Writes through any node are readable through every node, and every
// node's state machine applies them.
func TestStrongReplication(t *testing.T) {
	c := startCluster(t, node.ClusterConfig{})
	leader := waitLeader(t, c)
	addrs := c.ClientAddrs()
	cl := newClient(t, addrs...)
	ctx := ctx5(t)
	for i := range addrs {
		cl.Use(i)
		require.NoError(t, cl.Write(ctx, fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i)), "write via n%d", i+1)
	}
	require.NoError(t, cl.CAS(ctx, "k0", "v0", "v0b"))
	err := cl.CAS(ctx, "k0", "v0", "zzz")
	require.Error(t, err)
	assert.True(t, client.IsMismatch(err), "cas on a changed value: %v", err)
	err = cl.CAS(ctx, "absent", "x", "y")
	assert.True(t, client.IsMismatch(err), "cas on an absent key: %v", err)

	want := map[string]string{"k0": "v0b", "k1": "v1", "k2": "v2"}
	for i := range addrs {
		cl.Use(i)
		for k, v := range want {
			got, found, err := cl.Read(ctx, k)
			require.NoError(t, err)
			assert.True(t, found)
			assert.Equal(t, v, got, "read %s via n%d", k, i+1)
		}
		_, found, err := cl.Read(ctx, "absent")
		require.NoError(t, err)
		assert.False(t, found)
	}
	// Every node's state machine catches up (followers apply the commits
	// with the next heartbeat).
	require.Eventually(t, func() bool {
		for _, id := range c.IDs() {
			if c.Node(id).Status().Applied < c.Node(leader).Status().Applied {
				return false
			}
		}
		return true
	}, 5*time.Second, 20*time.Millisecond)

	st, err := newClient(t, addrs[0]).Status(ctx)
	require.NoError(t, err)
	assert.Equal(t, "n1", st.ID)
	assert.Equal(t, store.Strong, st.Mode)
	assert.Equal(t, leader, st.Leader)
	assert.NotZero(t, st.Term)
	assert.Empty(t, st.Faults)
}

// A retried write (same request id) applies at most once.
func TestStrongRequestIDDedup(t *testing.T) {
	c := startCluster(t, node.ClusterConfig{})
	waitLeader(t, c)
	for i, addr := range c.ClientAddrs() { // via the leader and via followers (forwarded)
		t.Run(fmt.Sprintf("via-n%d", i+1), func(t *testing.T) {
			cl := newClient(t, addr)
			ctx := ctx5(t)
			key := fmt.Sprintf("dedup-%d", i)
			idA := fmt.Sprintf("A-%d", i)
			require.NoError(t, cl.WriteWithID(ctx, idA, key, "v1"))
			require.NoError(t, cl.Write(ctx, key, "v2"))
			require.NoError(t, cl.WriteWithID(ctx, idA, key, "v1"), "the retry reports the first attempt's success")
			got, _, err := cl.Read(ctx, key)
			require.NoError(t, err)
			assert.Equal(t, "v2", got, "the retried write must not apply again")
		})
	}
}

// Stopping the leader while clients write loses no acknowledged write.
func TestStrongFailoverKeepsAckedWrites(t *testing.T) {
	c := startCluster(t, node.ClusterConfig{})
	leader := waitLeader(t, c)
	addrs := c.ClientAddrs()

	var mu sync.Mutex
	acked := map[string]string{}
	var unknown, ackedAfterStop int
	var stopped bool
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			cl, err := client.New(client.Config{Endpoints: addrs, Timeout: 2 * time.Second})
			if err != nil {
				t.Error(err)
				return
			}
			cl.Use(w % len(addrs))
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key, val := fmt.Sprintf("w%d-%d", w, i), fmt.Sprintf("v%d", i)
				err := cl.Write(context.Background(), key, val)
				mu.Lock()
				switch err.(type) {
				case nil:
					acked[key] = val
					if stopped {
						ackedAfterStop++
					}
				case *client.UnknownError:
					unknown++
				}
				mu.Unlock()
				if err != nil {
					cl.Use((w + i) % len(addrs)) // try another node
					time.Sleep(10 * time.Millisecond)
				}
			}
		}(w)
	}
	time.Sleep(500 * time.Millisecond)
	require.NoError(t, c.Stop(leader))
	mu.Lock()
	stopped = true
	mu.Unlock()
	time.Sleep(3 * time.Second)
	close(stop)
	wg.Wait()

	newLeader := waitLeader(t, c)
	assert.NotEqual(t, leader, newLeader)
	mu.Lock()
	defer mu.Unlock()
	t.Logf("acked %d writes (%d after the leader stopped), %d unknown; leader %s stopped, %s took over", len(acked), ackedAfterStop, unknown, leader, newLeader)
	require.Greater(t, len(acked), 20, "clients should keep writing")
	require.Greater(t, ackedAfterStop, 0, "writes should succeed again after the failover")

	var survivor string
	for i, id := range c.IDs() {
		if id != leader {
			survivor = addrs[i]
			break
		}
	}
	cl := newClient(t, survivor)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for k, v := range acked {
		got, found, err := cl.Read(ctx, k)
		require.NoError(t, err, "read %s", k)
		require.True(t, found, "acknowledged write %s=%s lost", k, v)
		require.Equal(t, v, got, "acknowledged write %s", k)
	}

	// The old leader comes back and catches up.
	require.NoError(t, c.Restart(ctx, leader))
	var k0, v0 string
	for k0, v0 = range acked {
		break
	}
	require.Eventually(t, func() bool {
		return c.Node(leader).Status().Applied >= c.Node(newLeader).Status().Applied
	}, 10*time.Second, 50*time.Millisecond)
	got, _, err := newClient(t, addrs[indexOf(c.IDs(), leader)]).Read(ctx, k0)
	require.NoError(t, err)
	assert.Equal(t, v0, got)
}

func indexOf(ids []string, id string) int {
	for i, x := range ids {
		if x == id {
			return i
		}
	}
	return -1
}

// With the stale-reads fault a follower cut off from the others serves
// its old value; without it, the same follower refuses instead.
func TestStaleReadsFault(t *testing.T) {
	for _, tc := range []struct {
		name   string
		faults store.Faults
	}{
		{"fault-on", store.Faults{store.StaleReads: true}},
		{"fault-off", store.Faults{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			proxies := map[string]*enginetest.Proxy{}
			c := startCluster(t, node.ClusterConfig{Faults: tc.faults, PeerAddr: func(from, to, addr string) string {
				mu.Lock()
				defer mu.Unlock()
				p := proxies[from+">"+to]
				if p == nil {
					p = enginetest.NewProxy(t, addr)
					proxies[from+">"+to] = p
				}
				return p.Addr()
			}})
			leader := waitLeader(t, c)
			addrs := c.ClientAddrs()
			ctx := ctx5(t)
			w := newClient(t, addrs[indexOf(c.IDs(), leader)])
			require.NoError(t, w.Write(ctx, "x", "old"))

			var follower string
			for _, id := range c.IDs() {
				if id != leader {
					follower = id
				}
			}
			f := newClient(t, addrs[indexOf(c.IDs(), follower)])
			require.Eventually(t, func() bool {
				v, _, err := f.Read(ctx, "x")
				return err == nil && v == "old"
			}, 5*time.Second, 20*time.Millisecond)

			st, err := f.Status(ctx)
			require.NoError(t, err)
			assert.Equal(t, tc.faults.List(), st.Faults, "status names the faults that are on")

			mu.Lock()
			for k, p := range proxies {
				if strings.HasPrefix(k, follower+">") || strings.HasSuffix(k, ">"+follower) {
					p.Cut()
				}
			}
			mu.Unlock()
			require.NoError(t, w.Write(ctx, "x", "new"), "the majority side still commits")

			short, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			got, _, err := f.Read(short, "x")
			if tc.faults.On(store.StaleReads) {
				require.NoError(t, err)
				assert.Equal(t, "old", got, "the cut-off follower serves its stale local value")
			} else {
				require.Error(t, err, "a cut-off follower must not answer a linearizable read (got %q)", got)
				var na *client.NotAppliedError
				var unk *client.UnknownError
				assert.True(t, errAs(err, &na) || errAs(err, &unk), "want a classified error, got %T %v", err, err)
			}
		})
	}
}

func errAs[T error](err error, target *T) bool {
	e, ok := err.(T)
	if ok {
		*target = e
	}
	return ok
}

// Bad input gets a 4xx with a JSON body saying what was wrong, and writes
// nothing.
func TestBadInput(t *testing.T) {
	c := startCluster(t, node.ClusterConfig{})
	waitLeader(t, c)
	base := "http://" + c.ClientAddrs()[0]
	long := strings.Repeat("k", store.MaxKeyBytes+1)
	big := strings.Repeat("v", store.MaxValueBytes+1)
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		mention                  string
	}{
		{"malformed json", "POST", store.PathWrite, `{"key":"a",`, 400, "malformed JSON"},
		{"not an object", "POST", store.PathWrite, `[1,2]`, 400, "malformed JSON"},
		{"empty body", "POST", store.PathRead, ``, 400, "empty body"},
		{"trailing data", "POST", store.PathWrite, `{"key":"a","value":"1","request_id":"r"} {}`, 400, "extra data"},
		{"unknown field", "POST", store.PathWrite, `{"key":"a","value":"1","request_id":"r","vlaue":"2"}`, 400, "vlaue"},
		{"missing key", "POST", store.PathWrite, `{"value":"1","request_id":"r"}`, 400, `"key"`},
		{"missing value", "POST", store.PathWrite, `{"key":"a","request_id":"r"}`, 400, `"value"`},
		{"missing request id", "POST", store.PathWrite, `{"key":"a","value":"1"}`, 400, "request_id"},
		{"cas missing new", "POST", store.PathCAS, `{"key":"a","expected":"1","request_id":"r"}`, 400, `"new"`},
		{"key too long", "POST", store.PathWrite, `{"key":"` + long + `","value":"1","request_id":"r"}`, 400, "at most 256"},
		{"value too long", "POST", store.PathWrite, `{"key":"a","value":"` + big + `","request_id":"r"}`, 400, "at most 65536"},
		{"body too large", "POST", store.PathWrite, `{"key":"a","value":"` + strings.Repeat("v", store.MaxBodyBytes) + `","request_id":"r"}`, 413, "over"},
		{"wrong type", "POST", store.PathWrite, `{"key":1,"value":"1","request_id":"r"}`, 400, "malformed JSON"},
		{"bad token", "POST", store.PathRead, `{"key":"a"}`, 400, store.TokenHeader},
		{"unknown path", "POST", "/v1/delete", `{"key":"a"}`, 404, "/v1/read"},
		{"wrong method", "GET", store.PathRead, ``, 405, "POST"},
		{"wrong method admin", "POST", store.PathStatus, `{}`, 405, "GET"},
		{"clock without offset", "PUT", store.PathClock, `{}`, 400, "offset_ns"},
		{"clock 200 years ahead", "PUT", store.PathClock, `{"offset_ns":6311390400000000000}`, 400, "out of range"},
		{"clock 200 years behind", "PUT", store.PathClock, `{"offset_ns":-6311390400000000000}`, 400, "out of range"},
		{"key not UTF-8", "POST", store.PathWrite, "{\"key\":\"a\xff\",\"value\":\"1\",\"request_id\":\"r\"}", 400, "UTF-8"},
		{"value not UTF-8", "POST", store.PathWrite, "{\"key\":\"a\",\"value\":\"\xc3\x28\",\"request_id\":\"r\"}", 400, "UTF-8"},
		{"value a lone surrogate", "POST", store.PathWrite, `{"key":"a","value":"\ud800","request_id":"r"}`, 400, "UTF-8"},
		{"key a lone low surrogate", "POST", store.PathWrite, `{"key":"a\udc00","value":"1","request_id":"r"}`, 400, "UTF-8"},
		{"cas new a broken pair", "POST", store.PathCAS, `{"key":"a","expected":"1","new":"\ud83d\u0041","request_id":"r"}`, 400, "UTF-8"},
		{"double slash", "POST", "/v1//write", `{"key":"a","value":"1","request_id":"r"}`, 404, `"/v1/write"`},
		{"dot segment", "POST", "/v1/./read", `{"key":"a"}`, 404, `"/v1/read"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, base+tc.path, strings.NewReader(tc.body))
			require.NoError(t, err)
			if tc.name == "bad token" {
				req.Header.Set(store.TokenHeader, "{not json")
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			assert.Equal(t, tc.status, resp.StatusCode, "body: %s", raw)
			assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			var body store.Response
			require.NoError(t, json.Unmarshal(raw, &body), "error bodies are JSON: %s", raw)
			assert.Equal(t, store.OutcomeFail, body.Outcome)
			assert.Contains(t, body.Error, tc.mention)
		})
	}
	assert.Zero(t, c.Node("n1").Clock().Offset(), "a refused clock offset must not apply")
	// Nothing of the refused writes landed.
	got, found, err := newClient(t, c.ClientAddrs()...).Read(ctx5(t), "a")
	require.NoError(t, err)
	assert.False(t, found, "a refused write must not apply (read %q)", got)
}

// What the client API sends back, byte for byte, for plain and escaped
// bodies; a chunked body (no Content-Length) is read like any other.
func TestWireBytes(t *testing.T) {
	c := startCluster(t, node.ClusterConfig{Nodes: 1})
	waitLeader(t, c)
	base := "http://" + c.ClientAddrs()[0]
	post := func(path, body string, chunked bool) (int, string) {
		var r io.Reader = strings.NewReader(body)
		if chunked {
			r = io.MultiReader(r) // hides the length: sent chunked
		}
		req, err := http.NewRequest("POST", base+path, r)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		return resp.StatusCode, string(raw)
	}
	status, body := post(store.PathWrite, `{"key":"x","value":"1","request_id":"me-1"}`, false)
	assert.Equal(t, 200, status)
	assert.Equal(t, `{"outcome":"ok","request_id":"me-1"}`+"\n", body)
	status, body = post(store.PathWrite, ` {"key":"y","value":"<\"a\u0026b\">\n","request_id":"me-2"} `, true)
	assert.Equal(t, 200, status)
	assert.Equal(t, `{"outcome":"ok","request_id":"me-2"}`+"\n", body)
	status, body = post(store.PathRead, `{"key":"y"}`, true)
	assert.Equal(t, 200, status)
	assert.Equal(t, `{"outcome":"ok","value":"\u003c\"a\u0026b\"\u003e\n","found":true}`+"\n", body)
	status, body = post(store.PathCAS, `{"key":"x","expected":"0","new":"2","request_id":"me-3"}`, false)
	assert.Equal(t, 409, status)
	assert.Equal(t, `{"outcome":"fail","mismatch":true,"error":"mismatch: key \"x\" does not hold the expected value","request_id":"me-3"}`+"\n", body)
	status, _ = post(store.PathRead+"/", `{"key":"y"}`, false)
	assert.Equal(t, 404, status, "only the exact paths are operations")
}

// The admin clock sets the node's store.Clock.
func TestAdminClock(t *testing.T) {
	c := startCluster(t, node.ClusterConfig{Nodes: 1})
	cl := newClient(t, c.ClientAddrs()[0])
	ctx := ctx5(t)
	require.NoError(t, cl.SetClockOffset(ctx, -3*time.Second))
	assert.Equal(t, -3*time.Second, c.Node("n1").Clock().Offset())
	st, err := cl.Status(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(-3*time.Second), st.ClockOffsetNS)
	require.NoError(t, cl.SetClockOffset(ctx, 0))
	assert.Zero(t, c.Node("n1").Clock().Offset())
}

// Strong mode refuses faults it cannot make real, saying why.
func TestStrongRefusesUnsupportedFaults(t *testing.T) {
	for _, f := range []store.Fault{store.AckBeforeFsync, store.SkipDeps} {
		t.Run(string(f), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, err := node.StartCluster(ctx, node.ClusterConfig{Nodes: 1, Mode: store.Strong, Dir: t.TempDir(), Faults: store.Faults{f: true}, Logger: testLogger(t)})
			if c != nil {
				c.Close()
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), string(f))
			assert.Contains(t, err.Error(), "strong mode")
		})
	}
}

// A follower serves a read only after it applied everything the leader
// had committed when the read arrived: a write acknowledged by one node is
// visible at once through every other node.
func TestStrongFollowerReadsSeeAckedWrites(t *testing.T) {
	c := startCluster(t, node.ClusterConfig{})
	leader := waitLeader(t, c)
	addrs := c.ClientAddrs()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	w := newClient(t, addrs...)
	r := newClient(t, addrs...)
	for i := 0; i < 150; i++ {
		wi := (indexOf(c.IDs(), leader) + i) % len(addrs) // leader and followers in turn
		ri := (wi + 1 + i%2) % len(addrs)                 // never the writer
		w.Use(wi)
		r.Use(ri)
		val := fmt.Sprintf("v%d", i)
		// A clean refusal (say, a leader that stepped down on this busy
		// machine) is safe to retry; anything else fails the test.
		require.NoError(t, retryNotApplied(ctx, func() error { return w.Write(ctx, "rw", val) }))
		var got string
		var found bool
		require.NoError(t, retryNotApplied(ctx, func() (err error) { got, found, err = r.Read(ctx, "rw"); return err }))
		require.True(t, found)
		require.Equal(t, val, got, "write %d via n%d, read via n%d", i, wi+1, ri+1)
	}
}

func retryNotApplied(ctx context.Context, f func() error) error {
	for {
		err := f()
		var na *client.NotAppliedError
		if err == nil || !errAs(err, &na) || na.Mismatch || ctx.Err() != nil {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A write taken by a leader that is then cut off from its followers may
// or may not commit later: it must come back unknown, never "fail".
func TestIsolatedLeaderWriteIsUnknown(t *testing.T) {
	var mu sync.Mutex
	proxies := map[string]*enginetest.Proxy{}
	c := startCluster(t, node.ClusterConfig{PeerAddr: func(from, to, addr string) string {
		mu.Lock()
		defer mu.Unlock()
		p := enginetest.NewProxy(t, addr)
		proxies[from+">"+to] = p
		return p.Addr()
	}})
	leader := waitLeader(t, c)
	addrs := c.ClientAddrs()
	lc, err := client.New(client.Config{Endpoints: []string{addrs[indexOf(c.IDs(), leader)]}, Timeout: 4 * time.Second})
	require.NoError(t, err)
	require.NoError(t, lc.Write(ctx5(t), "k", "before"))

	mu.Lock()
	for k, p := range proxies {
		if strings.HasPrefix(k, leader+">") || strings.HasSuffix(k, ">"+leader) {
			p.Cut()
		}
	}
	mu.Unlock()
	err = lc.Write(context.Background(), "k", "during")
	require.Error(t, err)
	var unk *client.UnknownError
	var na *client.NotAppliedError
	if !errAs(err, &unk) {
		// The only honest "fail" here is a refusal before proposing: the
		// old leader had already stepped down when the write arrived.
		require.True(t, errAs(err, &na), "got %T %v", err, err)
		assert.Contains(t, err.Error(), "leader", "a refusal must say why")
		t.Logf("refused before proposing: %v", err)
	} else {
		t.Logf("unknown, as it must be once proposed: %v", err)
	}
	// Whatever the outcome, reads stay linearizable on the majority side.
	var other string
	for i, id := range c.IDs() {
		if id != leader {
			other = addrs[i]
		}
	}
	oc := newClient(t, other)
	var got string
	require.NoError(t, retryNotApplied(ctx5(t), func() (err error) { got, _, err = oc.Read(ctx5(t), "k"); return err }))
	assert.Contains(t, []string{"before", "during"}, got)
}
