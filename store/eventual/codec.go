package eventual

import (
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/faultline/faultline/store/internal/binenc"
)

// recFormat is the first byte of a record's binary encoding. Records
// written by older versions are JSON and start with '{'.
const recFormat = 0x01

// appendBinary appends the record's binary encoding: the format byte,
// key, value, the timestamp (wall, logical, node), origin and seq.
func (r *rec) appendBinary(b []byte) []byte {
	b = append(b, recFormat)
	b = binenc.AppendString(b, r.Key)
	b = binenc.AppendString(b, r.Value)
	b = binary.AppendVarint(b, r.TS.Wall)
	b = binary.AppendUvarint(b, r.TS.Logical)
	b = binenc.AppendString(b, r.TS.Node)
	b = binenc.AppendString(b, r.Origin)
	return binary.AppendUvarint(b, r.Seq)
}

// readRec reads one record written by appendBinary.
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
func decodeRec(v []byte) (*rec, error) {
	if len(v) > 0 && v[0] == '{' {
		r := &rec{}
		return r, json.Unmarshal(v, r)
	}
	rd := binenc.NewReader(v)
	r := readRec(rd)
	if rd.Err() == nil && rd.Len() > 0 {
		rd.Fail(fmt.Errorf("%d bytes after the record", rd.Len()))
	}
	return r, rd.Err()
}

// appendBatch encodes a push: the sender's id, then a count of records.
func appendBatch(b []byte, from string, recs []*rec) []byte {
	b = binenc.AppendString(b, from)
	b = binary.AppendUvarint(b, uint64(len(recs)))
	for _, r := range recs {
		b = r.appendBinary(b)
	}
	return b
}

// decodeBatch decodes what appendBatch wrote.
func decodeBatch(b []byte) (replicateRequest, error) {
	rd := binenc.NewReader(b)
	req := replicateRequest{From: rd.Str()}
	n := rd.Count(8) // a record takes at least 8 bytes
	req.Records = make([]*rec, 0, n)
	for range n {
		req.Records = append(req.Records, readRec(rd))
	}
	if rd.Err() == nil && rd.Len() > 0 {
		rd.Fail(fmt.Errorf("%d bytes after the last record", rd.Len()))
	}
	return req, rd.Err()
}
