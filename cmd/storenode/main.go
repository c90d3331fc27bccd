// Command storenode runs one node of the reference store: one node per
// process, statically linkable (CGO_ENABLED=0), so it ships in a
// FROM-scratch image.
//
//	storenode --id n1 --listen 127.0.0.1:7001 --peer-listen 127.0.0.1:7101 \
//	  --peers n2=127.0.0.1:7102,n3=127.0.0.1:7103 --data /tmp/n1 --mode strong
//
// Exit codes: 0 after a graceful stop (SIGTERM/SIGINT), 1 when the node
// fails, 2 for a bad flag. "storenode netfault ..." runs the network-fault
// helper instead (see netfault.go).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
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
}

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
	if err := fs.Parse(args); err != nil {
		return o, err
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
