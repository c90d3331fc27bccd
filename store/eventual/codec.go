package eventual

import (
	"encoding/binary"
	"fmt"

	"github.com/faultline/faultline/store/internal/binenc"
)

// recFormat is the first byte of a record's binary encoding. Records
// written by older versions are JSON and start with '{'.
const recFormat = 0x01

// appendRec appends the record's binary encoding: the format byte,
// key, value, the timestamp (wall, logical, node), origin and seq.
func appendRec(b []byte, r *rec) []byte {
	b = append(b, recFormat)
	b = binenc.AppendString(b, r.Key)
	b = binenc.AppendString(b, r.Value)
	b = binary.AppendVarint(b, r.TS.Wall)
	b = binary.AppendUvarint(b, r.TS.Logical)
	b = binenc.AppendString(b, r.TS.Node)
	b = binenc.AppendString(b, r.Origin)
	return binary.AppendUvarint(b, r.Seq)
}

// encodedBytes bounds the size of the record's binary encoding.
func (r *rec) encodedBytes() int {
	return len(r.Key) + len(r.Value) + len(r.TS.Node) + len(r.Origin) + 8*binary.MaxVarintLen64
}

// readRec reads one record written by appendRec.
func readRec(rd *binenc.Reader) *rec {
	if f := rd.Byte(); f != recFormat && rd.Err() == nil {
		rd.Fail(fmt.Errorf("record format %#x, want %#x", f, recFormat))
	}
	r := &rec{Key: rd.Str(), Value: rd.Str()}
	r.TS = TS{Wall: rd.Varint(), Logical: rd.Uvarint(), Node: rd.Str()}
	r.Origin, r.Seq = rd.Str(), rd.Uvarint()
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
	return replicateRequest{From: from, Records: recs}, err
}
