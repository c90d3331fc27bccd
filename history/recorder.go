package history

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// Recorder appends events to a history file while a run goes. It assigns
// each event its index and time (nanoseconds since the recorder was
// created, from the monotonic clock) under one lock, so the file is in the
// order events happened. The buffer is flushed to the file every
// FlushInterval and fsynced every SyncInterval and on Close, so a harness
// killed half-way leaves a history that Read can still read (at most a torn
// last line, which Read skips with a warning).
//
// A Recorder is safe for concurrent use.
type Recorder struct {
	mu      sync.Mutex
	f       *os.File
	w       *bufio.Writer
	enc     *json.Encoder
	start   time.Time
	next    int64
	err     error // first write error; sticky
	closed  bool
	stop    chan struct{}
	stopped chan struct{}
}

// Flush and sync intervals of a Recorder.
const (
	FlushInterval = 20 * time.Millisecond
	SyncInterval  = time.Second
)

// ErrRecorderClosed is returned by Record after Close.
var ErrRecorderClosed = errors.New("history recorder is closed")

// NewRecorder creates (or truncates) the history file at path. Time zero
// of the history is now.
func NewRecorder(path string) (*Recorder, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create history: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<16)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	r := &Recorder{f: f, w: w, enc: enc, start: time.Now(), stop: make(chan struct{}), stopped: make(chan struct{})}
	go r.loop()
	return r, nil
}

// Start is the recorder's time zero.
func (r *Recorder) Start() time.Time { return r.start }

// Now is the current history time: nanoseconds since Start.
func (r *Recorder) Now() int64 { return int64(time.Since(r.start)) }

// Record stamps e with the next index and the current time, appends it, and
// returns the stamped event.
func (r *Recorder) Record(e Event) (Event, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return e, ErrRecorderClosed
	}
	if r.err != nil {
		return e, r.err
	}
	e.Index = r.next
	e.Time = int64(time.Since(r.start))
	if e.Value == nil {
		e.Value = Null
	}
	if err := r.enc.Encode(&e); err != nil {
		r.err = fmt.Errorf("write history: %w", err)
		return e, r.err
	}
	r.next++
	return e, nil
}

func (r *Recorder) loop() {
	defer close(r.stopped)
	flush := time.NewTicker(FlushInterval)
	defer flush.Stop()
	lastSync := time.Now()
	for {
		select {
		case <-r.stop:
			return
		case <-flush.C:
			r.mu.Lock()
			if r.err == nil && r.w.Buffered() > 0 {
				if err := r.w.Flush(); err != nil {
					r.err = fmt.Errorf("flush history: %w", err)
				}
			}
			doSync := time.Since(lastSync) >= SyncInterval
			r.mu.Unlock()
			if doSync {
				// fsync outside the lock: Record keeps going meanwhile.
				if err := r.f.Sync(); err != nil {
					r.mu.Lock()
					if r.err == nil {
						r.err = fmt.Errorf("sync history: %w", err)
					}
					r.mu.Unlock()
				}
				lastSync = time.Now()
			}
		}
	}
}

// Close flushes, fsyncs and closes the file. It returns the first error
// met while recording, if any.
func (r *Recorder) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()
	close(r.stop)
	<-r.stopped
	r.mu.Lock()
	defer r.mu.Unlock()
	err := r.err
	if ferr := r.w.Flush(); err == nil && ferr != nil {
		err = fmt.Errorf("flush history: %w", ferr)
	}
	if serr := r.f.Sync(); err == nil && serr != nil {
		err = fmt.Errorf("sync history: %w", serr)
	}
	if cerr := r.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close history: %w", cerr)
	}
	return err
}
