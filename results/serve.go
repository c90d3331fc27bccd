package results

import (
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/faultline/faultline/checkers"
)

// Server serves a runs directory: an index of the runs, newest first,
// filterable by verdict, and the files of each run (report.html,
// linearizability.html, node logs, ...). It serves nothing outside the
// runs directory: files are opened through an os.Root, which refuses
// ".." and symbolic links that lead out of it; a file with more than one
// hard link is refused too (another link may be outside, and a hard
// link cannot be told from the original). It serves no dotfile and no
// directory listing, only files. Pages may not be framed by other sites
// (X-Frame-Options, CSP frame-ancestors), and a request must name the
// server by a loopback name or address, or by a host given to AllowHost:
// a web page whose domain an attacker points at 127.0.0.1 (DNS
// rebinding) cannot read the runs through the victim's browser.
type Server struct {
	root  *os.Root
	dir   string
	log   *slog.Logger
	hosts map[string]bool // lower case, no port
	anyIP bool            // bound to every interface: any IP literal names it
}

// maxRunDepth is how deep under the runs directory a run may be:
// runs/<test-name>/<timestamp> is depth 2.
const maxRunDepth = 3

// NewServer opens runsDir for serving. Close it when done.
func NewServer(runsDir string, log *slog.Logger) (*Server, error) {
	info, err := os.Stat(runsDir)
	if err != nil {
		return nil, fmt.Errorf("serve %s: the runs directory must exist (faultline run writes runs/ by default): %w", runsDir, err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("serve %s: not a directory: serve takes the runs directory (e.g. runs), not a file", runsDir)
	}
	root, err := os.OpenRoot(runsDir)
	if err != nil {
		return nil, fmt.Errorf("serve %s: %w", runsDir, err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{root: root, dir: runsDir, log: log, hosts: map[string]bool{}}, nil
}

// AllowHost lets requests name the server by the host of addr
// ("host:port" or a bare host), beside the loopback names and addresses
// always allowed: the address it listens on, when that is not loopback.
// An unspecified address (0.0.0.0, ::) allows every IP literal, which no
// rebinding attack can send (its Host is the attacker's name); names
// still have to be given.
func (s *Server) AllowHost(addr string) {
	host := addr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	}
	if host == "" {
		s.anyIP = true
		return
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		s.anyIP = true
		return
	}
	s.hosts[strings.ToLower(host)] = true
}

// hostAllowed reports whether a request's Host header names this server.
func (s *Server) hostAllowed(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(strings.TrimSuffix(host, "."), "["), "]"))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") || s.hosts[host] {
		return true
	}
	if ip := net.ParseIP(host); ip != nil {
		return ip.IsLoopback() || s.anyIP
	}
	return false
}

// Close releases the runs directory.
func (s *Server) Close() error { return s.root.Close() }

// Handler routes "/" to the index and "/runs/..." to the files, after
// checking the Host header and setting the framing headers.
func (s *Server) Handler() http.Handler {
	mux := s.routes()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.hostAllowed(r.Host) {
			http.Error(w, fmt.Sprintf("Host %q does not name this server: use http://127.0.0.1:<port>/ or http://localhost:<port>/ (or serve with --addr naming the host)", r.Host), http.StatusMisdirectedRequest)
			return
		}
		w.Header().Set("X-Frame-Options", "DENY")
		mux.ServeHTTP(w, r)
	})
}

func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.index)
	files := http.StripPrefix("/runs", http.FileServerFS(confinedFS{s.root.FS()}))
	mux.Handle("GET /runs/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hasDotDot(r.URL.Path) {
			// Only a crafted URL gets here (the mux redirects a plain
			// ".." to the cleaned path): refuse it outright. The os.Root
			// below would refuse an escape anyway.
			http.Error(w, "a path under /runs/ may not contain \"..\": use the links of the index", http.StatusBadRequest)
			return
		}
		if hasDotSegment(r.URL.Path) {
			http.Error(w, "dotfiles are not served", http.StatusNotFound)
			return
		}
		if strings.HasSuffix(r.URL.Path, "/") {
			http.Error(w, "directory listings are not served: use the links of the index at /", http.StatusForbidden)
			return
		}
		setFileHeaders(w, r.URL.Path)
		files.ServeHTTP(w, r)
	}))
	return mux
}

