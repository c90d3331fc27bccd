package docker

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/volume"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The reap tests run this test binary again as a stand-in harness, in
// this pid namespace or a new one (unshare --pid --fork), in one of these
// roles (reapRoleEnv):
//
//   - "owner": print ownerLabels as JSON, then live until stdin closes;
//   - "judge": print ownerAlive(labels in reapLabelsEnv) as alive/dead;
//   - "reap": reap the run named in reapLabelsEnv's labels with a real
//     backend, then print "done".
const (
	reapRoleEnv   = "FAULTLINE_REAP_TEST_ROLE"
	reapLabelsEnv = "FAULTLINE_REAP_TEST_LABELS"
)

func init() {
	// init, not TestMain: the role must run before the testing flags
	// matter, whatever TestMain does.
	if role := os.Getenv(reapRoleEnv); role != "" {
		os.Exit(reapChild(role))
	}
}

func reapChild(role string) int {
	var labels map[string]string
	if s := os.Getenv(reapLabelsEnv); s != "" {
		if err := json.Unmarshal([]byte(s), &labels); err != nil {
			fmt.Fprintln(os.Stderr, "reap child:", err)
			return 1
		}
	}
	switch role {
	case "owner":
		b, _ := json.Marshal(ownerLabels("reap-test"))
		fmt.Println(string(b))
		io.Copy(io.Discard, os.Stdin)
		return 0
	case "judge":
		if ownerAlive(labels) {
			fmt.Println("alive")
		} else {
			fmt.Println("dead")
		}
		return 0
	case "reap":
		b, err := New(Options{NoReap: true})
		if err == nil {
			err = b.reap(context.Background(), labels[LabelRun])
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "reap child:", err)
			return 1
		}
		fmt.Println("done")
		return 0
	}
	fmt.Fprintln(os.Stderr, "reap child: unknown role", role)
	return 1
}

// Where a stand-in harness runs.
const (
	hostNS       = "host"            // this process's pid namespace
	newNS        = "new pid ns"      // unshare --pid --fork: /proc is still the host's
	newNSOwnProc = "new pid ns+proc" // unshare --pid --fork --mount-proc: /proc of the new namespace only
)

func childCmd(t *testing.T, where, role string, labels map[string]string) *exec.Cmd {
	t.Helper()
	var args []string
	switch where {
	case hostNS:
	case newNS:
		args = []string{"unshare", "--pid", "--fork"}
	case newNSOwnProc:
		args = []string{"unshare", "--pid", "--fork", "--mount-proc"}
	default:
		t.Fatalf("unknown place %q", where)
	}
	args = append(args, os.Args[0], "-test.run=^$")
	cmd := exec.Command(args[0], args[1:]...)
	lb, err := json.Marshal(labels)
	require.NoError(t, err)
	cmd.Env = append(os.Environ(), reapRoleEnv+"="+role, reapLabelsEnv+"="+string(lb))
	cmd.Stderr = os.Stderr
	return cmd
}

// startOwner starts a stand-in harness and returns its labels and a
// function that ends it and waits for it.
func startOwner(t *testing.T, where string) (map[string]string, func()) {
	t.Helper()
	cmd := childCmd(t, where, "owner", nil)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	stop := func() { stdin.Close(); cmd.Wait() }
	t.Cleanup(stop)
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err, "the owner printed no labels")
	var labels map[string]string
	require.NoError(t, json.Unmarshal([]byte(line), &labels))
	return labels, stop
}

// judge asks a process placed at where whether labels' owner is alive.
func judge(t *testing.T, where string, labels map[string]string) string {
	t.Helper()
	out, err := childCmd(t, where, "judge", labels).Output()
	require.NoError(t, err)
	return strings.TrimSpace(string(out))
}

func requireUnshare(t *testing.T) {
	t.Helper()
	if out, err := exec.Command("unshare", "--pid", "--fork", "--mount-proc", "true").CombinedOutput(); err != nil {
		t.Skipf("cannot make a pid namespace here (needs root and util-linux's unshare): %v: %s", err, out)
	}
}

