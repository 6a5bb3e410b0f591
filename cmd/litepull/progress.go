package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/litepull/litepull"
)

// progress draws a one-line progress report on a terminal; elsewhere (pipes,
// files, CI logs) it stays silent.
type progress struct {
	w       io.Writer
	on      bool
	start   time.Time
	last    time.Time
	drawn   bool
	current string
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w, start: time.Now()}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.on = true
		}
	}
	return p
}

// Update is a litepull.RunOptions.Progress callback.
func (p *progress) Update(ev litepull.Progress) {
	if !p.on {
		return
	}
	now := time.Now()
	key := ev.SourceID + "/" + ev.Table
	if key != p.current {
		p.current, p.start = key, now
	}
	if now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last = now
	rate := float64(ev.Rows) / now.Sub(p.start).Seconds()
	fmt.Fprintf(p.w, "\r\033[K%s: %d rows, %.0f rows/s", key, ev.Rows, rate)
	p.drawn = true
}

// Done clears the line.
func (p *progress) Done() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
