// Package backends chooses a harness.Backend by name, in one way for every
// caller (faultline run and compare, harness/reftest, harnesstest.Run and
// systemtest.Run): "local", "docker", or "" for docker when a Docker
// daemon answers, else local. Under go test, $FAULTLINE_BACKEND names it
// (FromEnv).
package backends

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/docker"
	"github.com/faultline/faultline/harness/local"
)

// Names are the backends.
var Names = []string{"docker", "local"}

// Env names the environment variable that picks the backend of a Go test
// that leaves it to the kit: harness/reftest (unset: docker when a daemon
// answers, else local), and harnesstest.Run and systemtest.Run when
// their Backend is nil (unset: local). A Backend given in the code wins;
// the faultline command reads --backend, not this.
const Env = "FAULTLINE_BACKEND"

// FromEnv returns the backend $FAULTLINE_BACKEND names ("local" or
// "docker"), or, when it is unset, the one fallback names ("": docker
// when a daemon answers, else local). Any other value is an error that
// lists the valid ones.
func FromEnv(ctx context.Context, fallback string, opts Options) (harness.Backend, error) {
	name := os.Getenv(Env)
	if name != "" && !slices.Contains(Names, name) {
		return nil, fmt.Errorf("%s=%q: valid values are local and docker (unset: %s)", Env, name, fallbackText(fallback))
	}
	if name == "" {
		name = fallback
	}
	if opts.Hint == "" {
		opts.Hint = "set " + Env + "=local to run nodes as local processes"
	}
	return New(ctx, name, opts)
}

func fallbackText(name string) string {
	if name == "" {
		return "docker when a Docker daemon answers, else local"
	}
	return name
}

// Options tune the chosen backend.
type Options struct {
	// Logger gets the choice and the docker backend's progress.
	Logger *slog.Logger
	// BasePort is the local backend's (local.Options.BasePort).
	BasePort int
	// Available reports whether a Docker daemon answers; nil:
	// docker.Available. (A seam for tests on a machine with a daemon.)
	Available func(context.Context) bool
	// Hint ends the error when the docker backend cannot be used, saying
	// how to choose local ("use --backend local").
	Hint string
}

// Resolve returns the backend name to use: name when it is valid, else
// (name "") docker when a daemon answers within 3 s, else local; why says
// how it was chosen.
func Resolve(ctx context.Context, name string, opts Options) (chosen, why string, err error) {
	switch {
	case name == "":
	case slices.Contains(Names, name):
		return name, "asked for", nil
	default:
		return "", "", fmt.Errorf("unknown backend %q: valid backends are local and docker", name)
	}
	if available(ctx, opts) {
		return "docker", "a Docker daemon answers", nil
	}
	return "local", "no Docker daemon answers", nil
}

func available(ctx context.Context, opts Options) bool {
	f := opts.Available
	if f == nil {
		f = docker.Available
	}
	actx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	return f(actx)
}

// New returns the backend Resolve chooses for name, logging the choice
// when it was not asked for. Asked for docker when no daemon answers, it
// fails with an error that ends with opts.Hint.
func New(ctx context.Context, name string, opts Options) (harness.Backend, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	chosen, why, err := Resolve(ctx, name, opts)
	if err != nil {
		return nil, err
	}
	if name == "" {
		log.Info("backend chosen", "backend", chosen, "why", why)
	}
	hint := ""
	if opts.Hint != "" {
		hint = "; " + opts.Hint
	}
	if chosen == "local" {
		return local.New(local.Options{BasePort: opts.BasePort}), nil
	}
	if name == "docker" && !available(ctx, opts) {
		return nil, fmt.Errorf("docker backend: no Docker daemon answers (is it running, and is DOCKER_HOST right?)%s", hint)
	}
	b, err := docker.New(docker.Options{Logger: log})
	if err != nil {
		return nil, fmt.Errorf("%w%s", err, hint)
	}
	return b, nil
}
