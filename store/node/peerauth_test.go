package node_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/store"
	"github.com/faultline/faultline/store/node"
)

// plainStream is a Raft stream layer that dials without the handshake:
// what an outsider who can reach a peer address has.
type plainStream struct{ net.Listener }

func (plainStream) Dial(a raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return net.DialTimeout("tcp", string(a), timeout)
}

// A forged RequestVote (a huge term, claiming to be another node, as a
// leadership transfer so that no "we have a leader" check stops it) makes
// the leader of a cluster without a secret step down; with a secret it is
// refused before Raft sees it, counted, and the leader keeps leading.
func TestForgedRequestVote(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		secret []byte
	}{
		{"with a peer secret", []byte("0123456789abcdef0123456789abcdef")},
		{"without one (the attack works)", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := startCluster(t, node.ClusterConfig{PeerSecret: tc.secret})
			leader := waitLeader(t, c)
			term := c.Node(leader).Status().Term
			other := "n1"
			if leader == other {
				other = "n2"
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			trans := raft.NewNetworkTransport(plainStream{ln}, 1, time.Second, io.Discard)
			defer trans.Close()
			sent := 0
			for range 5 {
				var resp raft.RequestVoteResponse
				err := trans.RequestVote(raft.ServerID(leader), raft.ServerAddress(c.PeerAddr(leader)), &raft.RequestVoteRequest{
					RPCHeader:          raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte(other), Addr: []byte(other)}, // Raft addresses are node ids here
					Term:               term + 1000,
					LastLogIndex:       1 << 40,
					LastLogTerm:        term + 999,
					LeadershipTransfer: true,
				}, &resp)
				t.Logf("forged vote: err=%v granted=%v term=%d", err, resp.Granted, resp.Term)
				sent++
				time.Sleep(300 * time.Millisecond)
			}
			st := c.Node(leader).Status()
			if tc.secret == nil {
				assert.Greater(t, st.Term, term+999, "the forged vote did not reach Raft: this test cannot show the attack")
				return
			}
			assert.Equal(t, term, st.Term, "the forged term reached Raft")
			assert.Equal(t, "leader", st.Role, "the leader stepped down")
			assert.True(t, st.PeerAuth)
			assert.GreaterOrEqual(t, st.PeerRefused, uint64(sent), "every forged connection is refused and counted")

			// The peer HTTP API refuses too, with a JSON 401.
			resp, err := http.Post("http://"+c.PeerAddr(leader)+"/peer/forward/write", "application/json", strings.NewReader(`[]`))
			require.NoError(t, err)
			defer resp.Body.Close()
			assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			var body store.Response
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
			assert.Contains(t, body.Error, "peer secret")
			assert.Greater(t, c.Node(leader).Status().PeerRefused, st.PeerRefused)

			// And the cluster works: its own nodes authenticate.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			for _, id := range c.IDs() {
				_, err := c.Node(id).Engine().Write(ctx, store.WriteRequest{Key: "k", Value: id, RequestID: "r-" + id})
				require.NoError(t, err, "a write through %s (forwarded to the leader unless it is)", id)
			}
		})
	}
}
