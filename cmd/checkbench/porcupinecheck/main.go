// Command porcupinecheck is the peer that `checkbench` measures `faultline
// check --model linearizable` against: the minimal program a user would
// write to check a history.jsonl with Porcupine alone. It decodes each line
// with encoding/json, pairs invokes with completions as it goes, and calls
// porcupine.CheckOperations with a register model partitioned by key. It
// reads register operations the way the history contract says (README,
// "The history contract"), so its verdict must match faultline's.
//
// Usage: porcupinecheck history.jsonl; prints valid or invalid, exit 0 or 1
// (2 when the input cannot be read).
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"

	"github.com/anishathalye/porcupine"
)

type event struct {
	Process int             `json:"process"`
	Type    string          `json:"type"`
	F       string          `json:"f"`
	Key     string          `json:"key"`
	Value   json.RawMessage `json:"value"`
	Time    int64           `json:"time"`
	Error   string          `json:"error"`
}

type input struct {
	key, f, value, expected string
}

type output struct {
	value    string
	mismatch bool // a failed cas: the key did not hold expected
	info     bool
}

// valueText is a value as written ("null" when absent): the values of the
// bench's histories are integers, written one way.
func valueText(v json.RawMessage) string {
	if len(v) == 0 {
		return "null"
	}
	return string(v)
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: porcupinecheck history.jsonl")
		os.Exit(2)
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var ops []porcupine.Operation
	open := map[int]int{} // process -> its op in ops
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<26)
	for sc.Scan() {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		if e.Process < 0 {
			continue // the nemesis
		}
		if e.Type == "invoke" {
			in := input{key: e.Key, f: e.F}
			switch e.F {
			case "write":
				in.value = valueText(e.Value)
			case "cas":
				var pair []json.RawMessage
				if json.Unmarshal(e.Value, &pair) != nil || len(pair) != 2 {
					fmt.Fprintln(os.Stderr, "bad cas value", string(e.Value))
					os.Exit(2)
				}
				in.expected, in.value = valueText(pair[0]), valueText(pair[1])
			}
			open[e.Process] = len(ops)
			ops = append(ops, porcupine.Operation{ClientId: e.Process, Input: in, Call: e.Time,
				Output: output{info: true}, Return: math.MaxInt64})
			continue
		}
		i, ok := open[e.Process]
		if !ok {
			continue
		}
		delete(open, e.Process)
		op := &ops[i]
		switch e.Type {
		case "ok":
			op.Output = output{value: valueText(e.Value)}
			op.Return = e.Time
		case "fail":
			if e.F == "cas" && e.Error == "mismatch" {
				op.Output = output{mismatch: true}
				op.Return = e.Time
			} else {
				op.Input = nil // did nothing: dropped below
			}
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	f.Close()
	// Drop what tells nothing: failed ops and reads of unknown outcome.
	n := 0
	for _, op := range ops {
		in, ok := op.Input.(input)
		if !ok || (in.f == "read" && op.Output.(output).info) || (in.f != "read" && in.f != "write" && in.f != "cas") {
			continue
		}
		ops[n] = op
		n++
	}
	ops = ops[:n]
	if porcupine.CheckOperations(model, ops) {
		fmt.Println("valid")
		return
	}
	fmt.Println("invalid")
	os.Exit(1)
}

// model is a register per key, absent ("null") at first; a cas never
// succeeds on an absent key, and an info write or cas may take effect or not.
var model = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range h {
			k := op.Input.(input).key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		out := make([][]porcupine.Operation, len(keys))
		for i, k := range keys {
			out[i] = byKey[k]
		}
		return out
	},
	Init: func() any { return "null" },
	Step: func(state, in, out any) (bool, any) {
		s, i, o := state.(string), in.(input), out.(output)
		switch i.f {
		case "read":
			return o.value == s, s
		case "write":
			return true, i.value
		}
		matches := s == i.expected && s != "null"
		switch {
		case o.mismatch:
			return !matches, s
		case o.info && !matches:
			return true, s
		}
		if !matches {
			return false, s
		}
		return true, i.value
	},
	Equal: func(a, b any) bool { return a == b },
}
