package nats

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/systems/gobuild"
)

// ServerModule is the module whose main package is nats-server.
const ServerModule = "github.com/nats-io/nats-server/v2"

// DefaultSeries is the release series whose newest version is built when
// no version is given.
const DefaultSeries = "v2.15"

// program is nats-server as gobuild builds it. 2.10 is the oldest release
// whose configuration and JetStream API this package was written against.
var program = gobuild.Program{
	Name: "nats-server", Module: ServerModule, Series: DefaultSeries, MinVersion: "v2.10.0",
	VersionRE: regexp.MustCompile(`(?m)^nats-server: (\S+)$`),
}

// BinaryOptions says which nats-server to use: a prebuilt one (Binary) or
// a version to build (default: the newest DefaultSeries release); builds
// are cached under <user cache dir>/faultline/nats-server/<version>/.
type BinaryOptions = gobuild.Options

// Binary is a checked nats-server binary.
type Binary = gobuild.Binary

// EnsureBinary returns a checked nats-server: the given one, or the cached
// build of the version, building it first if needed.
func EnsureBinary(ctx context.Context, o BinaryOptions) (Binary, error) {
	return program.Ensure(ctx, o)
}

// Names of what the harness makes in the cluster.
const (
	// Stream is the JetStream stream the set workload publishes to.
	Stream = "faultline"
	// Subject is the one subject of the stream.
	Subject = "faultline.set"
	// ClusterName is every node's cluster name.
	ClusterName = "faultline"
	// configFile is the node's configuration file in its data directory,
	// written only when a setting has no command-line flag.
	configFile = "nats.conf"
)

// SyncAlways is the SyncInterval value that makes every node fsync each
// write before acknowledging it.
const SyncAlways = "always"

// Config is the NATS cluster's configuration under test.
type Config struct {
	// SyncInterval is JetStream's sync_interval: "" leaves the server's
	// default (an fsync every two minutes, acknowledging writes before
	// they are on disk), "always" fsyncs each write, a duration ("10s")
	// sets the interval.
	SyncInterval string
	// Replicas is the stream's replica count; 0 means the cluster size.
	Replicas int
	// DialTimeout bounds a client's connection attempt (default 1 s).
	DialTimeout time.Duration
}

// System is a NATS JetStream cluster as a system under test.
type System struct {
	bin Binary
	cfg Config
}

var (
	_ harness.System    = (*System)(nil)
	_ harness.Preparer  = (*System)(nil)
	_ harness.NodeFiler = (*System)(nil)
)

// CheckSync checks a Config.SyncInterval value.
func CheckSync(s string) error {
	if s == "" || s == SyncAlways {
		return nil
	}
	if d, err := time.ParseDuration(s); err != nil || d <= 0 {
		return fmt.Errorf("nats: sync interval %q: want %q or a positive duration like 10s (empty: the server's default, 2m)", s, SyncAlways)
	}
	return nil
}

// New returns NATS run from bin (see EnsureBinary) with cfg.
func New(bin Binary, cfg Config) (*System, error) {
	if bin.Path == "" {
		return nil, errors.New("nats: no binary (use EnsureBinary)")
	}
	if err := CheckSync(cfg.SyncInterval); err != nil {
		return nil, err
	}
	if cfg.Replicas < 0 {
		return nil, fmt.Errorf("nats: replicas must be >= 0 (0: the cluster size), not %d", cfg.Replicas)
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = time.Second
	}
	return &System{bin: bin, cfg: cfg}, nil
}

func (s *System) Name() string   { return "nats" }
func (s *System) Binary() string { return s.bin.Path }

// SyncLabel names the sync setting as runs and comparisons show it.
func (s *System) SyncLabel() string {
	if s.cfg.SyncInterval == "" {
		return "default"
	}
	return s.cfg.SyncInterval
}

// Options is what a run records in test.json about this system.
func (s *System) Options() map[string]any {
	sync := s.cfg.SyncInterval
	if sync == "" {
		sync = "server default (2m)"
	}
	replicas := any(s.cfg.Replicas)
	if s.cfg.Replicas == 0 {
		replicas = "cluster size"
	}
	return map[string]any{
		"nats_version": s.bin.Version, "nats_binary": s.bin.Path,
		"nats_sync_interval": sync, "nats_stream": Stream, "nats_subject": Subject,
		"nats_stream_replicas": replicas,
	}
}

