package strong

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/hashicorp/raft"
)

// streamLayer runs Raft's transport on the raw connections the node's
// peer listener hands over (cmux sends every non-HTTP connection there).
// Connections both ways are authenticated by the node when the cluster
// has a secret: the listener hands over only connections that passed the
// handshake, and dial runs it.
type streamLayer struct {
	net.Listener
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Dial implements raft.StreamLayer. address is already resolved through
// the peer table (see peerResolver).
func (s streamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	if s.dial == nil {
		return net.DialTimeout("tcp", string(address), timeout)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return s.dial(ctx, "tcp", string(address))
}

// peerResolver resolves a Raft server id (a node id) to the peer address
// this node dials for it: each node has its own view of its peers (through
// per-link proxies in the local backend), so the addresses in the Raft
// configuration are ids, never addresses.
type peerResolver struct {
	self  string
	local string
	peers map[string]string
}

func (p peerResolver) ServerAddr(id raft.ServerID) (raft.ServerAddress, error) {
	if string(id) == p.self {
		return raft.ServerAddress(p.local), nil
	}
	addr, ok := p.peers[string(id)]
	if !ok {
		return "", fmt.Errorf("no peer address for node %q", id)
	}
	return raft.ServerAddress(addr), nil
}
