// Package peerauth authenticates the connections between the nodes of one
// cluster with the cluster's shared secret: every connection to a peer
// address, whether it then carries Raft's stream or /peer/ HTTP requests,
// starts with a challenge-response handshake, and a connection that fails
// it never reaches the node. Each side proves it knows the secret by an
// HMAC-SHA256 of both sides' fresh nonces, so a recorded handshake cannot
// be replayed and the secret never crosses the wire.
//
// What it does not do: encrypt, or protect a connection after the
// handshake; someone who can read and rewrite the traffic between two
// nodes (on the path, not merely able to connect) can still tamper with
// it. The peer network is meant to be private; the secret keeps out
// everyone who can merely reach a peer address.
//
// The handshake, client first:
//
//	C -> S  "FLPEER1\n" cnonce[32]
//	S -> C  snonce[32] HMAC(secret, "server" cnonce snonce)
//	C -> S  HMAC(secret, "client" cnonce snonce)
//
// then the connection is the caller's. A connection whose first bytes
// are an HTTP request instead gets a 401 with a JSON body before it is
// closed, so a person probing with curl learns what is missing.
package peerauth

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// MinSecretBytes is the shortest secret accepted: 16 bytes (128 bits, or
// 32 hex digits when given as text).
const MinSecretBytes = 16

// HandshakeTimeout bounds a handshake on either side.
const HandshakeTimeout = 5 * time.Second

const magic = "FLPEER1\n"

// CheckSecret says what is wrong with a secret, or nil.
func CheckSecret(secret []byte) error {
	if len(secret) < MinSecretBytes {
		return fmt.Errorf("the peer secret is %d bytes: at least %d needed (for example 32 hex digits from `openssl rand -hex 16`)", len(secret), MinSecretBytes)
	}
	return nil
}

func mac(secret []byte, side string, cn, sn []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(side))
	m.Write(cn)
	m.Write(sn)
	return m.Sum(nil)
}

// ErrWrongSecret is returned to a client whose peer proved no knowledge
// of the secret (another cluster, or a node started with another secret).
var ErrWrongSecret = errors.New("the peer does not know this cluster's secret (another cluster, or started with another --peer-secret)")

// Client runs the client side of the handshake on c, which the caller
// just dialled, within HandshakeTimeout or ctx's deadline if sooner, and
// returns c ready for use.
func Client(ctx context.Context, c net.Conn, secret []byte) (net.Conn, error) {
	deadline := time.Now().Add(HandshakeTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	c.SetDeadline(deadline)
	var hello [len(magic) + 32]byte
	copy(hello[:], magic)
	cn := hello[len(magic):]
	rand.Read(cn)
	if _, err := c.Write(hello[:]); err != nil {
		c.Close()
		return nil, fmt.Errorf("peer handshake: %w", err)
	}
	var reply [64]byte
	if _, err := io.ReadFull(c, reply[:]); err != nil {
		c.Close()
		return nil, fmt.Errorf("peer handshake: no answer from %s (is it a node of this cluster, started with a peer secret?): %w", c.RemoteAddr(), err)
	}
	sn := reply[:32]
	if !hmac.Equal(reply[32:], mac(secret, "server", cn, sn)) {
		c.Close()
		return nil, fmt.Errorf("peer handshake with %s: %w", c.RemoteAddr(), ErrWrongSecret)
	}
	if _, err := c.Write(mac(secret, "client", cn, sn)); err != nil {
		c.Close()
		return nil, fmt.Errorf("peer handshake: %w", err)
	}
	c.SetDeadline(time.Time{})
	return c, nil
}

// Dialer returns a dial function that connects with d and authenticates.
func Dialer(d *net.Dialer, secret []byte) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return Client(ctx, c, secret)
	}
}

// Listener hands out only the connections that passed the server side of
// the handshake; it counts the others.
type Listener struct {
	inner  net.Listener
	secret []byte
	log    *slog.Logger
	ready  chan net.Conn
	done   chan struct{}
	once   sync.Once

	refused atomic.Uint64
}

// NewListener serves the handshake on every connection ln accepts.
func NewListener(ln net.Listener, secret []byte, log *slog.Logger) *Listener {
	l := &Listener{inner: ln, secret: secret, log: log, ready: make(chan net.Conn), done: make(chan struct{})}
	go l.acceptLoop()
	return l
}

// Refused is how many connections failed the handshake.
func (l *Listener) Refused() uint64 { return l.refused.Load() }

func (l *Listener) acceptLoop() {
	var backoff time.Duration
	for {
		c, err := l.inner.Accept()
		if err != nil {
			select {
			case <-l.done:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			l.Close()
			return
		}
		backoff = 0
		go func() {
			if err := l.serve(c); err != nil {
				l.refused.Add(1)
				l.log.Warn("peer connection refused", "remote", c.RemoteAddr(), "reason", err)
				c.Close()
				return
			}
			select {
			case l.ready <- c:
			case <-l.done:
				c.Close()
			}
		}()
	}
}

func isTemporary(err error) bool {
	t, ok := err.(interface{ Temporary() bool })
	return ok && t.Temporary()
}

// serve runs the server side of the handshake.
func (l *Listener) serve(c net.Conn) error {
	c.SetDeadline(time.Now().Add(HandshakeTimeout))
	var hello [len(magic) + 32]byte
	if _, err := io.ReadFull(c, hello[:len(magic)]); err != nil {
		return fmt.Errorf("no handshake: %w", err)
	}
	if string(hello[:len(magic)]) != magic {
		if looksLikeHTTP(hello[:len(magic)]) {
			body := `{"outcome":"fail","error":"the peer API is for the nodes of this cluster only: a connection must authenticate with the cluster's peer secret (storenode --peer-secret-file)"}` + "\n"
			io.WriteString(c, "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+body)
			if cw, ok := c.(interface{ CloseWrite() error }); ok {
				cw.CloseWrite()
			}
			return errors.New("an HTTP request without the peer handshake")
		}
		return errors.New("no peer handshake (a Raft or other stream without the cluster's secret)")
	}
	if _, err := io.ReadFull(c, hello[len(magic):]); err != nil {
		return fmt.Errorf("short handshake: %w", err)
	}
	cn := hello[len(magic):]
	var reply [64]byte
	sn := reply[:32]
	rand.Read(sn)
	copy(reply[32:], mac(l.secret, "server", cn, sn))
	if _, err := c.Write(reply[:]); err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	var proof [32]byte
	if _, err := io.ReadFull(c, proof[:]); err != nil {
		return fmt.Errorf("handshake: no proof: %w", err)
	}
	if !hmac.Equal(proof[:], mac(l.secret, "client", cn, sn)) {
		return errors.New("wrong secret")
	}
	c.SetDeadline(time.Time{})
	return nil
}

func looksLikeHTTP(b []byte) bool {
	for _, m := range []string{"GET ", "POST ", "PUT ", "HEAD ", "DELETE ", "OPTIONS ", "PATCH ", "CONNECT ", "TRACE ", "PRI "} {
		if bytes.HasPrefix(b, []byte(m)) {
			return true
		}
	}
	return false
}

// Accept returns the next authenticated connection.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ready:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close closes the listener, not the connections it handed out; a
// handshake in progress ends when its connection is closed (the node
// closes every connection it accepted) or times out.
func (l *Listener) Close() error {
	var err error
	l.once.Do(func() {
		close(l.done)
		err = l.inner.Close()
	})
	return err
}

// Addr is the inner listener's address.
func (l *Listener) Addr() net.Addr { return l.inner.Addr() }
