// Command peers measures the reference store beside etcd on the same
// machine with the same load generator: each system's harness client
// (harness.System.NewClient, the path a test's ops take), fresh 3-node
// clusters of real processes on loopback (fsync on, data in a temp dir),
// repetitions interleaved system by system so that background load falls
// on every system alike, 1 and 64 clients, writes and reads. It prints,
// per system × op × clients, the median over repetitions of ops/s, p50,
// p99 and the servers' CPU per op (the three node processes' user+system
// time), and each figure's ratio to etcd's (linearizable reads; writes
// are the same in both etcd rows).
//
//	go run ./bench/peers -reps 3 -duration 10s      (make bench-peers)
//
// Nodes are plain processes with direct peer addresses (no fault
// proxies: nothing is injected here), so etcd runs here without Docker.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/refstore"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/internal/proccpu"
	"github.com/faultline/faultline/store"
	"github.com/faultline/faultline/systems/etcd"
)

const keys = 1000

// peer is one system configuration in the comparison.
type peer struct {
	name string
	sys  harness.System
}

// cell is one measurement: a system, an op, a client count.
type cell struct {
	peer, op string
	clients  int
}

type sample struct {
	opsPerSec, p50, p99, cpuPerOp float64 // of the ok ops; p50, p99, cpu in µs
	errRate                       float64 // not-ok ops / all ops
	firstErr                      string
}

func main() {
	reps := flag.Int("reps", 3, "interleaved repetitions (each on fresh clusters)")
	duration := flag.Duration("duration", 10*time.Second, "length of each measurement")
	storenode := flag.String("storenode", "bin/storenode", "storenode binary (make build)")
	etcdVersion := flag.String("etcd-version", "", "etcd version to build and cache (default: newest "+etcd.DefaultSeries+".x)")
	etcdBinary := flag.String("etcd-binary", "", "prebuilt static etcd binary")
	clientsFlag := flag.String("clients", "1,64", "client counts")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(log, *reps, *duration, *storenode, *etcdVersion, *etcdBinary, *clientsFlag); err != nil {
		fmt.Fprintln(os.Stderr, "bench-peers:", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger, reps int, d time.Duration, storenode, etcdVersion, etcdBinary, clientsFlag string) error {
	var clients []int
	for _, s := range strings.Split(clientsFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("-clients: %q is not a positive client count", s)
		}
		clients = append(clients, n)
	}
	if reps < 1 || d <= 0 {
		return fmt.Errorf("-reps must be >= 1 and -duration > 0")
	}
	bin, err := filepath.Abs(storenode)
	if err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("storenode binary %s: %w (run make build, or pass -storenode)", bin, err)
	}
	eb, err := etcd.EnsureBinary(context.Background(), etcd.BinaryOptions{Version: etcdVersion, Binary: etcdBinary, Logger: log})
	if err != nil {
		return err
	}
	var peers []peer
	for _, m := range store.Modes {
		s, err := refstore.New(bin, m, nil)
		if err != nil {
			return err
		}
		peers = append(peers, peer{"store-" + string(m), s})
	}
	for _, ser := range []bool{false, true} {
		s, err := etcd.New(eb, etcd.Config{Serializable: ser})
		if err != nil {
			return err
		}
		name := "etcd-linearizable"
		if ser {
			name = "etcd-serializable"
		}
		peers = append(peers, peer{name, s})
	}
	samples := map[cell][]sample{}
	for r := 1; r <= reps; r++ {
		for _, p := range peers {
			log.Info("bench-peers", "rep", r, "system", p.name)
			if err := measure(p, clients, d, samples); err != nil {
				return fmt.Errorf("rep %d, %s: %w", r, p.name, err)
			}
		}
	}
	printTable(os.Stdout, peers, clients, samples, reps, d, eb.Version)
	return nil
}

