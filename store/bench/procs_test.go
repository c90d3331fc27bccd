package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/proccpu"
	"github.com/faultline/faultline/internal/testbin"
	"github.com/faultline/faultline/store"
)

// procCluster is a cluster of real storenode processes on loopback, as
// the local backend and the README's hand-made cluster run it: each node
// has its own Go runtime (its own scheduler and GC), which an in-process
// cluster would share with the clients.
type procCluster struct {
	mode   store.Mode
	addrs  []string
	peers  []string // peer addresses
	cmds   []*exec.Cmd
	exited []chan struct{} // closed when the node's process has ended
	logs   []string
}

// startProcs starts n storenode processes in mode with data and logs in
// dir, and waits until every node answers (and, in strong mode, agrees
// on a leader).
func startProcs(b *testing.B, mode store.Mode, n int, dir string) *procCluster {
	b.Helper()
	bin, err := testbin.BuildErr(testbin.StorenodePkg, "storenode")
	if err != nil {
		b.Fatal(err)
	}
	ports := freePorts(b, 2*n)
	var peers []string
	for i := 0; i < n; i++ {
		peers = append(peers, fmt.Sprintf("n%d=127.0.0.1:%d", i+1, ports[n+i]))
	}
	c := &procCluster{mode: mode}
	b.Cleanup(c.stop)
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("n%d", i+1)
		logPath := filepath.Join(dir, id+".log")
		logf, err := os.Create(logPath)
		if err != nil {
			b.Fatal(err)
		}
		cmd := exec.Command(bin, "--id", id, "--mode", string(mode), "--data", filepath.Join(dir, id),
			"--listen", fmt.Sprintf("127.0.0.1:%d", ports[i]), "--peer-listen", fmt.Sprintf("127.0.0.1:%d", ports[n+i]),
			"--peers", strings.Join(peers, ","))
		cmd.Stdout, cmd.Stderr = logf, logf
		// Killed with the benchmark, even if it dies without cleanup.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			logf.Close()
			b.Fatalf("start %s: %v", id, err)
		}
		logf.Close()
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		c.exited = append(c.exited, exited)
		c.cmds = append(c.cmds, cmd)
		c.logs = append(c.logs, logPath)
		c.addrs = append(c.addrs, fmt.Sprintf("127.0.0.1:%d", ports[i]))
		c.peers = append(c.peers, fmt.Sprintf("127.0.0.1:%d", ports[n+i]))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.waitReady(ctx, mode); err != nil {
		for _, l := range c.logs {
			out, _ := os.ReadFile(l)
			b.Logf("%s:\n%s", l, tailOf(string(out), 2000))
		}
		b.Fatal(err)
	}
	return c
}

// freePorts returns n distinct loopback ports that were free a moment ago.
func freePorts(b *testing.B, n int) []int {
	b.Helper()
	var lns []net.Listener
	var ports []int
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		lns = append(lns, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range lns {
		l.Close()
	}
	return ports
}

func (c *procCluster) waitReady(ctx context.Context, mode store.Mode) error {
	hc := &http.Client{Timeout: time.Second}
	for {
		leaders := map[string]int{}
		up := 0
		for i, a := range c.addrs {
			select {
			case <-c.exited[i]:
				return fmt.Errorf("node n%d exited during startup (see its log)", i+1)
			default:
			}
			resp, err := hc.Get("http://" + a + store.PathStatus)
			if err != nil {
				continue
			}
			var st store.Status
			err = json.NewDecoder(resp.Body).Decode(&st)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				continue
			}
			up++
			if st.Leader != "" {
				leaders[st.Leader]++
			}
		}
		if up == len(c.addrs) && (mode != store.Strong || len(leaders) == 1 && leaders[firstKey(leaders)] == up) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster not ready (%d of %d nodes answer, leaders seen %v): %w", up, len(c.addrs), leaders, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func firstKey(m map[string]int) string {
	for k := range m {
		return k
	}
	return ""
}

// cpuTime is the user+system CPU time the nodes have used so far.
func (c *procCluster) cpuTime() time.Duration {
	var total time.Duration
	for _, cmd := range c.cmds {
		total += proccpu.Of(cmd.Process.Pid)
	}
	return total
}

// commits is the number of group commits (one fsync each) the nodes'
// storage has made so far, from their peer status (causal and eventual
// mode; 0 in strong mode, whose fsyncs are Raft's).
func (c *procCluster) commits() uint64 {
	if c.mode == store.Strong {
		return 0
	}
	var total uint64
	hc := &http.Client{Timeout: 2 * time.Second}
	for _, p := range c.peers {
		resp, err := hc.Get("http://" + p + "/peer/" + string(c.mode) + "/status")
		if err != nil {
			continue
		}
		var st struct{ Disk struct{ Commits uint64 } }
		if json.NewDecoder(resp.Body).Decode(&st) == nil {
			total += st.Disk.Commits
		}
		resp.Body.Close()
	}
	return total
}

// stop terminates the nodes (SIGTERM, then SIGKILL after 5 s) and waits.
func (c *procCluster) stop() {
	for _, cmd := range c.cmds {
		cmd.Process.Signal(syscall.SIGTERM)
	}
	for i, cmd := range c.cmds {
		select {
		case <-c.exited[i]:
		case <-time.After(5 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-c.exited[i]
		}
	}
}

func tailOf(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
