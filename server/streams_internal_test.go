package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/replica"
)

// streamReplica is the replica with the stream's record kept in memory
// (the engine's part under test here is the daemon's, not the record's).
type streamReplica struct {
	*replica.Replica
	mu  sync.Mutex
	rec []litepull.StreamState
}

func (r *streamReplica) StreamStates(context.Context) ([]litepull.StreamState, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]litepull.StreamState(nil), r.rec...), nil
}

func (r *streamReplica) Apply(ctx context.Context, b litepull.Batch) error {
	if b.Stream != nil {
		r.mu.Lock()
		r.rec = []litepull.StreamState{*b.Stream}
		r.mu.Unlock()
	}
	return r.Replica.Apply(ctx, b)
}

// fakeChanges is a streamed source without tables: its stream sends one
// keepalive, then waits for the end.
type fakeChanges struct {
	status litepull.StreamStatus
	closed chan struct{}
}

func (f *fakeChanges) Describe(context.Context, string) (*litepull.TableSchema, error) {
	return nil, errors.New("no tables")
}
func (f *fakeChanges) ReadPage(context.Context, litepull.PageRequest) (*litepull.Page, error) {
	return nil, errors.New("no tables")
}
func (f *fakeChanges) CountNullCursor(context.Context, string, string) (int64, error) { return 0, nil }
func (f *fakeChanges) Tables(context.Context) ([]litepull.TableInfo, error)           { return nil, nil }
func (f *fakeChanges) Ping(context.Context) error                                     { return nil }
func (f *fakeChanges) Close() error                                                   { return nil }
func (f *fakeChanges) DropChanges(context.Context, litepull.ChangeOptions) error      { return nil }
func (f *fakeChanges) OpenChanges(context.Context, litepull.ChangeOptions) (litepull.ChangeStream, error) {
	return &fakeStream{f: f}, nil
}

type fakeStream struct {
	f    *fakeChanges
	sent bool
}

func (s *fakeStream) Snapshot(context.Context) (*litepull.Snapshot, error) {
	return nil, errors.New("no snapshot")
}
func (s *fakeStream) Current(context.Context) (litepull.Position, error)   { return "0/100", nil }
func (s *fakeStream) Confirmed(context.Context) (litepull.Position, error) { return "0/100", nil }
func (s *fakeStream) Resumable(context.Context, litepull.Position) error   { return nil }
func (s *fakeStream) Start(context.Context, litepull.Position) error       { return nil }
func (s *fakeStream) Ack(context.Context, litepull.Position) error         { return nil }
func (s *fakeStream) Joined() []string                                     { return nil }
func (s *fakeStream) Includes(at, commit litepull.Position) bool           { return commit < at }
func (s *fakeStream) Status(context.Context) (litepull.StreamStatus, error) {
	return s.f.status, nil
}
func (s *fakeStream) Close() error { close(s.f.closed); return nil }
func (s *fakeStream) Next(ctx context.Context) (litepull.ChangeEvent, error) {
	if !s.sent {
		s.sent = true
		return litepull.ChangeEvent{Kind: litepull.ChangeKeepalive, Position: "0/100", Time: time.Now()}, nil
	}
	<-ctx.Done()
	return litepull.ChangeEvent{}, ctx.Err()
}

// streamingServer serves a daemon over one streamed source, pg, whose
// replica recorded its stream at 0/100, and one polled source, sq.
func streamingServer(t *testing.T) (url string, src *fakeChanges, stop func()) {
	t.Helper()
	r, err := replica.Open(filepath.Join(t.TempDir(), "replica.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	commit, applied := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), time.Date(2026, 3, 1, 10, 0, 1, 0, time.UTC)
	rep := &streamReplica{Replica: r, rec: []litepull.StreamState{{SourceID: "pg", Slot: "litepull_pg", Position: "0/100", Commit: commit, Applied: applied}}}
	if err := r.Apply(context.Background(), litepull.Batch{States: []litepull.State{{SourceID: "pg", Table: "orders", Dest: "orders", NullCursorRows: -1}}}); err != nil {
		t.Fatal(err)
	}
	src = &fakeChanges{closed: make(chan struct{}),
		status: litepull.StreamStatus{Slot: "litepull_pg", Confirmed: "0/100", Current: "0/100", LagBytes: 128, RetainedBytes: 4096, Active: true, ActivePID: 4242}}
	pg := litepull.SourceConfig{ID: "pg", Kind: "postgres", Changes: litepull.ChangesLogical}
	sq := litepull.SourceConfig{ID: "sq", Kind: "sqlite", Schedule: "every 1h", Tables: []litepull.TableConfig{{Table: "t", CursorColumn: "id"}}}
	engine := litepull.NewEngine(rep, []litepull.BoundSource{{Config: pg, Source: src}, {Config: sq, Source: src}}, nil)
	s, err := New(context.Background(), Config{Engine: engine, Replica: r, Sources: []litepull.SourceConfig{pg, sq}})
	if err != nil {
		t.Fatal(err)
	}
	s.streamStates = rep.StreamStates
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	if jobs := s.Scheduler().Status(); len(jobs) != 1 || jobs[0].SourceID != "sq" {
		t.Errorf("scheduler jobs = %+v, want sq's table alone: a streamed source has a follower, not jobs", jobs)
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Serve did not end within 5s of shutdown")
		}
	}
	t.Cleanup(stop)
	return "http://" + ln.Addr().String(), src, stop
}

func getJSON(t *testing.T, method, url string, v any) int {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("%s %s: %v\n%s", method, url, err, body)
		}
	}
	return resp.StatusCode
}