// A harness must never judge a live harness of another pid namespace
// dead (the pid in its labels means something else here), and should
// judge it dead once it is gone where this process can see that.
func TestOwnerAliveAcrossPIDNamespaces(t *testing.T) {
	requireUnshare(t)
	t.Parallel()
	for _, tc := range []struct {
		owner, judge string
		// whileAlive is always "alive"; afterExit is what can be proved.
		afterExit string
	}{
		{hostNS, hostNS, "dead"},
		{newNS, hostNS, "dead"},
		{newNSOwnProc, hostNS, "dead"},  // the host's /proc shows every namespace
		{hostNS, newNS, "dead"},         // the host's /proc is mounted here too
		{hostNS, newNSOwnProc, "alive"}, // cannot see the host's processes: never reaped from here
		// Another namespace's owner cannot be seen, so it stays alive;
		// but the kernel may give the judge's new namespace the inode of
		// the owner's, freed when it exited, and then the judge rightly
		// sees that namespace's pid 1 started at another time: dead.
		{newNSOwnProc, newNSOwnProc, "alive or dead"},
	} {
		t.Run(tc.owner+" judged from "+tc.judge, func(t *testing.T) {
			t.Parallel()
			labels, stop := startOwner(t, tc.owner)
			assert.Equal(t, "alive", judge(t, tc.judge, labels), "a live owner (labels %v)", labels)
			stop()
			got := judge(t, tc.judge, labels)
			if tc.afterExit == "alive or dead" {
				assert.Contains(t, []string{"alive", "dead"}, got)
				return
			}
			assert.Equal(t, tc.afterExit, got, "the owner has exited (labels %v)", labels)
		})
	}
}

// Labels that cannot name a process on this kernel are alive: nothing
// proves otherwise.
func TestOwnerAliveWithoutProof(t *testing.T) {
	mine := ownerLabels("x")
	with := func(k, v string) map[string]string {
		l := map[string]string{}
		for a, b := range mine {
			l[a] = b
		}
		if v == "" {
			delete(l, k)
		} else {
			l[k] = v
		}
		return l
	}
	for name, labels := range map[string]map[string]string{
		"older harness, no pid namespace": with(LabelOwnerPIDNS, ""),
		"older harness, no boot id":       with(LabelOwnerBoot, ""),
		"another kernel":                  with(LabelOwnerBoot, "00000000-0000-0000-0000-000000000000"),
	} {
		t.Run(name, func(t *testing.T) {
			labels[LabelOwnerPID] = "999999999" // no such process anywhere
			assert.True(t, ownerAlive(labels))
		})
	}
	assert.False(t, ownerAlive(with(LabelOwnerPID, "999999999")), "the full identity of a pid that does not exist here is dead")
	assert.True(t, ownerAlive(mine), "this process is alive")
	assert.False(t, ownerAlive(with(LabelOwnerPIDNS, "pid:[1]")), "no process is in that pid namespace, and this /proc shows every namespace")
}

// The same, through a real daemon: a run (here one labelled volume, the
// cheapest object) owned by a harness in another pid namespace survives
// a reap from the host while its owner lives and is reaped after; a run
// owned by this process survives a reap from a new pid namespace with
// its own /proc.
func TestReapAcrossPIDNamespaces(t *testing.T) {
	requireDocker(t)
	requireUnshare(t)
	t.Parallel()
	b := newBackend(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	newRun := func(labels map[string]string) string {
		id := fmt.Sprintf("reap-test-%d-%d", os.Getpid(), time.Now().UnixNano())
		l := map[string]string{}
		for k, v := range labels {
			l[k] = v
		}
		l[LabelRun] = id
		_, err := b.cli.VolumeCreate(ctx, volume.CreateOptions{Name: "faultline-" + id, Labels: l})
		require.NoError(t, err)
		t.Cleanup(func() { assert.NoError(t, b.removeRun(context.Background(), id)) })
		return id
	}
	exists := func(id string) bool {
		vs, err := b.cli.VolumeList(ctx, volume.ListOptions{Filters: filters.NewArgs(filters.Arg("label", LabelRun+"="+id))})
		require.NoError(t, err)
		return len(vs.Volumes) > 0
	}

	t.Run("owner in a new pid namespace, reaped from the host", func(t *testing.T) {
		labels, stop := startOwner(t, newNSOwnProc)
		id := newRun(labels)
		require.NoError(t, b.reap(ctx, id))
		require.True(t, exists(id), "the run of a live harness in another pid namespace was reaped")
		stop()
		require.NoError(t, b.reap(ctx, id))
		require.False(t, exists(id), "the run of a dead harness was not reaped")
	})
	t.Run("owner on the host, reaped from a new pid namespace", func(t *testing.T) {
		id := newRun(ownerLabels(""))
		out, err := childCmd(t, newNSOwnProc, "reap", map[string]string{LabelRun: id}).Output()
		require.NoError(t, err)
		require.Equal(t, "done", strings.TrimSpace(string(out)))
		require.True(t, exists(id), "the run of this live harness was reaped from another pid namespace")
	})
}
