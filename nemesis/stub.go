package nemesis

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// ParseSpec parses --nemesis: a comma-separated list of Faults, "all" or
// "none" ("" = none).
func ParseSpec(spec string) ([]string, error) {
	var out []string
	for _, name := range strings.Split(spec, ",") {
		name = strings.TrimSpace(name)
		switch name {
		case "", "none":
			continue
		case "all":
			out = append(out, Faults...)
			continue
		}
		known := false
		for _, f := range Faults {
			known = known || f == name
		}
		if !known {
			return nil, fmt.Errorf("unknown nemesis %q: valid names are %s, all, none", name, strings.Join(Faults, ", "))
		}
		out = append(out, name)
	}
	return out, nil
}

// Nemesis injects faults on a schedule drawn from its seed.
type Nemesis struct{ cfg Config }

// New returns a nemesis for cfg.
func New(cfg Config) (*Nemesis, error) { return &Nemesis{cfg: cfg}, nil }

// Run injects and heals faults with random gaps until ctx is done,
// recording each as an event. It returns nil when ctx ends normally and an
// error when a fault could not be applied.
func (n *Nemesis) Run(ctx context.Context, t Target, rec Recorder) error {
	if len(n.cfg.Faults) == 0 {
		<-ctx.Done()
		return nil
	}
	return errors.New("nemesis: not implemented yet")
}

// Heal undoes every fault still active (and resets clocks, restarts killed
// nodes, resumes paused ones), recording a stop- event for each.
func (n *Nemesis) Heal(ctx context.Context, t Target, rec Recorder) error { return nil }

// Active describes the faults active now, for the progress line ("" = none).
func (n *Nemesis) Active() string { return "" }
