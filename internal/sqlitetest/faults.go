package sqlitetest

import (
	"net/http"
	"sync"
)

// Faults is a queue of misbehaviours for a test server: each request takes
// the next one, if any, instead of being answered properly.
type Faults struct {
	mu    sync.Mutex
	queue []func(http.ResponseWriter)
	Hits  int // requests served, faulty or not
}

// Add queues faults.
func (f *Faults) Add(faults ...func(http.ResponseWriter)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queue = append(f.queue, faults...)
}

// Take counts a request and answers it with the next fault; false means
// answer it properly.
func (f *Faults) Take(w http.ResponseWriter) bool {
	f.mu.Lock()
	f.Hits++
	if len(f.queue) == 0 {
		f.mu.Unlock()
		return false
	}
	fault := f.queue[0]
	f.queue = f.queue[1:]
	f.mu.Unlock()
	fault(w)
	return true
}

// Requests is how many requests were served.
func (f *Faults) Requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.Hits
}

// Status answers with code and body.
func Status(code int, body string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		w.Write([]byte(body))
	}
}

// Malformed answers 200 with a body that is not JSON.
func Malformed() func(http.ResponseWriter) { return Status(http.StatusOK, `{"results": [`) }

// Truncated promises a long body and sends a short one: the client sees
// the connection end early.
func Truncated() func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("Content-Length", "1000")
		w.WriteHeader(http.StatusOK)
		w.Write([]byte(`{"result`))
	}
}
