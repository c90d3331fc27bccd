package local

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"time"
)

// Directions of a link: forward carries what the dialing node sends,
// backward what the dialed node answers.
const (
	forward  = 0
	backward = 1
)

// RetransmitDelay is what a lost segment costs in the proxy: TCP resends
// it after about one retransmission timeout, so loss shows as delay.
const RetransmitDelay = 200 * time.Millisecond

// shaping is a packet fault on one direction of a link.
type shaping struct {
	delay, jitter time.Duration
	loss          float64 // percent
}

// link is the TCP proxy of one directed peer link from→to: node "from"
// dials the link's address instead of node "to"'s peer address. Each
// direction can be blackholed (data stalls in the proxy: nothing is
// delivered, the sender's writes back up as in a real partition, and what
// was held is delivered after the heal, as TCP's retransmissions would),
// shaped (delay, jitter, loss as retransmission delay), or reset (every
// connection closed with RST).
type link struct {
	from, to string
	address  string // the link's listen address, kept while it is down
	target   string

	mu     sync.Mutex
	cond   *sync.Cond
	block  [2]bool
	shape  [2]shaping
	conns  map[*proxyConn]struct{}
	closed bool
	ln     net.Listener // nil while the target node is down (see down)
	rng    *rand.Rand
	wg     sync.WaitGroup
}

type proxyConn struct{ a, b net.Conn } // a: from the dialer, b: to the target

func newLink(from, to, target string, seed uint64) (*link, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	l := newPassiveLink(from, to, target, seed)
	l.address, l.ln = ln.Addr().String(), ln
	l.wg.Add(1)
	go l.accept(ln)
	return l, nil
}

// newPassiveLink returns a link with no address of its own: its
// connections arrive through adopt, from the target's front (shared peer
// addresses).
func newPassiveLink(from, to, target string, seed uint64) *link {
	l := &link{from: from, to: to, target: target, conns: map[*proxyConn]struct{}{}, rng: rand.New(rand.NewPCG(seed, 7))}
	l.cond = sync.NewCond(&l.mu)
	return l
}

// adopt proxies a connection the dialing node made to the target's front.
func (l *link) adopt(a net.Conn) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		a.Close()
		return
	}
	l.wg.Add(1)
	l.mu.Unlock()
	go l.serve(a)
}

func (l *link) addr() string { return l.address }

// down stops listening while the link's target node is down, so that a
// peer's dial is refused as the dead node's port would refuse it. (A proxy
// that accepted and then dropped the connection would make a forwarded
// request look sent: an unknown outcome where the truth is "not applied".)
func (l *link) down() {
	l.mu.Lock()
	ln := l.ln
	l.ln = nil
	l.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	l.reset()
}

// up listens again on the link's address after its target restarted.
func (l *link) up() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ln != nil || l.closed || l.address == "" {
		return nil
	}
	var ln net.Listener
	var err error
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if ln, err = net.Listen("tcp", l.address); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("local backend: reopen link %s→%s on %s: %w", l.from, l.to, l.address, err)
	}
	l.ln = ln
	l.wg.Add(1)
	go l.accept(ln)
	return nil
}

func (l *link) accept(ln net.Listener) {
	defer l.wg.Done()
	for {
		a, err := ln.Accept()
		if err != nil {
			return
		}
		l.wg.Add(1)
		go l.serve(a) // dialing the target must not hold up the next accept
	}
}

// serve connects an accepted connection to the target and pipes both ways.
func (l *link) serve(a net.Conn) {
	defer l.wg.Done()
	b, err := net.DialTimeout("tcp", l.target, 2*time.Second)
	if err != nil {
		// The target is down: refuse as it would.
		a.(*net.TCPConn).SetLinger(0)
		a.Close()
		return
	}
	pc := &proxyConn{a: a, b: b}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		a.Close()
		b.Close()
		return
	}
	l.conns[pc] = struct{}{}
	l.mu.Unlock()
	var pipes sync.WaitGroup
	pipes.Add(2)
	go l.pipe(a, b, forward, &pipes)
	go l.pipe(b, a, backward, &pipes)
	pipes.Wait()
	a.Close()
	b.Close()
	l.mu.Lock()
	delete(l.conns, pc)
	l.mu.Unlock()
}

type chunk struct {
	data []byte
	due  time.Time
	eof  bool
}

// pipe copies src to dst in direction dir: a reader stamps each chunk with
// its delivery time; a writer holds it while the direction is blackholed
// and until it is due.
func (l *link) pipe(src, dst net.Conn, dir int, done *sync.WaitGroup) {
	defer done.Done()
	q := make(chan chunk, 64)
	go func() {
		defer close(q)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				q <- chunk{data: buf[:n], due: time.Now().Add(l.delayFor(dir))}
			}
			if err != nil {
				q <- chunk{eof: true, due: time.Now().Add(l.delayFor(dir))}
				return
			}
		}
	}()
	var last time.Time
	for c := range q {
		if !l.waitOpen(dir) {
			break
		}
		if c.due.Before(last) {
			c.due = last // TCP keeps order
		}
		last = c.due
		if d := time.Until(c.due); d > 0 {
			time.Sleep(d)
		}
		if !l.waitOpen(dir) {
			break
		}
		if c.eof {
			if tc, ok := dst.(*net.TCPConn); ok {
				tc.CloseWrite()
			} else {
				dst.Close()
			}
			break
		}
		if _, err := dst.Write(c.data); err != nil {
			break
		}
	}
	// Unblock the reader if it is stuck sending: close both ends.
	src.Close()
	dst.Close()
	for range q {
	}
}

// waitOpen waits while dir is blackholed; false when the link closed.
func (l *link) waitOpen(dir int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.block[dir] && !l.closed {
		l.cond.Wait()
	}
	return !l.closed
}

func (l *link) delayFor(dir int) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.shape[dir]
	d := s.delay
	if s.jitter > 0 {
		d += time.Duration(l.rng.Int64N(int64(2*s.jitter))) - s.jitter
	}
	if s.loss > 0 && l.rng.Float64()*100 < s.loss {
		d += RetransmitDelay
	}
	if d < 0 {
		d = 0
	}
	return d
}

func (l *link) setBlock(dir int, on bool) {
	l.mu.Lock()
	l.block[dir] = on
	l.cond.Broadcast()
	l.mu.Unlock()
}

func (l *link) setShape(dir int, s shaping) {
	l.mu.Lock()
	l.shape[dir] = s
	l.mu.Unlock()
}

// reset closes every connection of the link with RST.
func (l *link) reset() {
	l.mu.Lock()
	conns := make([]*proxyConn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		for _, x := range []net.Conn{c.a, c.b} {
			if tc, ok := x.(*net.TCPConn); ok {
				tc.SetLinger(0)
			}
			x.Close()
		}
	}
}

func (l *link) close() error {
	l.mu.Lock()
	l.closed = true
	l.cond.Broadcast()
	ln := l.ln
	l.ln = nil
	l.mu.Unlock()
	var err error
	if ln != nil {
		err = ln.Close()
	}
	l.reset()
	l.wg.Wait()
	if errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) {
		err = nil
	}
	return err
}