type statusBody struct {
	Sources []struct {
		ID string `json:"id"`
	} `json:"sources"`
	Streams []streamStatus `json:"streams"`
}

// waitStreaming polls the status until pg's follower streams and the
// engine has read its slot.
func waitStreaming(t *testing.T, url string) statusBody {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var st statusBody
		getJSON(t, "GET", url+"/replicate/status", &st)
		if len(st.Streams) == 1 && st.Streams[0].Following && st.Streams[0].SlotStatus != nil {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("pg never streamed: %+v", st)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestStatusShowsStreams: GET /replicate/status keeps its sources and adds
// each streamed source's stream: the replica's record, the slot as the
// engine read it, the follower.
func TestStatusShowsStreams(t *testing.T) {
	url, _, _ := streamingServer(t)
	st := waitStreaming(t, url)
	if len(st.Sources) != 2 || st.Sources[0].ID != "pg" || st.Sources[1].ID != "sq" {
		t.Errorf("sources = %+v, want pg and sq as before", st.Sources)
	}
	got := st.Streams[0]
	slot := *got.SlotStatus
	if got.SourceID != "pg" || got.Slot != "litepull_pg" || got.Publication != "litepull_pg" || got.Position != "0/100" ||
		got.Commit == nil || !got.Commit.Equal(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)) || got.Applied == nil ||
		slot.LagBytes != 128 || slot.RetainedBytes != 4096 || slot.ActivePID != 4242 || slot.Current != "0/100" ||
		got.LagSeconds == nil || *got.LagSeconds != 0 || got.StatusTs == nil || got.FollowingSince == nil ||
		got.StateError != "" || got.Error != "" || got.ConsecutiveFailures != 0 {
		t.Errorf("stream = %+v, slot %+v", got, slot)
	}
}

// TestRunWhileStreaming: a run of a source the daemon streams answers 200,
// a note on each of its tables, not an error.
func TestRunWhileStreaming(t *testing.T) {
	url, _, _ := streamingServer(t)
	waitStreaming(t, url)
	for _, q := range []string{"?source=pg", "?source=pg&full=1"} {
		var body struct {
			Results []runResult `json:"results"`
			Failed  int         `json:"failed"`
		}
		code := getJSON(t, "POST", url+"/replicate/run"+q, &body)
		if code != http.StatusOK || body.Failed != 0 || len(body.Results) != 1 {
			t.Fatalf("POST /replicate/run%s = %d %+v, want 200 with one table and nothing failed", q, code, body)
		}
		r := body.Results[0]
		if r.SourceID != "pg" || r.Table != "orders" || r.Error != nil || !strings.Contains(r.Note, "streams its changes in this daemon") {
			t.Errorf("POST /replicate/run%s: %+v, want orders with a note", q, r)
		}
		if full := strings.Contains(r.Note, "litepull run -full -source pg"); full != strings.Contains(q, "full") {
			t.Errorf("POST /replicate/run%s: note %q: says how to copy again = %v", q, r.Note, full)
		}
	}
}

// TestStreamMetrics: /metrics has each stream's lag and retained WAL, and
// whether it is followed; shutdown closes the stream.
func TestStreamMetrics(t *testing.T) {
	url, src, stop := streamingServer(t)
	waitStreaming(t, url)
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`litepull_stream_lag_bytes{source="pg"} 128`, `litepull_stream_retained_bytes{source="pg"} 4096`,
		`litepull_stream_lag_seconds{source="pg"} 0`, `litepull_stream_following{source="pg"} 1`} {
		if !strings.Contains(string(body), want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	stop()
	select {
	case <-src.closed:
	default:
		t.Error("the change stream was not closed at shutdown")
	}
}

// TestResetWhileStreaming: a reset of a table the daemon streams is
// refused (409), saying what to do: the follower holds the table's
// position and would write it back with its next change, so the reset
// said ok and was undone, and the table was never copied again.
func TestResetWhileStreaming(t *testing.T) {
	url, _, _ := streamingServer(t)
	waitStreaming(t, url)
	var body struct {
		Error string `json:"error"`
	}
	code := getJSON(t, "POST", url+"/replicate/reset?source=pg&table=orders", &body)
	if code != http.StatusConflict || !strings.Contains(body.Error, "run -full -source pg -table orders") {
		t.Fatalf("POST /replicate/reset of a streamed table = %d %q, want 409 saying to run -full", code, body.Error)
	}
	code = getJSON(t, "POST", url+"/replicate/reset?source=sq&table=t", &body)
	if code != http.StatusOK {
		t.Fatalf("POST /replicate/reset of a polled table = %d %q, want 200", code, body.Error)
	}
}
