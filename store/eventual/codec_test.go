package eventual

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRecordEncodingRoundTripsAndReadsOldJSON(t *testing.T) {
	for _, r := range []*rec{
		{Key: "k", Value: "v", TS: TS{Wall: 1_700_000_000_000_000_000, Logical: 2, Node: "a"}, Origin: "a", Seq: 1},
		{Key: "", Value: "\x00\"<>", TS: TS{Wall: -5, Node: "n3"}, Origin: "n3", Seq: 1 << 40},
	} {
		got, err := decodeRec(appendRec(nil, r))
		require.NoError(t, err)
		assert.Equal(t, r, got)
		old, err := json.Marshal(r)
		require.NoError(t, err)
		got, err = decodeRec(old)
		require.NoError(t, err)
		assert.Equal(t, r, got, "a record written as JSON by an older version still reads")
	}
}

func TestBadPushIsRefused(t *testing.T) {
	c := newCluster(t, []string{"a"}, nil)
	good := appendBatch(nil, "b", []*rec{{Key: "x", Value: "1", TS: TS{Wall: 1, Node: "b"}, Origin: "b", Seq: 1}})
	for name, body := range map[string][]byte{
		"json":       []byte(`{"records":[{"k":"x"}]}`),
		"truncated":  good[:len(good)-1],
		"trailing":   append(append([]byte(nil), good...), 0),
		"no origin":  appendBatch(nil, "b", []*rec{{Key: "x", TS: TS{Wall: 1, Node: "b"}}}),
		"no ts node": appendBatch(nil, "b", []*rec{{Key: "x", Origin: "b"}}),
		"huge count": {1, 'b', 0xff, 0xff, 0xff, 0xff, 0x0f},
	} {
		resp, err := http.Post("http://"+c.Nodes["a"].Ln.Addr().String()+pathReplicate, "application/octet-stream", bytes.NewReader(body))
		require.NoError(t, err, name)
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s: %s", name, msg)
	}
	_, found := read(t, c.Nodes["a"].Eng, "x")
	assert.False(t, found, "nothing of a refused push is applied")
	resp, err := http.Post("http://"+c.Nodes["a"].Ln.Addr().String()+pathReplicate, "application/octet-stream", bytes.NewReader(good))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	v, found := read(t, c.Nodes["a"].Eng, "x")
	assert.True(t, found)
	assert.Equal(t, "1", v)
}

// Pushes come from the network: decoding any bytes must return an error
// or a batch that encodes back to the same records.
func FuzzDecodeBatch(f *testing.F) {
	f.Add(appendBatch(nil, "n1", []*rec{{Key: "k", Value: "v", TS: TS{Wall: 5, Logical: 1, Node: "n1"}, Origin: "n1", Seq: 1}}))
	f.Add([]byte{})
	f.Add([]byte{2, 'n', '1', 1, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := decodeBatch(b)
		if err != nil {
			return
		}
		again, err := decodeBatch(appendBatch(nil, req.From, req.Records))
		require.NoError(t, err)
		require.Equal(t, req, again)
	})
}
