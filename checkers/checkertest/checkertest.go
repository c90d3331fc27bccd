// Package checkertest builds histories for tests and benchmarks of the
// checkers: a compact Builder for hand-made histories, and generators that
// simulate a single-copy atomic store (so their histories are valid under
// every model) with random concurrency, info and lost completions.
//
// It is a test helper: it does no IO and imports only the history
// contract, so the harness's tests may use it too.
package checkertest

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/faultline/faultline/history"
)

// Builder builds a history event by event. Times advance by 1 per event;
// indices are assigned in order. Values are encoded as JSON (nil is null).
type Builder struct {
	events []history.Event
	open   map[int]history.Event
	final  bool
}

// New returns an empty Builder.
func New() *Builder { return &Builder{open: map[int]history.Event{}} }

func (b *Builder) add(e history.Event) *Builder {
	e.Index = int64(len(b.events))
	e.Time = int64(len(b.events)) * 10
	b.events = append(b.events, e)
	return b
}

func value(v any) json.RawMessage {
	if v == nil {
		return history.Null
	}
	if r, ok := v.(json.RawMessage); ok {
		return r
	}
	return history.MustValue(v)
}

// Invoke starts an operation of process p.
func (b *Builder) Invoke(p int, f, key string, v any) *Builder {
	e := history.Event{Process: p, Type: history.Invoke, F: f, Key: key, Value: value(v), Final: b.final}
	b.open[p] = e
	return b.add(e)
}

// Node sets the node of process p's open invoke.
func (b *Builder) Node(p int, node string) *Builder {
	for i := len(b.events) - 1; i >= 0; i-- {
		if b.events[i].Process == p && b.events[i].Type == history.Invoke {
			b.events[i].Node = node
			e := b.open[p]
			e.Node = node
			b.open[p] = e
			break
		}
	}
	return b
}

func (b *Builder) complete(p int, t history.Type, v any, errMsg string) *Builder {
	inv, ok := b.open[p]
	if !ok {
		panic(fmt.Sprintf("checkertest: process %d completes no open invoke", p))
	}
	delete(b.open, p)
	val := inv.Value
	if inv.F == history.FRead {
		val = value(v)
	}
	return b.add(history.Event{Process: p, Type: t, F: inv.F, Key: inv.Key, Value: val, Error: errMsg, Node: inv.Node, Final: inv.Final})
}

// OK completes process p's operation; v is a read's result (ignored otherwise).
func (b *Builder) OK(p int, v any) *Builder { return b.complete(p, history.OK, v, "") }

// Fail completes process p's operation as failed with the error errMsg.
func (b *Builder) Fail(p int, errMsg string) *Builder {
	return b.complete(p, history.Fail, nil, errMsg)
}

// Info completes process p's operation with an unknown outcome.
func (b *Builder) Info(p int) *Builder { return b.complete(p, history.Info, nil, "timeout") }

// Write is an invoke and an ok of a write.
func (b *Builder) Write(p int, key string, v any) *Builder {
	return b.Invoke(p, history.FWrite, key, v).OK(p, nil)
}

// Read is an invoke and an ok of a read that returned v.
func (b *Builder) Read(p int, key string, v any) *Builder {
	return b.Invoke(p, history.FRead, key, nil).OK(p, v)
}

// CAS is an invoke and an ok of a cas from expected to new.
func (b *Builder) CAS(p int, key string, expected, new any) *Builder {
	return b.Invoke(p, history.FCAS, key, []any{expected, new}).OK(p, nil)
}

// FinalRead is a final read (after the cluster healed) on node.
func (b *Builder) FinalRead(p int, node, key string, v any) *Builder {
	b.final = true
	b.Invoke(p, history.FRead, key, nil).Node(p, node)
	b.final = false
	return b.OK(p, v)
}

// FinalInvoke starts a final read on node; complete it with OK, Fail or
// Info.
func (b *Builder) FinalInvoke(p int, node, key string) *Builder {
	b.final = true
	b.Invoke(p, history.FRead, key, nil).Node(p, node)
	b.final = false
	return b
}

// Add is an invoke and an ok of a set add.
func (b *Builder) Add(p int, key string, elem int) *Builder {
	return b.Invoke(p, history.FAdd, key, elem).OK(p, nil)
}

// SetRead is an invoke and an ok of a set read; final marks a final read.
func (b *Builder) SetRead(p int, key string, final bool, elems ...int) *Builder {
	b.final = final
	b.Invoke(p, history.FRead, key, nil)
	b.final = false
	if elems == nil {
		elems = []int{}
	}
	return b.OK(p, elems)
}

// Nemesis records a nemesis event, e.g. "start-partition".
func (b *Builder) Nemesis(f string, v any) *Builder {
	return b.add(history.Event{Process: history.NemesisProcess, Type: history.Info, F: f, Value: value(v)})
}

// Events returns the history built so far.
func (b *Builder) Events() []history.Event {
	return append([]history.Event(nil), b.events...)
}

// JSONL returns the history as history.jsonl content.
func (b *Builder) JSONL() []byte { return JSONL(b.events) }

// JSONL encodes events as history.jsonl content.
func JSONL(events []history.Event) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for _, e := range events {
		if e.Value == nil {
			e.Value = history.Null
		}
		if err := enc.Encode(e); err != nil {
			panic(err) // events are plain data: cannot fail
		}
	}
	return buf.Bytes()
}

// HardRegister is one register key that the linearizability search cannot
// decide within a small bound, and that no quicker rule decides either: n
// concurrent writes of 0..n-1 on key "k", and while they are all open one
// process (100) reads n-1, n-2, ..., 0, then n-1 again. It is not
// linearizable (each write takes effect once); at n = 22 the search gives
// up at 512 MiB after seconds. Tests of bounds, deadlines and interrupts
// use it.
func HardRegister(n int) *Builder {
	h := New()
	for i := range n {
		h.Invoke(i, "write", "k", i)
	}
	for v := n - 1; v >= 0; v-- {
		h.Read(100, "k", v)
	}
	h.Read(100, "k", n-1)
	for i := range n {
		h.OK(i, nil)
	}
	return h
}
