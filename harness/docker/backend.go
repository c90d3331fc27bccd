package docker

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/client"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/nemesis/netfault"
)

// Labels put on everything the backend creates.
const (
	LabelRun        = "faultline.run"
	LabelOwnerPID   = "faultline.owner-pid"
	LabelOwnerStart = "faultline.owner-start" // the owner's start time, against pid reuse
	LabelImage      = "faultline.image"
)

// Options configures the docker backend.
type Options struct {
	// Logger receives progress lines (nil: slog.Default()).
	Logger *slog.Logger
	// ReadyTimeout bounds how long Start waits for every node to be ready
	// (0: 60s).
	ReadyTimeout time.Duration
	// NoReap skips reaping the objects of dead harnesses in New.
	NoReap bool
	// NetFault says how network faults reach a container's namespace:
	// "host" writes them from the host into /proc/<pid>/ns/net (needs
	// root on the docker host), "exec" runs `<binary> netfault ...` inside
	// the container (needs a node binary with that subcommand, such as
	// storenode), "" (auto) uses host when it can open the namespace and
	// exec otherwise.
	NetFault string
	// Helper is the static network-fault helper (cmd/faultline-netfault)
	// packed into every node image; "" finds or builds it (FindHelper).
	Helper string
}

// Backend starts clusters of containers. It implements harness.Backend.
type Backend struct {
	cli  *client.Client
	opts Options
	log  *slog.Logger

	helperOnce sync.Once
	helperBin  []byte // nil: no helper

	netemOnce  sync.Once
	packetMods []string // PacketModes' answer
}

var (
	_ harness.Backend     = (*Backend)(nil)
	_ harness.PacketModer = (*Backend)(nil)
)

// PacketModes is every packet fault when the kernel has netem, loss alone
// when it has not (netfault.SetPacket then drops packets through
// nftables), and nil when it cannot tell: the daemon may not run on this
// machine's kernel (DOCKER_HOST is not a unix socket), or the probe
// (netfault.NetemAvailable) lacks the privileges.
func (b *Backend) PacketModes() []string {
	b.netemOnce.Do(func() {
		if !strings.HasPrefix(b.cli.DaemonHost(), "unix://") {
			return
		}
		ok, err := netfault.NetemAvailable()
		switch {
		case err != nil:
			b.log.Info("could not tell whether the kernel has netem; every packet fault may be drawn", "err", err)
		case ok:
			b.packetMods = slices.Clone(nemesis.PacketModes)
		default:
			b.packetMods = []string{"loss"}
		}
	})
	return b.packetMods
}

// Available reports whether a Docker daemon answers a ping within about
// two seconds (or before ctx ends).
func Available(ctx context.Context) bool {
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return false
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err = cli.Ping(ctx)
	return err == nil
}

// New connects to the daemon named by the environment (DOCKER_HOST, ...),
// negotiating the API version, and reaps what dead harnesses left behind.
func New(opts Options) (*Backend, error) {
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("docker backend: connect to the docker daemon: %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	switch opts.NetFault {
	case "", "host", "exec":
	default:
		return nil, fmt.Errorf("docker backend: unknown NetFault %q: use host, exec or \"\" (auto)", opts.NetFault)
	}
	if opts.ReadyTimeout <= 0 {
		opts.ReadyTimeout = 60 * time.Second
	}
	b := &Backend{cli: cli, opts: opts, log: log.With("backend", "docker")}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := cli.Ping(ctx); err != nil {
		cli.Close()
		return nil, fmt.Errorf("docker backend: the docker daemon does not answer (is it running, is DOCKER_HOST right?): %w", err)
	}
	if !opts.NoReap {
		rctx, rcancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer rcancel()
		if err := b.Reap(rctx); err != nil {
			b.log.Warn("reaping leftovers of dead harnesses failed", "err", err)
		}
	}
	return b, nil
}

// Name is "docker".
func (b *Backend) Name() string { return "docker" }

// Close closes the connection to the daemon. Clusters must be closed
// first.
func (b *Backend) Close() error { return b.cli.Close() }