// hasDotSegment reports whether a segment of the path starts with a dot
// (".git", ".env", ".."), also with backslashes as separators.
func hasDotSegment(p string) bool {
	for _, seg := range strings.FieldsFunc(p, func(r rune) bool { return r == '/' || r == '\\' }) {
		if strings.HasPrefix(seg, ".") {
			return true
		}
	}
	return false
}

// hasDotDot reports whether a segment of the (decoded) path is "..",
// also with backslashes as separators.
func hasDotDot(p string) bool {
	for _, seg := range strings.FieldsFunc(p, func(r rune) bool { return r == '/' || r == '\\' }) {
		if seg == ".." {
			return true
		}
	}
	return false
}

// Content security policies: report pages run no script at all;
// Porcupine's view runs its own inline script and loads nothing.
const (
	cspNoScript = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"
	cspInline   = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"
)

func setFileHeaders(w http.ResponseWriter, p string) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-cache")
	switch ext := path.Ext(p); {
	case path.Base(p) == LinearizationFile:
		h.Set("Content-Security-Policy", cspInline)
	case ext == ".log" || ext == ".jsonl" || ext == ".txt":
		// Text, never HTML, whatever a log holds.
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("Content-Security-Policy", cspNoScript)
	default:
		h.Set("Content-Security-Policy", cspNoScript)
	}
}

// confinedFS turns every error but "does not exist" (an escape through a
// symlink or "..", a permission problem) into a permission error, so it is
// answered 403, not 500.
type confinedFS struct{ fsys fs.FS }

// Only regular files with a single link are served: a directory would be
// listed, and a hard link may lead anywhere on the file system.
func (c confinedFS) Open(name string) (fs.File, error) {
	f, err := c.fsys.Open(name)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrPermission}
	}
	if err != nil {
		return nil, err
	}
	info, err := f.Stat()
	if err == nil && info.Mode().IsRegular() && links(info) == 1 {
		return f, nil
	}
	f.Close()
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrPermission}
}

// links is a file's hard link count (0 when unknown).
func links(info fs.FileInfo) uint64 {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 0
}

// RunEntry is one run of the index.
type RunEntry struct {
	// Path is the run directory relative to the runs directory, with
	// slashes.
	Path                                string
	Name, Mode, Workload, Nemesis, Seed string
	// StoreFaults are the deliberate store bugs the run switched on
	// (test.json "faults"): a stale-reads run is no plain partition run.
	StoreFaults string
	Time        time.Time
	Verdict     verdictView
	// Report and Linearization say whether the pages exist.
	Report, Linearization bool
	// Logs are the node logs (nodes/*.log), by file name.
	Logs []string
}

// ListRuns finds the runs under the server's directory (directories, at
// most maxRunDepth deep, holding a history.jsonl or a test.json), newest
// first. Symbolic links (runs/latest) are not followed, so each run is
// listed once.
func (s *Server) ListRuns() ([]RunEntry, error) {
	runs, _, err := s.listRuns()
	return runs, err
}

// listRuns is ListRuns, and the directories holding a compare.html (the
// mode comparisons), by path.
func (s *Server) listRuns() ([]RunEntry, []string, error) {
	fsys := s.root.FS()
	var runs []RunEntry
	var compares []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == "." {
				return err
			}
			return nil // an unreadable corner does not hide the others
		}
		if !d.IsDir() {
			return nil
		}
		if p != "." && strings.HasPrefix(d.Name(), ".") {
			return fs.SkipDir
		}
		depth := 0
		if p != "." {
			depth = strings.Count(p, "/") + 1
		}
		if isRun(fsys, p) {
			runs = append(runs, s.entry(fsys, p, d))
			return fs.SkipDir
		}
		if st, err := fs.Stat(fsys, path.Join(p, CompareHTMLFile)); err == nil && st.Mode().IsRegular() {
			compares = append(compares, p)
		}
		if depth >= maxRunDepth {
			return fs.SkipDir
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("list runs in %s: %w", s.dir, err)
	}
	sort.Sort(sort.Reverse(sort.StringSlice(compares)))
	sort.SliceStable(runs, func(i, j int) bool {
		if !runs[i].Time.Equal(runs[j].Time) {
			return runs[i].Time.After(runs[j].Time)
		}
		return runs[i].Path > runs[j].Path
	})
	return runs, compares, nil
}