// measure starts a fresh cluster of p, populates the keys, and measures
// every op × clients cell on it.
func measure(p peer, clients []int, d time.Duration, samples map[cell][]sample) error {
	c, err := startCluster(p.sys)
	if err != nil {
		return err
	}
	defer c.stop()
	ctx := context.Background()
	cl, err := p.sys.NewClient(c.nodes, 0)
	if err != nil {
		return err
	}
	for i := 0; i < keys; i++ {
		for try := 0; ; try++ {
			octx, cancel := context.WithTimeout(ctx, 5*time.Second)
			res := cl.Invoke(octx, harness.Op{F: history.FWrite, Key: key(i), Value: json.RawMessage(`0`), Node: -1})
			cancel()
			if res.Type == history.OK {
				break
			}
			if try > 50 {
				cl.Close()
				return fmt.Errorf("populate %s: %s", key(i), res.Error)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	cl.Close()
	for _, op := range []string{history.FWrite, history.FRead} {
		for _, n := range clients {
			s, err := load(ctx, p.sys, c, op, n, d)
			if err != nil {
				return err
			}
			k := cell{p.name, op, n}
			samples[k] = append(samples[k], s)
		}
	}
	return nil
}

func key(i int) string { return fmt.Sprintf("key-%d", i%keys) }

// load runs n clients, spread round-robin over the nodes, each doing op
// back to back for d, and measures the cell.
func load(ctx context.Context, sys harness.System, c *cluster, op string, n int, d time.Duration) (sample, error) {
	cls := make([]harness.Client, n)
	for i := range cls {
		cl, err := sys.NewClient(c.nodes, i%len(c.nodes))
		if err != nil {
			return sample{}, err
		}
		defer cl.Close()
		cls[i] = cl
	}
	lat := make([][]time.Duration, n)
	errs := make([]int, n)
	var errMu sync.Mutex
	firstErr := ""
	var wg sync.WaitGroup
	cpu0 := c.cpu()
	start := time.Now()
	end := start.Add(d)
	for i := range cls {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := i; time.Now().Before(end); j += n {
				o := harness.Op{F: op, Key: key(j*7919 + i), Node: -1}
				if op == history.FWrite {
					o.Value = json.RawMessage(strconv.Itoa(j))
				}
				octx, cancel := context.WithTimeout(ctx, 10*time.Second)
				t0 := time.Now()
				res := cls[i].Invoke(octx, o)
				took := time.Since(t0)
				cancel()
				if res.Type != history.OK {
					errs[i]++
					errMu.Lock()
					if firstErr == "" {
						firstErr = string(res.Type) + ": " + res.Error
					}
					errMu.Unlock()
					continue
				}
				lat[i] = append(lat[i], took)
			}
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := c.cpu() - cpu0
	var all []time.Duration
	e := 0
	for i := range lat {
		all = append(all, lat[i]...)
		e += errs[i]
	}
	if len(all) == 0 {
		return sample{}, fmt.Errorf("%s with %d clients: no operation succeeded (%d failed; the first: %s)", op, n, e, firstErr)
	}
	slices.Sort(all)
	pct := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))].Microseconds()) }
	// Throughput, latency and CPU are of the ok ops: an op that failed
	// fast must not make a system look faster. The error rate is shown
	// beside them.
	return sample{
		opsPerSec: float64(len(all)) / elapsed.Seconds(),
		p50:       pct(0.5), p99: pct(0.99),
		cpuPerOp: float64(cpu.Microseconds()) / float64(len(all)),
		errRate:  float64(e) / float64(len(all)+e),
		firstErr: firstErr,
	}, nil
}

// cluster is three node processes started through the System's Args.
type cluster struct {
	dir   string
	nodes []harness.Node
	cmds  []*exec.Cmd
	done  []chan struct{}
}

