package results

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/faultline/faultline/history"
)

// The timeline windows: one static page per anomaly and per fault, each
// the timeline around it, linked from the anomaly and fault tables. A
// page of its own keeps report.html light and needs no script to move.
const (
	// WindowsDir is the run directory's folder of timeline windows.
	WindowsDir = "timeline"
	// maxWindows bounds the windows of each kind (anomalies, faults).
	maxWindows = 40
	// windowOps is the operations one window draws.
	windowOps = 400
)

// windowLink is a link to a timeline window.
type windowLink struct {
	Label, Href string
}

// windowPage is one timeline window.
type windowPage struct {
	File     string // name in WindowsDir
	Title    string // what it is around: "anomaly A3", "partition #2"
	Run      string // the run's title
	What     string // one line: the anomaly's or fault's words
	Back     string // the report's anchor to go back to
	Prev     string
	Next     string
	Timeline timelineView
}

// buildWindows makes a window around each shown anomaly (its first
// witness op) and each fault (its start), and links them from the
// views.
func buildWindows(v *reportView, t *opTable, faults []history.Fault, witness map[int64]bool, marks []timeMark, firstOp map[string]int) []windowPage {
	var pages []windowPage
	for ci := range v.Checkers {
		for ai := range v.Checkers[ci].Anomalies {
			a := &v.Checkers[ci].Anomalies[ai]
			center, ok := firstOp[a.ID]
			if !ok || len(v.AnomalyWindows) == maxWindows {
				continue
			}
			file := "anomaly-" + strings.TrimPrefix(a.ID, "a") + ".html"
			a.Window = WindowsDir + "/" + file
			v.AnomalyWindows = append(v.AnomalyWindows, windowLink{Label: a.Label, Href: a.Window})
			pages = append(pages, windowPage{
				File: file, Title: "anomaly " + a.Label + ": " + a.Name, Run: v.Title, What: a.When,
				Back:     "../" + ReportFile + "#" + a.ID,
				Timeline: buildTimelineAt(t, faults, witness, windowOps, center, "around the anomaly's first witness op", marks),
			})
		}
	}
	finfo := describeFaults(faults, t.nodes()...)
	for i := range v.Faults {
		if i == maxWindows {
			break
		}
		f := &v.Faults[i]
		file := "fault-" + strings.TrimPrefix(f.ID, "f") + ".html"
		f.Window = WindowsDir + "/" + file
		v.FaultWindows = append(v.FaultWindows, windowLink{Label: f.Label, Href: f.Window})
		what := f.Label
		if f.Words != "" {
			what += ": " + f.Words
		}
		pages = append(pages, windowPage{
			File: file, Title: f.Label, Run: v.Title, What: what + fmt.Sprintf(", from %s to %s", f.Start, f.Stop),
			Back:     "../" + ReportFile + "#" + f.ID,
			Timeline: buildTimelineAt(t, faults, witness, windowOps, t.firstCallAtOrAfter(finfo[i].Start), "from just before the fault started", marks),
		})
	}
	for i := range pages {
		if i > 0 {
			pages[i].Prev = pages[i-1].File
		}
		if i+1 < len(pages) {
			pages[i].Next = pages[i+1].File
		}
	}
	return pages
}

// writeWindows replaces the run's timeline windows with pages.
func writeWindows(dir string, pages []windowPage) error {
	wdir := filepath.Join(dir, WindowsDir)
	old, _ := filepath.Glob(filepath.Join(wdir, "*.html"))
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return fmt.Errorf("remove the old timeline window %s: %w", f, err)
		}
	}
	if len(pages) == 0 {
		return nil
	}
	if err := os.MkdirAll(wdir, 0o755); err != nil {
		return fmt.Errorf("make %s: %w", wdir, err)
	}
	for _, p := range pages {
		if err := writeAtomic(filepath.Join(wdir, p.File), func(w io.Writer) error {
			return reportTmpl.ExecuteTemplate(w, "window", p)
		}); err != nil {
			return err
		}
	}
	return nil
}