func isRun(fsys fs.FS, dir string) bool {
	for _, f := range []string{HistoryFile, TestFile} {
		if st, err := fs.Stat(fsys, path.Join(dir, f)); err == nil && st.Mode().IsRegular() {
			return true
		}
	}
	return false
}

func (s *Server) entry(fsys fs.FS, p string, d fs.DirEntry) RunEntry {
	e := RunEntry{Path: p, Name: path.Base(path.Dir(p)), Verdict: notChecked}
	if p == "." || path.Dir(p) == "." {
		e.Name = path.Base(p)
	}
	if b, err := fs.ReadFile(fsys, path.Join(p, TestFile)); err == nil {
		if fields, err := parseObject(b); err == nil {
			get := func(name string) string {
				for _, f := range fields {
					if f.Name == name {
						return f.Value
					}
				}
				return ""
			}
			if n := get("name"); n != "" {
				e.Name = n
			}
			e.Mode, e.Workload, e.Nemesis, e.Seed = get("mode"), get("workload"), get("nemesis"), get("seed")
			e.StoreFaults = get("faults")
			for _, k := range []string{"start_time", "start"} {
				if t, err := time.Parse(time.RFC3339Nano, get(k)); err == nil {
					e.Time = t
					break
				}
			}
		}
	}
	if e.Time.IsZero() {
		if t, err := time.Parse(runDirTimestamp, path.Base(p)); err == nil {
			e.Time = t
		} else if info, err := d.Info(); err == nil {
			e.Time = info.ModTime()
		}
	}
	if b, err := fs.ReadFile(fsys, path.Join(p, ResultsFile)); err == nil {
		var sum struct {
			Valid *checkers.Validity `json:"valid"`
		}
		if json.Unmarshal(b, &sum) == nil && sum.Valid != nil {
			e.Verdict = verdictOf(*sum.Valid)
		} else {
			e.Verdict = verdictView{Text: "unreadable results", Class: "none"}
		}
	}
	_, err := fs.Stat(fsys, path.Join(p, ReportFile))
	e.Report = err == nil
	_, err = fs.Stat(fsys, path.Join(p, LinearizationFile))
	e.Linearization = err == nil
	if ents, err := fs.ReadDir(fsys, path.Join(p, "nodes")); err == nil {
		for _, d := range ents {
			if n := d.Name(); d.Type().IsRegular() && strings.HasSuffix(n, ".log") && !strings.HasPrefix(n, ".") {
				e.Logs = append(e.Logs, n)
			}
		}
	}
	return e
}

// runDirTimestamp is how the harness names a run directory (UTC).
const runDirTimestamp = "20060102T150405.000Z"

// verdictFilters are the values of the index's verdict filter.
var verdictFilters = []string{"all", "valid", "invalid", "unknown", "none"}

type indexRow struct {
	RunEntry
	Href, Time string
}

type indexView struct {
	// Compares link the mode comparisons' pages.
	Compares []filterLink
	Dir      string
	Filter   string
	Filters  []filterLink
	Runs     []indexRow
	Total    int
}

type filterLink struct {
	Name, Href string
	Count      int
	Active     bool
}

