// Command storenode runs one node of the reference store: one node per
// process, statically linkable (CGO_ENABLED=0), so it ships in a
// FROM-scratch image.
//
//	storenode --id n1 --listen 127.0.0.1:7001 --peer-listen 127.0.0.1:7101 \
//	  --peers n2=127.0.0.1:7102,n3=127.0.0.1:7103 --data /tmp/n1 --mode strong
//
// With --peer-secret-file (or $STORENODE_PEER_SECRET, or --peer-secret)
// every node-to-node connection must prove it knows the cluster's secret;
// without one the peer address must be loopback unless --insecure-peers.
//
// Exit codes: 0 after a graceful stop (SIGTERM/SIGINT), 1 when the node
// fails, 2 for a bad flag. "storenode netfault ..." runs the network-fault
// helper instead (see netfault.go).
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/faultline/faultline/store"
	"github.com/faultline/faultline/store/node"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "netfault" {
		os.Exit(runNetfault(os.Args[2:]))
	}
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(defaultGOGC)
	}
	os.Exit(run(os.Args[1:], os.Stderr))
}

// options are the parsed flags.
type options struct {
	id, listen, peerListen, data string
	peers                        map[string]string
	mode                         store.Mode
	faults                       store.Faults
	peerSecret                   []byte
	insecurePeers                bool
}

// PeerSecretEnv names the environment variable that may hold the peer
// secret (instead of --peer-secret-file or --peer-secret).
const PeerSecretEnv = "STORENODE_PEER_SECRET"

// parseFlags parses args; the error names the flag and the valid values.
func parseFlags(args []string, stderr io.Writer) (options, error) {
	o := options{mode: store.Strong, faults: store.Faults{}, peers: map[string]string{}}
	fs := flag.NewFlagSet("storenode", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.id, "id", "", "this node's id, e.g. n1 (required)")
	fs.StringVar(&o.listen, "listen", node.DefaultClientListen, "client and admin API address")
	fs.StringVar(&o.peerListen, "peer-listen", node.DefaultPeerListen, "node-to-node address (Raft and /peer/ HTTP)")
	fs.StringVar(&o.data, "data", "", "data directory (required)")
	fs.Func("peers", "the other nodes' peer addresses as this node dials them: id=host:port,... (may include this node, which is ignored)", func(s string) error {
		p, err := parsePeers(s)
		if err != nil {
			return err
		}
		o.peers = p
		return nil
	})
	fs.Func("mode", "consistency mode: strong, causal or eventual (default strong)", func(s string) error {
		m, err := store.ParseMode(s)
		if err != nil {
			return err
		}
		o.mode = m
		return nil
	})
	fs.Func("faults", "comma list of deliberate faults: stale-reads, ack-before-fsync, lazy-fsync, skip-deps (default none)", func(s string) error {
		f, err := store.ParseFaults(s)
		if err != nil {
			return err
		}
		o.faults = f
		return nil
	})
	var secretFile, secret string
	fs.StringVar(&secretFile, "peer-secret-file", "", "file holding the cluster's peer secret (at least 16 bytes; surrounding white space ignored): every node-to-node connection must prove it knows it")
	fs.StringVar(&secret, "peer-secret", "", "the cluster's peer secret itself (visible to local users in the process list: prefer --peer-secret-file or $"+PeerSecretEnv+")")
	fs.BoolVar(&o.insecurePeers, "insecure-peers", false, "allow a peer address that is not loopback without a peer secret (anyone who reaches it can then stop or corrupt the cluster)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	given := 0
	for _, v := range []string{secretFile, secret, os.Getenv(PeerSecretEnv)} {
		if v != "" {
			given++
		}
	}
	if given > 1 {
		return o, fmt.Errorf("the peer secret is given more than once (--peer-secret-file, --peer-secret, $%s): give one", PeerSecretEnv)
	}
	switch {
	case secretFile != "":
		b, err := os.ReadFile(secretFile)
		if err != nil {
			return o, fmt.Errorf("flag --peer-secret-file: %w", err)
		}
		o.peerSecret = bytes.TrimSpace(b)
	case secret != "":
		o.peerSecret = []byte(secret)
	case os.Getenv(PeerSecretEnv) != "":
		o.peerSecret = []byte(os.Getenv(PeerSecretEnv))
	}
	if o.peerSecret != nil {
		if err := node.CheckPeerSecret(o.peerSecret); err != nil {
			return o, fmt.Errorf("peer secret: %w", err)
		}
	} else if !o.insecurePeers && !loopback(o.peerListen) {
		return o, fmt.Errorf("flag --peer-listen %s is not a loopback address, and no peer secret is given: anyone who can reach it could stop or corrupt the cluster; give every node the same --peer-secret-file (or $%s), or --insecure-peers to accept that", o.peerListen, PeerSecretEnv)
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q: storenode takes only flags (see -h)", fs.Arg(0))
	}
	if strings.TrimSpace(o.id) == "" {
		return o, errors.New("flag --id is required: a node id such as n1")
	}
	if o.data == "" {
		return o, errors.New("flag --data is required: a directory for the node's data")
	}
	return o, nil
}

// loopback reports whether addr (host:port) binds loopback only.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// parsePeers parses "id=host:port,...".
func parsePeers(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		id, addr, ok := strings.Cut(part, "=")
		id, addr = strings.TrimSpace(id), strings.TrimSpace(addr)
		if !ok || id == "" || addr == "" || !strings.Contains(addr, ":") {
			return nil, fmt.Errorf("bad peer %q: want id=host:port, e.g. n2=127.0.0.1:7102", part)
		}
		if prev, dup := out[id]; dup && prev != addr {
			return nil, fmt.Errorf("peer %q given twice (%s and %s): want one address per node", id, prev, addr)
		}
		out[id] = addr
	}
	return out, nil
}

// defaultGOGC is the GC target the node runs with unless the GOGC
// environment variable says otherwise: a node's live heap is small and
// its garbage is mostly per-request HTTP/JSON objects, so letting the
// heap grow to 5x the live heap instead of 2x makes it collect about four
// times less often for a few more MB of memory (see store/README.md,
// Performance).
const defaultGOGC = 400

func run(args []string, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "storenode:", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := os.MkdirAll(o.data, 0o755); err != nil {
		log.Error("cannot create data dir", "dir", o.data, "error", err)
		return 1
	}
	n, err := node.Start(ctx, node.Config{
		ID: o.id, Mode: o.mode,
		ClientListen: o.listen, PeerListen: o.peerListen,
		Peers: o.peers, DataDir: o.data, Faults: o.faults, Logger: log,
		PeerSecret: o.peerSecret,
	})
	if err != nil {
		log.Error("node failed to start", "error", err)
		return 1
	}
	<-ctx.Done()
	stop() // a second signal ends the process at once
	log.Info("signal received, closing")
	if err := n.Close(); err != nil {
		log.Error("close", "error", err)
		return 1
	}
	return 0
}
