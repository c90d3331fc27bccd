package main

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/faultline/faultline/checkers/checkertest"
	"github.com/faultline/faultline/history"
)

// The bench history is a readable history of the promised shape, the same
// for the same seed.
func TestHistoryShape(t *testing.T) {
	events := History(1)
	rr, err := history.Read(bytes.NewReader(checkertest.JSONL(events)))
	if err != nil {
		t.Fatal(err)
	}
	if len(rr.Events) != len(events) || len(events) < 70_000 || len(events) > 80_000 {
		t.Fatalf("%d events read of %d written; want about 75,000", len(rr.Events), len(events))
	}
	keys := map[string]bool{}
	var info, nemesis int
	for _, e := range events {
		switch {
		case e.IsNemesis():
			nemesis++
		case e.Type == history.Info:
			info++
		default:
			keys[e.Key] = true
		}
	}
	if len(keys) != 136 || info == 0 || nemesis < 10 {
		t.Fatalf("%d keys, %d info, %d nemesis events", len(keys), info, nemesis)
	}
	if last := events[len(events)-1].Time; last < 50e9 || last > 70e9 {
		t.Fatalf("history lasts %d ns, want about 60 s", last)
	}
	if !reflect.DeepEqual(History(1), events) {
		t.Fatal("History(1) differs between calls")
	}
}