func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	filter := r.URL.Query().Get("verdict")
	if filter == "" {
		filter = "all"
	}
	valid := false
	for _, f := range verdictFilters {
		valid = valid || f == filter
	}
	if !valid {
		http.Error(w, fmt.Sprintf("verdict=%q is not a filter: use one of %s (none: runs without results.json)", filter, strings.Join(verdictFilters, ", ")), http.StatusBadRequest)
		return
	}
	runs, compares, err := s.listRuns()
	if err != nil {
		s.log.Error("list runs", "err", err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	v := indexView{Dir: s.dir, Filter: filter, Total: len(runs)}
	for _, c := range compares {
		v.Compares = append(v.Compares, filterLink{Name: c, Href: runHref(c) + CompareHTMLFile})
	}
	counts := map[string]int{"all": len(runs)}
	for _, run := range runs {
		counts[run.Verdict.Class]++
		if filter != "all" && run.Verdict.Class != filter {
			continue
		}
		row := indexRow{RunEntry: run, Href: runHref(run.Path)}
		if !run.Time.IsZero() {
			row.Time = run.Time.UTC().Format("2006-01-02 15:04:05 UTC")
		}
		v.Runs = append(v.Runs, row)
	}
	for _, f := range verdictFilters {
		v.Filters = append(v.Filters, filterLink{Name: f, Href: "/?verdict=" + f, Count: counts[f], Active: f == filter})
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", cspNoScript)
	h.Set("X-Content-Type-Options", "nosniff")
	if err := indexTmpl.Execute(w, v); err != nil {
		s.log.Error("render index", "err", err)
	}
}

// runHref is the URL path of a run directory, each segment escaped.
func runHref(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return "/runs/" + strings.Join(segs, "/") + "/"
}

var indexTmpl = template.Must(template.New("index").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>faultline runs</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1f2328;background:#f6f8fa}
main{max-width:1280px;margin:0 auto;padding:16px 24px}
table{border-collapse:collapse;background:#fff;width:100%}
th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left}
th{background:#f6f8fa}
.badge{display:inline-block;padding:1px 10px;border-radius:12px;font-weight:600;color:#fff}
.valid{background:#1a7f37}.invalid{background:#cf222e}.unknown{background:#bf8700}.none{background:#6e7781}
.filters a{margin-right:12px}.filters a.active{font-weight:700;text-decoration:none;color:#1f2328}
code{font-family:ui-monospace,monospace;font-size:12px}
</style></head>
<body><main>
<h1>faultline runs</h1>
<p>In <code>{{.Dir}}</code>, newest first.</p>
{{if .Compares}}<p id="compares">Mode comparisons: {{range .Compares}}<a href="{{.Href}}">{{.Name}}</a> {{end}}</p>{{end}}
<p class="filters">Verdict: {{range .Filters}}<a href="{{.Href}}"{{if .Active}} class="active"{{end}}>{{.Name}} ({{.Count}})</a>{{end}}</p>
{{if .Runs}}<table id="runs">
<tr><th>name</th><th>time</th><th>mode</th><th>workload</th><th>nemesis</th><th>store faults</th><th>seed</th><th>verdict</th><th>pages</th></tr>
{{range .Runs}}<tr class="run">
<td>{{if .Report}}<a href="{{.Href}}report.html">{{.Name}}</a>{{else}}{{.Name}}{{end}}<br><code>{{.Path}}</code></td>
<td>{{.Time}}</td><td>{{.Mode}}</td><td>{{.Workload}}</td><td>{{.Nemesis}}</td><td>{{if .StoreFaults}}<strong>{{.StoreFaults}}</strong>{{else}}none{{end}}</td><td>{{.Seed}}</td>
<td><span class="badge {{.Verdict.Class}}">{{.Verdict.Text}}</span></td>
<td>{{if .Report}}<a href="{{.Href}}report.html">report</a>{{else}}no report (run <code>faultline report</code> on it){{end}}
{{if .Linearization}} · <a href="{{.Href}}linearizability.html">linearizability</a>{{end}} · <a href="{{.Href}}history.jsonl">history</a>{{$h := .Href}}{{range .Logs}} · <a href="{{$h}}nodes/{{.}}">{{.}}</a>{{end}}</td>
</tr>{{end}}
</table>{{else}}<p id="no-runs">{{if eq .Total 0}}No runs here yet: <code>faultline run</code> writes them.{{else}}No run has this verdict.{{end}}</p>{{end}}
</main></body></html>
`))
