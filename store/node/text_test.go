package node_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/store/client"
	"github.com/faultline/faultline/store/node"
)

// Keys and values are UTF-8 text, stored and read back byte for byte:
// characters outside the BMP (a surrogate pair in JSON), U+FFFD itself,
// control characters, HTML characters. Bytes that are not UTF-8 are
// refused by the client before sending (and by the node, TestBadInput),
// never replaced: two different keys must not become one.
func TestTextRoundTrips(t *testing.T) {
	c := startCluster(t, node.ClusterConfig{Nodes: 1})
	waitLeader(t, c)
	cl := newClient(t, c.ClientAddrs()...)
	for _, kv := range [][2]string{
		{"k\U0001F600", "v\U0001F600"},
		{"k\uFFFD", "\uFFFD"},
		{"k\x00\x1f", "<a&b>\u2028\t\n"},
		{"ключ", "значение"},
	} {
		require.NoError(t, cl.Write(ctx5(t), kv[0], kv[1]))
		got, found, err := cl.Read(ctx5(t), kv[0])
		require.NoError(t, err)
		assert.True(t, found, "%q", kv[0])
		assert.Equal(t, kv[1], got, "%q", kv[0])
	}
	for _, kv := range [][2]string{{"k\xff", "v"}, {"k", "v\xc3\x28"}} {
		err := cl.Write(ctx5(t), kv[0], kv[1])
		var na *client.NotAppliedError
		require.True(t, errors.As(err, &na), "not UTF-8 (%q=%q): want a not-applied error, got %v", kv[0], kv[1], err)
		assert.Contains(t, na.Reason, "UTF-8")
	}
	_, found, err := cl.Read(ctx5(t), "k\uFFFD")
	require.NoError(t, err)
	assert.True(t, found)
	got, _, _ := cl.Read(ctx5(t), "k")
	assert.Empty(t, got, "the refused write to k must not apply")
}
