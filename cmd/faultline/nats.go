package main

import (
	"context"
	"log/slog"

	"github.com/spf13/pflag"

	"github.com/faultline/faultline/systems/nats"
)

// natsFlags choose the nats-server binary and configuration (--system nats).
type natsFlags struct {
	version, binary, sync string
}

func addNatsFlags(fl *pflag.FlagSet, f *natsFlags) {
	fl.StringVar(&f.version, "nats-version", "", "nats-server version to build from the Go module proxy and cache (default: the newest "+nats.DefaultSeries+".x it serves)")
	fl.StringVar(&f.binary, "nats-binary", "", "prebuilt static nats-server binary to run instead of building one")
	fl.StringVar(&f.sync, "nats-sync", "", "JetStream sync_interval: always (fsync every write before acknowledging it) or a duration like 10s (default: the server's own, 2m)")
}

// natsBinary builds (once per version, cached) or checks nats-server.
func natsBinary(ctx context.Context, f natsFlags, log *slog.Logger) (nats.Binary, error) {
	if f.binary != "" && f.version != "" {
		return nats.Binary{}, usageErr("--nats-binary and --nats-version: give one (a prebuilt binary says its own version)")
	}
	b, err := nats.EnsureBinary(ctx, nats.BinaryOptions{Binary: f.binary, Version: f.version, Logger: log})
	if err != nil {
		return nats.Binary{}, &exitError{code: 3, err: err}
	}
	return b, nil
}

func newNatsSystem(b nats.Binary, f natsFlags) (*nats.System, error) {
	s, err := nats.New(b, nats.Config{SyncInterval: f.sync})
	if err != nil {
		return nil, usageErr("--nats-sync: %w", err)
	}
	return s, nil
}

// natsModeLabel is how runs and compare pages name a NATS configuration.
func natsModeLabel(s *nats.System) string { return "nats-sync-" + s.SyncLabel() }