// Args is nats-server's command line for one node: its name, client
// address, cluster address and routes to every peer, JetStream in its data
// directory, and the configuration file when one is written.
func (s *System) Args(n harness.NodeLayout) []string {
	host, port, _ := net.SplitHostPort(n.ClientListen)
	ids := make([]string, 0, len(n.Peers))
	for id := range n.Peers {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	routes := make([]string, 0, len(ids))
	for _, id := range ids {
		routes = append(routes, "nats://"+n.Peers[id])
	}
	var args []string
	if s.cfg.SyncInterval != "" {
		args = append(args, "--config", n.DataDir+"/"+configFile)
	}
	args = append(args,
		"--name", n.ID,
		"--addr", host, "--port", port,
		"--cluster_name", ClusterName,
		"--cluster", "nats://"+n.PeerListen,
		"--routes", strings.Join(routes, ","),
		"--jetstream", "--store_dir", n.DataDir+"/jetstream",
	)
	return args
}

// NodeFiles is the configuration file for the settings nats-server takes
// from no flag (sync_interval); the flags in Args override the rest.
func (s *System) NodeFiles(n harness.NodeLayout) map[string][]byte {
	if s.cfg.SyncInterval == "" {
		return nil
	}
	return map[string][]byte{configFile: []byte(fmt.Sprintf("jetstream {\n  sync_interval: %q\n}\n", s.cfg.SyncInterval))}
}

// Ready polls the node until it answers the JetStream account info, which
// a node does only once it is in a JetStream cluster with a meta leader.
func (s *System) Ready(ctx context.Context, n harness.Node) error {
	for {
		last := s.ready(ctx, n)
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("nats node %s not ready: %w (last: %v)", n.ID, ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// connectOnce opens a short-lived connection to node n alone (no
// reconnects, no discovered servers) for the harness's own requests,
// named name.
func (s *System) connectOnce(n harness.Node, name string) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := nats.Connect("nats://"+n.ClientAddr, nats.NoReconnect(), nats.IgnoreDiscoveredServers(),
		nats.Timeout(s.cfg.DialTimeout), nats.Name(name))
	if err != nil {
		return nil, nil, fmt.Errorf("connect: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

func (s *System) ready(ctx context.Context, n harness.Node) error {
	nc, js, err := s.connectOnce(n, "faultline-ready")
	if err != nil {
		return err
	}
	defer nc.Close()
	// One attempt is bounded: a node without a meta leader may leave the
	// request unanswered rather than refuse it.
	actx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := js.AccountInfo(actx); err != nil {
		return fmt.Errorf("JetStream account info: %w", err)
	}
	// Once the stream exists, a node is ready when the stream answers
	// through it (it has a leader): after a restart the final reads must
	// not meet a stream still electing one. Not found is an answer too
	// (before Prepare, or a stream a power loss took).
	if _, err := js.Stream(actx, Stream); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("stream %s info: %w", Stream, err)
	}
	return nil
}

// replicas is the stream's replica count for a cluster of n nodes.
func (s *System) replicas(n int) int {
	if s.cfg.Replicas > 0 {
		return s.cfg.Replicas
	}
	return n
}

// streamConfig is the stream the harness makes: file storage, one
// subject, replicas = the cluster size (or Config.Replicas).
func (s *System) streamConfig(nodes int) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name: Stream, Subjects: []string{Subject},
		Storage: jetstream.FileStorage, Replicas: s.replicas(nodes),
	}
}

// Prepare creates the stream, or finds it already there with the same
// subjects, storage and replicas. A freshly elected meta leader may not
// yet know every peer ("insufficient resources"), so it tries again until
// ctx ends, each time through the next node; the error then names the
// stream, the replicas asked for and the last answer.
func (s *System) Prepare(ctx context.Context, nodes []harness.Node) error {
	if len(nodes) == 0 {
		return errors.New("nats: no nodes to create the stream on")
	}
	want := s.streamConfig(len(nodes))
	if want.Replicas > len(nodes) {
		return fmt.Errorf("nats: stream %s with %d replicas needs at least %d nodes, the cluster has %d", Stream, want.Replicas, want.Replicas, len(nodes))
	}
	var last error
	for i := 0; ; i++ {
		n := nodes[i%len(nodes)]
		last = s.createStream(ctx, n, want)
		if last == nil {
			return nil
		}
		var bad *badStreamError
		if errors.As(last, &bad) {
			return last
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("nats: create stream %s (subject %s, file storage, %d replicas) on a %d-node cluster: %w; last answer (from %s): %v",
				Stream, Subject, want.Replicas, len(nodes), ctx.Err(), n.ID, last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// badStreamError is a stream that exists with another configuration:
// trying again cannot help.
type badStreamError struct{ msg string }

func (e *badStreamError) Error() string { return e.msg }

func (s *System) createStream(ctx context.Context, n harness.Node, want jetstream.StreamConfig) error {
	nc, js, err := s.connectOnce(n, "faultline-prepare")
	if err != nil {
		return err
	}
	defer nc.Close()
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err = js.CreateStream(cctx, want)
	if err == nil {
		return nil
	}
	if !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return err
	}
	st, ierr := js.Stream(cctx, Stream)
	if ierr != nil {
		return fmt.Errorf("%w (and reading it back: %v)", err, ierr)
	}
	got := st.CachedInfo().Config
	if got.Replicas != want.Replicas || got.Storage != want.Storage || strings.Join(got.Subjects, ",") != strings.Join(want.Subjects, ",") {
		return &badStreamError{msg: fmt.Sprintf("nats: stream %s already exists with subjects %v, %s storage, %d replicas; the harness needs %v, %s, %d: delete it or use a fresh cluster",
			Stream, got.Subjects, got.Storage, got.Replicas, want.Subjects, want.Storage, want.Replicas)}
	}
	return nil
}
