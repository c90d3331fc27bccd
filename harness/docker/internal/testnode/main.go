// Command testnode is a minimal node for the docker backend's own tests,
// so they do not depend on the reference store: it serves GET /ready and a
// durable key-value API (PUT/GET /kv/<key>, one fsynced file per key in
// --data) on --listen, and GET /ping on --peer-listen. It is a real
// process in a real container; only the store's replication is absent.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	id := flag.String("id", "", "node id")
	listen := flag.String("listen", "127.0.0.1:7000", "client address")
	peerListen := flag.String("peer-listen", "127.0.0.1:7001", "peer address")
	data := flag.String("data", "/data", "data directory")
	flag.String("peers", "", "ignored")
	flag.Parse()
	log.SetPrefix(*id + " ")
	log.Printf("starting: listen %s peer-listen %s data %s", *listen, *peerListen, *data)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ready") })
	mux.HandleFunc("PUT /kv/{key}", func(w http.ResponseWriter, r *http.Request) {
		key := r.PathValue("key")
		if strings.ContainsAny(key, "/.") {
			http.Error(w, "bad key", http.StatusBadRequest)
			return
		}
		b, err := io.ReadAll(r.Body)
		if err == nil {
			err = writeSync(filepath.Join(*data, key), b)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		log.Printf("put %s", key)
	})
	mux.HandleFunc("GET /kv/{key}", func(w http.ResponseWriter, r *http.Request) {
		b, err := os.ReadFile(filepath.Join(*data, filepath.Base(r.PathValue("key"))))
		if errors.Is(err, os.ErrNotExist) {
			http.NotFound(w, r)
			return
		} else if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Write(b)
	})
	peer := http.NewServeMux()
	peer.HandleFunc("GET /ping", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "pong") })
	go func() { log.Fatal(http.ListenAndServe(*peerListen, peer)) }()
	log.Fatal(http.ListenAndServe(*listen, mux))
}

func writeSync(path string, b []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