func startCluster(sys harness.System) (*cluster, error) {
	dir, err := os.MkdirTemp("", "faultline-bench-peers-")
	if err != nil {
		return nil, err
	}
	c := &cluster{dir: dir}
	ok := false
	defer func() {
		if !ok {
			c.stop()
		}
	}()
	const n = 3
	ports, err := freePorts(2 * n)
	if err != nil {
		return nil, err
	}
	addr := func(p int) string { return "127.0.0.1:" + strconv.Itoa(p) }
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("n%d", i+1)
		peers := map[string]string{}
		for j := 0; j < n; j++ {
			if j != i {
				peers[fmt.Sprintf("n%d", j+1)] = addr(ports[n+j])
			}
		}
		layout := harness.NodeLayout{ID: id, ClientListen: addr(ports[i]), PeerListen: addr(ports[n+i]), Peers: peers, DataDir: filepath.Join(dir, id)}
		if err := os.MkdirAll(layout.DataDir, 0o755); err != nil {
			return nil, err
		}
		logf, err := os.Create(filepath.Join(dir, id+".log"))
		if err != nil {
			return nil, err
		}
		cmd := exec.Command(sys.Binary(), sys.Args(layout)...)
		cmd.Stdout, cmd.Stderr = logf, logf
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		err = cmd.Start()
		logf.Close()
		if err != nil {
			return nil, fmt.Errorf("start %s: %w", id, err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		c.cmds, c.done = append(c.cmds, cmd), append(c.done, done)
		c.nodes = append(c.nodes, harness.Node{ID: id, ClientAddr: layout.ClientListen})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, nd := range c.nodes {
		if err := sys.Ready(ctx, nd); err != nil {
			b, _ := os.ReadFile(filepath.Join(dir, nd.ID+".log"))
			return nil, fmt.Errorf("node %s not ready: %w\n%s", nd.ID, err, tail(string(b), 2000))
		}
	}
	ok = true
	return c, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

func freePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	var ports []int
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// cpu is the nodes' user+system CPU time so far.
func (c *cluster) cpu() time.Duration {
	var total time.Duration
	for _, cmd := range c.cmds {
		total += proccpu.Of(cmd.Process.Pid)
	}
	return total
}

// stop terminates the nodes (SIGTERM, SIGKILL after 5 s), waits for them
// and removes the data.
func (c *cluster) stop() {
	for _, cmd := range c.cmds {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	}
	for i, cmd := range c.cmds {
		select {
		case <-c.done[i]:
		case <-time.After(5 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-c.done[i]
		}
	}
	os.RemoveAll(c.dir)
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func printTable(w *os.File, peers []peer, clients []int, samples map[cell][]sample, reps int, d time.Duration, etcdVersion string) {
	fmt.Fprintf(w, "\nmedians of %d interleaved repetitions, %s each, fresh 3-node loopback clusters (fsync on), etcd %s; ×etcd: ratio to etcd-linearizable\n\n", reps, d, etcdVersion)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "system\top\tclients\tops/s\t×etcd\tp50 µs\t×etcd\tp99 µs\t×etcd\tnode CPU µs/op\t×etcd\tnot ok\t")
	med := func(k cell, f func(sample) float64) float64 {
		var xs []float64
		for _, s := range samples[k] {
			xs = append(xs, f(s))
		}
		return median(xs)
	}
	fields := []func(sample) float64{
		func(s sample) float64 { return s.opsPerSec },
		func(s sample) float64 { return s.p50 },
		func(s sample) float64 { return s.p99 },
		func(s sample) float64 { return s.cpuPerOp },
	}
	for _, op := range []string{history.FWrite, history.FRead} {
		for _, n := range clients {
			for _, p := range peers {
				k := cell{p.name, op, n}
				ref := cell{"etcd-linearizable", op, n}
				row := []string{p.name, op, strconv.Itoa(n)}
				for _, f := range fields {
					v, r := med(k, f), med(ref, f)
					ratio := "-"
					if r > 0 {
						ratio = fmt.Sprintf("%.2f", v/r)
					}
					row = append(row, fmt.Sprintf("%.0f", v), ratio)
				}
				row = append(row, fmt.Sprintf("%.1f%%", 100*med(k, func(s sample) float64 { return s.errRate })))
				fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
			}
		}
	}
	tw.Flush()
	for _, op := range []string{history.FWrite, history.FRead} {
		for _, n := range clients {
			for _, p := range peers {
				for r, s := range samples[cell{p.name, op, n}] {
					if s.firstErr != "" {
						fmt.Fprintf(w, "%s %s %d clients, rep %d: %.1f%% not ok, the first: %s\n", p.name, op, n, r+1, 100*s.errRate, s.firstErr)
					}
				}
			}
		}
	}
}
