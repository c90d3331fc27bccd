package systemtest_test

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/refstore"
	"github.com/faultline/faultline/harness/systemtest"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/internal/testbin"
	"github.com/faultline/faultline/store"
)

func TestMain(m *testing.M) { os.Exit(testbin.Main(m)) }

// liarEnv, when set, makes TestLiar run the suite on a system whose client
// misclassifies outcomes in the named way.
const liarEnv = "FAULTLINE_SYSTEMTEST_LIAR"

// liar is the reference store in strong mode with a client that rewrites
// one kind of completion.
type liar struct {
	*refstore.System
	rewrite func(harness.Completion) harness.Completion
}

func (l liar) NewClient(nodes []harness.Node, first int) (harness.Client, error) {
	c, err := l.System.NewClient(nodes, first)
	return lyingClient{c, l.rewrite}, err
}

type lyingClient struct {
	harness.Client
	rewrite func(harness.Completion) harness.Completion
}

func (c lyingClient) Invoke(ctx context.Context, op harness.Op) harness.Completion {
	return c.rewrite(c.Client.Invoke(ctx, op))
}

var liars = map[string]func(harness.Completion) harness.Completion{
	// Calls every unknown outcome a failure: a checker would then rule
	// out writes that did take effect.
	"info-as-fail": func(c harness.Completion) harness.Completion {
		if c.Type == history.Info {
			c.Type = history.Fail
		}
		return c
	},
	// Calls every failure unknown, even when nothing was sent.
	"fail-as-info": func(c harness.Completion) harness.Completion {
		if c.Type == history.Fail && c.Error != history.ErrorMismatch {
			c.Type = history.Info
		}
		return c
	},
	// Reports a mismatched cas as a plain failure.
	"mismatch-unnamed": func(c harness.Completion) harness.Completion {
		if c.Error == history.ErrorMismatch {
			c.Error = "precondition failed"
		}
		return c
	},
}

func TestLiar(t *testing.T) {
	name := os.Getenv(liarEnv)
	if name == "" {
		t.Skip("run by TestCatchesMisclassifiedOutcomes")
	}
	sys, err := refstore.New(testbin.Storenode(t), store.Strong, nil)
	if err != nil {
		t.Fatal(err)
	}
	systemtest.Run(t, systemtest.Config{System: liar{sys, liars[name]}})
}

// The suite fails a client that misclassifies outcomes, at the check that
// covers it (each case runs the suite in a child test binary, so that its
// failure can be observed).
func TestCatchesMisclassifiedOutcomes(t *testing.T) {
	for name, failsAt := range map[string]string{
		"info-as-fail":     "a_write_to_a_paused_node_that_times_out_is_info",
		"fail-as-info":     "a_write_to_a_killed_node_is_fail",
		"mismatch-unnamed": "cas_matches_or_fails_with_mismatch",
	} {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run", "^TestLiar$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), liarEnv+"="+name)
			out, err := cmd.CombinedOutput()
			// The failed suite keeps its cluster's directory for a person
			// to read; this failure is the expected one.
			if m := regexp.MustCompile(`node logs and data kept in (\S+)`).FindSubmatch(out); m != nil {
				os.RemoveAll(string(m[1]))
			}
			if err == nil {
				t.Fatalf("the suite passed a client that lies (%s):\n%s", name, out)
			}
			if !strings.Contains(string(out), "--- FAIL: TestLiar/"+failsAt) {
				t.Fatalf("want the check %s to fail:\n%s", failsAt, out)
			}
		})
	}
}

// childEnv, when set, makes TestBackendChild run the suite with no
// Backend, for TestBackendComesFromTheEnvironment.
const childEnv = "FAULTLINE_SYSTEMTEST_CHILD"

func TestBackendChild(t *testing.T) {
	if os.Getenv(childEnv) == "" {
		t.Skip("run by TestBackendComesFromTheEnvironment")
	}
	sys, err := refstore.New(testbin.Storenode(t), store.Strong, nil)
	if err != nil {
		t.Fatal(err)
	}
	systemtest.Run(t, systemtest.Config{System: sys})
}

// With no Backend, the suite takes $FAULTLINE_BACKEND (through
// harness/backends, as reftest and harnesstest do): a value that names
// no backend fails it before any node starts.
func TestBackendComesFromTheEnvironment(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run", "^TestBackendChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"=1", "FAULTLINE_BACKEND=k8s")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the suite ignored FAULTLINE_BACKEND=k8s:\n%s", out)
	}
	if want := `systemtest: FAULTLINE_BACKEND="k8s": valid values are local and docker (unset: local)`; !strings.Contains(string(out), want) {
		t.Fatalf("want %q:\n%s", want, out)
	}
}
