package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/spf13/pflag"

	"github.com/faultline/faultline/systems/etcd"
)

// Systems names the valid --system values.
var systemNames = []string{"store", "etcd", "nats"}

// etcdFlags choose the etcd binary and configuration (--system etcd).
type etcdFlags struct {
	version, binary     string
	heartbeat, election time.Duration
}

func addEtcdFlags(fl *pflag.FlagSet, f *etcdFlags) {
	fl.StringVar(&f.version, "etcd-version", "", "etcd version to build from the Go module proxy and cache (default: the newest "+etcd.DefaultSeries+".x it serves)")
	fl.StringVar(&f.binary, "etcd-binary", "", "prebuilt static etcd binary to run instead of building one")
	fl.DurationVar(&f.heartbeat, "etcd-heartbeat-interval", 0, "etcd --heartbeat-interval (default: etcd's, 100ms)")
	fl.DurationVar(&f.election, "etcd-election-timeout", 0, "etcd --election-timeout (default: etcd's, 1s)")
}

// etcdBinary builds (once per version, cached) or checks the etcd binary.
func etcdBinary(ctx context.Context, f etcdFlags, log *slog.Logger) (etcd.Binary, error) {
	if f.binary != "" && f.version != "" {
		return etcd.Binary{}, usageErr("--etcd-binary and --etcd-version: give one (a prebuilt binary says its own version)")
	}
	b, err := etcd.EnsureBinary(ctx, etcd.BinaryOptions{Binary: f.binary, Version: f.version, Logger: log})
	if err != nil {
		return etcd.Binary{}, &exitError{code: 3, err: err}
	}
	return b, nil
}

func newEtcdSystem(b etcd.Binary, f etcdFlags, serializable bool) (*etcd.System, error) {
	s, err := etcd.New(b, etcd.Config{Serializable: serializable, HeartbeatInterval: f.heartbeat, ElectionTimeout: f.election})
	if err != nil {
		return nil, usageErr("%w", err)
	}
	return s, nil
}

// etcdModeLabel is how a compare page names an etcd configuration.
func etcdModeLabel(serializable bool) string {
	if serializable {
		return "etcd-serializable"
	}
	return "etcd-linearizable"
}

// etcdFaults drops the clock nemesis: etcd has no API to skew a node's
// clock (systems/etcd does not implement harness.ClockSkewer), so in a
// compare matrix etcd's "all" cell is every other fault, and cells that
// name clock have no etcd row.
func etcdFaults(faults []string) []string {
	var out []string
	for _, f := range faults {
		if f != "clock" {
			out = append(out, f)
		}
	}
	return out
}

func checkSystem(name string) error {
	for _, s := range systemNames {
		if s == name {
			return nil
		}
	}
	return usageErr("--system: unknown system %q: valid systems are store (the reference store), etcd and nats", name)
}
