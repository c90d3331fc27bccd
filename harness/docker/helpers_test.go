package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/internal/testbin"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(childMain())
	}
	if os.Getenv("FAULTLINE_DEBUG") != "" {
		slog.SetLogLoggerLevel(slog.LevelDebug)
	}
	os.Exit(testbin.Main(m))
}

// requireDocker skips without a daemon, except in CI (CI=true), where a
// missing daemon fails the test.
func requireDocker(t testing.TB) {
	t.Helper()
	if Available(context.Background()) {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no docker daemon answers, and CI=true: the docker tests must run in CI")
	}
	t.Skip("no docker daemon answers (set DOCKER_HOST or start dockerd)")
}

// testSystem runs internal/testnode: a real process in a real container
// with a durable key-value API, so the backend is tested apart from the
// reference store.
type testSystem struct{ bin string }

func newTestSystem(t testing.TB) testSystem {
	return testSystem{bin: testbin.Build(t, "github.com/faultline/faultline/harness/docker/internal/testnode", "testnode")}
}

func (s testSystem) Name() string   { return "testnode" }
func (s testSystem) Binary() string { return s.bin }
func (s testSystem) Args(n harness.NodeLayout) []string {
	return []string{"--id", n.ID, "--listen", n.ClientListen, "--peer-listen", n.PeerListen, "--data", n.DataDir}
}
func (s testSystem) Ready(ctx context.Context, n harness.Node) error {
	_, err := httpDo(ctx, http.MethodGet, "http://"+n.ClientAddr+"/ready", "")
	return err
}
func (s testSystem) NewClient([]harness.Node, int) (harness.Client, error) {
	return nil, errors.New("testnode has no harness client")
}

func httpDo(ctx context.Context, method, url, body string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, b)
	}
	return string(b), nil
}

func newBackend(t testing.TB) *Backend {
	t.Helper()
	// NoReap: tests run in parallel, and only the reaping test may reap
	// (else another test's New could reap its dead child first).
	b, err := New(Options{NoReap: true, ReadyTimeout: 30 * time.Second})
	require.NoError(t, err)
	return b
}

// startCluster starts a cluster of the test system and removes it when
// the test ends, then checks that nothing of the run is left.
func startCluster(t testing.TB, b *Backend, sys harness.System, nodes int) *Cluster {
	t.Helper()
	runID := fmt.Sprintf("test-%d-%d", os.Getpid(), time.Now().UnixNano())
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := b.StartCluster(ctx, sys, harness.ClusterSpec{RunID: runID, Nodes: nodes, Dir: dir})
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, c.Close(context.Background()))
		requireNothingLeft(t, runID)
	})
	return c
}

// leftovers counts the containers, networks and volumes labelled with run
// id (any run when id is "").
func leftovers(t testing.TB, id string) int {
	t.Helper()
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	require.NoError(t, err)
	defer cli.Close()
	ctx := context.Background()
	label := LabelRun
	if id != "" {
		label += "=" + id
	}
	f := filters.NewArgs(filters.Arg("label", label))
	cs, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	require.NoError(t, err)
	ns, err := cli.NetworkList(ctx, network.ListOptions{Filters: f})
	require.NoError(t, err)
	vs, err := cli.VolumeList(ctx, volume.ListOptions{Filters: f})
	require.NoError(t, err)
	return len(cs) + len(ns) + len(vs.Volumes)
}

func requireNothingLeft(t testing.TB, id string) {
	t.Helper()
	require.Zero(t, leftovers(t, id), "containers, networks or volumes of run %s are left", id)
}

func kvPut(ctx context.Context, addr, key, value string) error {
	_, err := httpDo(ctx, http.MethodPut, "http://"+addr+"/kv/"+key, value)
	return err
}

func kvGet(ctx context.Context, addr, key string) (string, error) {
	return httpDo(ctx, http.MethodGet, "http://"+addr+"/kv/"+key, "")
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

// badFlagSystem is the test system given a flag it does not know: its
// node exits at once, as Go's flag package makes it, with the cause on
// the first line of its log.
type badFlagSystem struct{ testSystem }

func (s badFlagSystem) Args(n harness.NodeLayout) []string {
	return append(s.testSystem.Args(n), "--bogus")
}
