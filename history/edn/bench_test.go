package edn_test

import (
	"bytes"
	"testing"

	"github.com/faultline/faultline/checkers/checkertest"
	"github.com/faultline/faultline/history/edn"
)

// BenchmarkRead reads a 20,000-operation kv history written by Write.
func BenchmarkRead(b *testing.B) {
	events := checkertest.Register(checkertest.RegisterConfig{Seed: 1, Ops: 20_000, Processes: 20, Keys: 100, ReadRate: 0.5, CASRate: 0.1, InfoRate: 0.005, Nodes: 3})
	var buf bytes.Buffer
	if err := edn.Write(&buf, events); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	b.ReportAllocs()
	for b.Loop() {
		rr, err := edn.Read(bytes.NewReader(buf.Bytes()))
		if err != nil || len(rr.Events) != len(events) {
			b.Fatal(err)
		}
	}
}
