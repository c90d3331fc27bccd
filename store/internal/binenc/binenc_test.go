package binenc

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRoundTrip(t *testing.T) {
	var b []byte
	b = append(b, 7)
	b = AppendString(b, "héllo\x00")
	b = binary.AppendUvarint(b, 1<<40)
	b = binary.AppendVarint(b, -12345)
	b = AppendString(b, "")
	b = binary.AppendUvarint(b, 2) // a count of two 1-byte items
	b = append(b, 1, 2)
	r := NewReader(b)
	assert.Equal(t, byte(7), r.Byte())
	assert.Equal(t, "héllo\x00", r.Str())
	assert.Equal(t, uint64(1<<40), r.Uvarint())
	assert.Equal(t, int64(-12345), r.Varint())
	assert.Equal(t, "", r.Str())
	assert.Equal(t, 2, r.Count(1))
	assert.Equal(t, byte(1), r.Byte())
	assert.Equal(t, byte(2), r.Byte())
	require.NoError(t, r.Err())
	assert.Zero(t, r.Len())
}

func TestBadInputIsAnErrorNotAPanic(t *testing.T) {
	cases := map[string]func(r *Reader){
		"empty byte":         func(r *Reader) { r.Byte() },
		"string past end":    func(r *Reader) { r.Str() },
		"bad uvarint":        func(r *Reader) { r.Uvarint() },
		"huge count":         func(r *Reader) { r.Count(1) },
		"count of wide item": func(r *Reader) { r.Count(8) },
	}
	inputs := map[string][]byte{
		"empty byte":         nil,
		"string past end":    {5, 'a'},
		"bad uvarint":        {0xff, 0xff},
		"huge count":         binary.AppendUvarint(nil, 1<<50),
		"count of wide item": {2, 0, 0, 0, 0, 0, 0, 0, 0},
	}
	for name, read := range cases {
		t.Run(name, func(t *testing.T) {
			r := NewReader(inputs[name])
			read(r)
			require.Error(t, r.Err())
			assert.ErrorIs(t, r.Err(), ErrTruncated)
			// Later reads keep the first error and return zero values.
			assert.Equal(t, "", r.Str())
			assert.ErrorIs(t, r.Err(), ErrTruncated)
		})
	}
}

func TestListsAndEnd(t *testing.T) {
	b := AppendList(nil, []string{"a", "", "ccc"}, AppendString)
	r := NewReader(b)
	assert.Equal(t, []string{"a", "", "ccc"}, ReadList(r, 1, (*Reader).Str))
	require.NoError(t, r.End())

	r = NewReader(append(b, 0))
	ReadList(r, 1, (*Reader).Str)
	assert.Error(t, r.End(), "a byte after the end")

	r = NewReader(b[:len(b)-1])
	ReadList(r, 1, (*Reader).Str)
	assert.ErrorIs(t, r.End(), ErrTruncated)
}

type point struct{ X, Y string }

func readPoint(r *Reader) *point { return &point{X: r.Str(), Y: r.Str()} }

func appendPoint(b []byte, p *point) []byte { return AppendString(AppendString(b, p.X), p.Y) }

func TestBatchesAndRecords(t *testing.T) {
	ps := []*point{{"a", "b"}, {"", "c"}}
	from, got, err := ReadBatch(AppendBatch(nil, "n1", ps, appendPoint), 2, readPoint)
	require.NoError(t, err)
	assert.Equal(t, "n1", from)
	assert.Equal(t, ps, got)

	p, err := DecodeRecord(appendPoint(nil, ps[0]), readPoint)
	require.NoError(t, err)
	assert.Equal(t, ps[0], p)
	p, err = DecodeRecord([]byte(`{"X":"old","Y":"json"}`), readPoint)
	require.NoError(t, err)
	assert.Equal(t, &point{"old", "json"}, p, "JSON, as older versions stored records")
	_, err = DecodeRecord(append(appendPoint(nil, ps[0]), 1), readPoint)
	assert.Error(t, err, "bytes after the record")
}
