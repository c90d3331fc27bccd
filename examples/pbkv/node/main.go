// Command node is one node of pbkv, a small primary-backup key-value store
// that faultline did not write for itself: it is here to be tested.
//
// The node with the lowest id is the primary, for good. Every write (PUT,
// and PUT with If-Match: compare-and-set) is executed by the primary: it
// appends the write to its log, fsyncs, applies it and answers; a backup
// forwards writes to the primary. The primary then streams its log to
// every backup in the background, so backups lag. A backup forwards reads
// to the primary too, which makes the store linearizable.
//
// --stale-reads is the deliberate bug: a backup answers reads from its own
// lagging copy. faultline's linearizable checker must catch it.
//
// The client protocol, on --listen (and, for forwarding, on --peer-listen):
//
//	GET  /kv/<key>      200 and the value, 404 when absent
//	PUT  /kv/<key>      body: the value; with If-Match: <expected> it is a
//	                    cas: 412 when the key does not hold <expected>
//	GET  /status        200 once the node serves
//
// A backup that cannot reach the primary answers 503 when it could not
// send the request (it was not applied) and 502 when it may have been.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

type entry struct{ Key, Value string }

type node struct {
	id, primary string
	peers       map[string]string // id -> peer address
	staleReads  bool
	hc          *http.Client

	mu   sync.Mutex
	data map[string]string
	log  []entry // every write applied, in order
	f    *os.File
}

func main() {
	id := flag.String("id", "", "this node's id")
	listen := flag.String("listen", "127.0.0.1:0", "client address")
	peerListen := flag.String("peer-listen", "127.0.0.1:0", "peer address")
	peersFlag := flag.String("peers", "", "other nodes: id=host:port,...")
	dir := flag.String("data", "", "data directory")
	stale := flag.Bool("stale-reads", false, "BUG: backups answer reads from their own copy")
	flag.Parse()
	n := &node{id: *id, peers: map[string]string{}, staleReads: *stale, data: map[string]string{},
		hc: &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{Timeout: time.Second}).DialContext}}}
	ids := []string{*id}
	for _, p := range strings.Split(*peersFlag, ",") {
		if k, v, ok := strings.Cut(p, "="); ok {
			n.peers[k] = v
			ids = append(ids, k)
		}
	}
	sort.Strings(ids)
	n.primary = ids[0]
	if err := n.open(filepath.Join(*dir, "log.jsonl")); err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/kv/", n.serveKV)
	mux.HandleFunc("/replicate", n.serveReplicate)
	mux.HandleFunc("/status", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintf(w, "%s primary=%s\n", n.id, n.primary) })
	if n.id == n.primary {
		for id, addr := range n.peers {
			go n.replicate(id, addr)
		}
	}
	go func() { log.Fatal(http.ListenAndServe(*peerListen, mux)) }()
	log.Printf("%s serving on %s (primary %s, stale reads %v)", n.id, *listen, n.primary, *stale)
	log.Fatal(http.ListenAndServe(*listen, mux))
}

// open replays the log (a torn last line, from a crash mid-write, is
// dropped) and keeps it open for appending.
func (n *node) open(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	var good int64
	r := bufio.NewReader(f)
	for {
		line, err := r.ReadBytes('\n')
		var e entry
		if err != nil || json.Unmarshal(line, &e) != nil {
			break
		}
		good += int64(len(line))
		n.apply(e)
	}
	if err := f.Truncate(good); err != nil {
		return err
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		return err
	}
	n.f = f
	return nil
}

func (n *node) apply(e entry) {
	n.data[e.Key] = e.Value
	n.log = append(n.log, e)
}

// persist appends es to the log file and fsyncs; the caller holds n.mu.
func (n *node) persist(es ...entry) error {
	var b bytes.Buffer
	for _, e := range es {
		j, _ := json.Marshal(e)
		b.Write(append(j, '\n'))
	}
	if _, err := n.f.Write(b.Bytes()); err != nil {
		return err
	}
	return n.f.Sync()
}

func (n *node) serveKV(w http.ResponseWriter, r *http.Request) {
	key := strings.TrimPrefix(r.URL.Path, "/kv/")
	if n.id != n.primary && (r.Method != http.MethodGet || !n.staleReads) {
		n.forward(w, r)
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	cur, found := n.data[key]
	switch r.Method {
	case http.MethodGet:
		if !found {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		io.WriteString(w, cur)
	case http.MethodPut:
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if exp, cas := r.Header["If-Match"]; cas && (!found || cur != exp[0]) {
			http.Error(w, "mismatch", http.StatusPreconditionFailed)
			return
		}
		e := entry{key, string(body)}
		if err := n.persist(e); err != nil {
			// The write may be on disk: the outcome is unknown.
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		n.apply(e)
	default:
		http.Error(w, "GET or PUT", http.StatusMethodNotAllowed)
	}
}

// forward relays a client request to the primary's peer address.
func (n *node) forward(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	req, _ := http.NewRequestWithContext(r.Context(), r.Method, "http://"+n.peers[n.primary]+r.URL.Path, bytes.NewReader(body))
	req.Header = r.Header.Clone()
	resp, err := n.hc.Do(req)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			http.Error(w, "primary unreachable: "+err.Error(), http.StatusServiceUnavailable)
		} else {
			http.Error(w, "primary: "+err.Error(), http.StatusBadGateway)
		}
		return
	}
	defer resp.Body.Close()
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

type batch struct {
	From    int
	Entries []entry
}

// replicate streams the primary's log to one backup, forever.
func (n *node) replicate(id, addr string) {
	next := 0
	for {
		time.Sleep(50 * time.Millisecond)
		n.mu.Lock()
		if next > len(n.log) {
			next = len(n.log)
		}
		b := batch{From: next, Entries: append([]entry(nil), n.log[next:min(len(n.log), next+1000)]...)}
		n.mu.Unlock()
		body, _ := json.Marshal(b)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/replicate", bytes.NewReader(body))
		if resp, err := n.hc.Do(req); err == nil {
			json.NewDecoder(resp.Body).Decode(&next)
			resp.Body.Close()
		}
		cancel()
	}
}

// serveReplicate appends what the backup lacks of a batch and answers the
// index of the next entry it needs.
func (n *node) serveReplicate(w http.ResponseWriter, r *http.Request) {
	var b batch
	if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if have := len(n.log); b.From <= have && have < b.From+len(b.Entries) {
		fresh := b.Entries[have-b.From:]
		if err := n.persist(fresh...); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		for _, e := range fresh {
			n.apply(e)
		}
	}
	json.NewEncoder(w).Encode(len(n.log))
}
