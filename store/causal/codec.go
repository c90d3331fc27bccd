package causal

import (
	"encoding/binary"
	"fmt"

	"github.com/faultline/faultline/store"
	"github.com/faultline/faultline/store/internal/binenc"
)

// recFormat is the first byte of a record's binary encoding. Records
// written by older versions are JSON and start with '{'.
const recFormat = 0x01

// appendRec appends the record's binary encoding: the format byte,
// key, value, origin, seq, Lamport clock, then the dependency vector as
// a count of (origin, seq) pairs.
func appendRec(b []byte, r *rec) []byte {
	b = append(b, recFormat)
	b = binenc.AppendString(b, r.Key)
	b = binenc.AppendString(b, r.Value)
	b = binenc.AppendString(b, r.Origin)
	b = binary.AppendUvarint(b, r.Seq)
	b = binary.AppendUvarint(b, r.Lamport)
	b = binary.AppendUvarint(b, uint64(len(r.Deps)))
	for o, n := range r.Deps {
		b = binenc.AppendString(b, o)
		b = binary.AppendUvarint(b, n)
	}
	return b
}

// encodedBytes bounds the size of the record's binary encoding.
func (r *rec) encodedBytes() int {
	n := len(r.Key) + len(r.Value) + len(r.Origin) + 4*binary.MaxVarintLen64
	for o := range r.Deps {
		n += len(o) + 2*binary.MaxVarintLen64
	}
	return n
}

// readRec reads one record written by appendRec.
func readRec(rd *binenc.Reader) *rec {
	if f := rd.Byte(); f != recFormat && rd.Err() == nil {
		rd.Fail(fmt.Errorf("record format %#x, want %#x", f, recFormat))
	}
	r := &rec{Key: rd.Str(), Value: rd.Str(), Origin: rd.Str(), Seq: rd.Uvarint(), Lamport: rd.Uvarint()}
	if n := rd.Count(2); n > 0 {
		r.Deps = make(store.Token, n)
		for range n {
			o := rd.Str()
			r.Deps[o] = rd.Uvarint()
		}
	}
	return r
}

// decodeRec decodes a stored record: binary, or JSON from an older version.
func decodeRec(v []byte) (*rec, error) { return binenc.DecodeRecord(v, readRec) }

// appendBatch encodes a replication message (see binenc.AppendBatch).
func appendBatch(b []byte, from string, recs []*rec) []byte {
	return binenc.AppendBatch(b, from, recs, appendRec)
}

// decodeBatch decodes what appendBatch wrote. A record takes at least 8
// bytes.
func decodeBatch(b []byte) (replicateRequest, error) {
	from, recs, err := binenc.ReadBatch(b, 8, readRec)
	return replicateRequest{From: from, Writes: recs}, err
}
