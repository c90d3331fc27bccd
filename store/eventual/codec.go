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
	return r, rd.End()
}

// appendBatch encodes a replication message: the sender's id, then the
// records.
func appendBatch(b []byte, from string, recs []*rec) []byte {
	return binenc.AppendList(binenc.AppendString(b, from), recs, func(b []byte, r *rec) []byte { return r.appendBinary(b) })
}

// decodeBatch decodes what appendBatch wrote. A record takes at least 8
// bytes, which bounds what a hostile count can make it allocate.
func decodeBatch(b []byte) (replicateRequest, error) {
	rd := binenc.NewReader(b)
	req := replicateRequest{From: rd.Str()}
	req.Records = binenc.ReadList(rd, 8, readRec)
	return req, rd.End()
}
