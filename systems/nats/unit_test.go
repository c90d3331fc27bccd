package nats

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/history"
)

// The outcome of a failed publish, as data: fail only when the message
// certainly reached no stream.
func TestPublishOutcome(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want history.Type
	}{
		{jetstream.ErrNoStreamResponse, history.Fail},
		{nats.ErrNoResponders, history.Fail},
		{nats.ErrReconnectBufExceeded, history.Fail},
		{nats.ErrMaxPayload, history.Fail},
		{fmt.Errorf("wrapped: %w", nats.ErrConnectionDraining), history.Fail},
		{context.DeadlineExceeded, history.Info},
		{nats.ErrTimeout, history.Info},
		{nats.ErrConnectionClosed, history.Info}, // also returned after the send
		{nats.ErrDisconnected, history.Info},
		{&jetstream.APIError{Code: 503, ErrorCode: 10008, Description: "JetStream system temporarily unavailable"}, history.Info},
		{errors.New("anything else"), history.Info},
	} {
		assert.Equal(t, tc.want, publishOutcome(tc.err), "%v", tc.err)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	bin := Binary{Path: "/bin/nats-server", Version: "v2.15.3"}
	for _, tc := range []struct {
		cfg Config
		err string
	}{
		{Config{SyncInterval: "sometimes"}, `want "always" or a positive duration`},
		{Config{SyncInterval: "-1s"}, "positive duration"},
		{Config{Replicas: -1}, "replicas must be >= 0"},
	} {
		_, err := New(bin, tc.cfg)
		require.Error(t, err)
		assert.Contains(t, err.Error(), tc.err)
	}
	_, err := New(Binary{}, Config{})
	assert.ErrorContains(t, err, "no binary")
	for _, ok := range []string{"", "always", "10s"} {
		_, err := New(bin, Config{SyncInterval: ok})
		assert.NoError(t, err, ok)
	}
}

func TestArgsAndNodeFiles(t *testing.T) {
	n := harness.NodeLayout{ID: "n2", ClientListen: "10.0.0.2:7000", PeerListen: "10.0.0.2:7001",
		Peers: map[string]string{"n3": "10.0.0.3:7001", "n1": "10.0.0.1:7001"}, DataDir: "/data"}
	bin := Binary{Path: "/bin/nats-server", Version: "v2.15.3"}

	def, err := New(bin, Config{})
	require.NoError(t, err)
	args := strings.Join(def.Args(n), " ")
	assert.Equal(t, "--name n2 --addr 10.0.0.2 --port 7000 --cluster_name faultline --cluster nats://10.0.0.2:7001 "+
		"--routes nats://10.0.0.1:7001,nats://10.0.0.3:7001 --jetstream --store_dir /data/jetstream", args)
	assert.Nil(t, def.NodeFiles(n), "the server's default needs no configuration file")
	assert.Equal(t, "server default (2m)", def.Options()["nats_sync_interval"])

	always, err := New(bin, Config{SyncInterval: SyncAlways})
	require.NoError(t, err)
	assert.Equal(t, []string{"--config", "/data/nats.conf"}, always.Args(n)[:2])
	assert.Equal(t, "jetstream {\n  sync_interval: \"always\"\n}\n", string(always.NodeFiles(n)["nats.conf"]))
	assert.Equal(t, "always", always.Options()["nats_sync_interval"])
}
