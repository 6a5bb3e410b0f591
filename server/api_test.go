package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ncruces/go-sqlite3"

	"github.com/litepull/litepull"
	"github.com/litepull/litepull/replica"
	"github.com/litepull/litepull/server"
)

// newAPI serves a server over a small replica holding the table big, whose
// ids sit just above 2^53.
func newAPI(tb testing.TB, cfg server.Config) *httptest.Server {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "replica.db")
	r, err := replica.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { r.Close() })
	c, err := sqlite3.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	err = c.Exec(`CREATE TABLE big (id INTEGER PRIMARY KEY, v TEXT);
		INSERT INTO big VALUES (9007199254740992, 'two to the 53'), (9007199254740993, 'one more')`)
	c.Close()
	if err != nil {
		tb.Fatal(err)
	}
	cfg.Engine, cfg.Replica = litepull.NewEngine(r, nil, nil), r
	s, err := server.New(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	tb.Cleanup(ts.Close)
	return ts
}

// request is one call to the API.
type request struct {
	method, path, body string
	host               string // the Host header, if not the server's address
	header             map[string]string
}

// answer is a response: status, headers and the JSON body (numbers exact).
type answer struct {
	code   int
	header http.Header
	body   map[string]any
	raw    string
}

func call(tb testing.TB, ts *httptest.Server, r request) answer {
	tb.Helper()
	req, err := http.NewRequest(r.method, ts.URL+r.path, strings.NewReader(r.body))
	if err != nil {
		tb.Fatal(err)
	}
	if r.host != "" {
		req.Host = r.host
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	a := answer{code: resp.StatusCode, header: resp.Header, raw: string(data)}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&a.body); err != nil {
		a.body = nil
	}
	return a
}

// errorMessage is the body's "error" if the answer is a JSON error of the
// one shape every endpoint uses, else "".
func errorMessage(a answer) string {
	msg, _ := a.body["error"].(string)
	if !strings.HasPrefix(a.header.Get("Content-Type"), "application/json") {
		return ""
	}
	return msg
}

func TestQueryBindsIntegersAbove2To53Exactly(t *testing.T) {
	ts := newAPI(t, server.Config{})
	a := call(t, ts, request{method: "POST", path: "/query",
		body: `{"sql": "SELECT id, v FROM big WHERE id = ?", "params": [9007199254740993]}`})
	rows, _ := a.body["result"].([]any)
	if a.code != 200 || len(rows) != 1 {
		t.Fatalf("id = 9007199254740993: %d %s, want the one row", a.code, a.raw)
	}
	row := rows[0].(map[string]any)
	if row["id"] != json.Number("9007199254740993") || row["v"] != "one more" {
		t.Errorf("row = %v, want id 9007199254740993, v 'one more'", row)
	}
	// A number with a fraction or an exponent binds as a REAL.
	a = call(t, ts, request{method: "POST", path: "/query/raw",
		body: `{"sql": "SELECT typeof(?), typeof(?), typeof(?)", "params": [1, 1.5, 1e3]}`})
	if !strings.Contains(a.raw, `"rows":[["integer","real","real"]]`) {
		t.Errorf("typeof 1, 1.5, 1e3 = %s", a.raw)
	}
}

func TestQueryResponseBytesAreCapped(t *testing.T) {
	ts := newAPI(t, server.Config{MaxResponseBytes: 1 << 20})
	a := call(t, ts, request{method: "POST", path: "/query",
		body: `{"sql": "SELECT zeroblob(100000) AS b FROM generate_series(1, 100)"}`})
	if a.code != 400 || !strings.Contains(errorMessage(a), "limit of 1048576 bytes") || len(a.raw) > 1000 {
		t.Fatalf("13 MB of base64 with a 1 MiB cap: %d %.300s, want 400 and a short error naming the limit", a.code, a.raw)
	}
	if a.body["result"] != nil {
		t.Errorf("result = %v, want null", a.body["result"])
	}
	a = call(t, ts, request{method: "POST", path: "/query/raw",
		body: `{"sql": "SELECT zeroblob(100000) AS b FROM generate_series(1, 5)"}`})
	if a.code != 200 || strings.Count(a.raw, `"AAAA`) != 5 {
		t.Fatalf("5 rows of 133 kB under the cap: %d %.300s", a.code, a.raw)
	}
}

func TestLoopbackModeAnswersOnlyLoopbackHosts(t *testing.T) {
	ts := newAPI(t, server.Config{}) // no token: loopback mode
	for _, host := range []string{"attacker.example", "attacker.example:8080", "10.0.0.1:8080", "localhost.attacker.example"} {
		a := call(t, ts, request{method: "GET", path: "/replicate/status", host: host})
		if a.code != http.StatusMisdirectedRequest || !strings.Contains(errorMessage(a), "loopback") {
			t.Errorf("Host %q: %d %s, want 421 and a JSON error", host, a.code, a.raw)
		}
	}
	for _, host := range []string{"127.0.0.1:8080", "localhost:8080", "LOCALHOST", "[::1]:8080", "127.0.0.1"} {
		if a := call(t, ts, request{method: "GET", path: "/replicate/status", host: host}); a.code != 200 {
			t.Errorf("Host %q: %d %s, want 200", host, a.code, a.raw)
		}
	}
	// With a token, any Host may reach the API (behind a proxy, say).
	ts = newAPI(t, server.Config{AdminToken: "secret"})
	a := call(t, ts, request{method: "GET", path: "/replicate/status", host: "replica.example.com",
		header: map[string]string{"Authorization": "Bearer secret"}})
	if a.code != 200 {
		t.Errorf("token mode, Host replica.example.com: %d %s", a.code, a.raw)
	}
}

func TestCrossOriginPostsAreRefused(t *testing.T) {
	for _, token := range []string{"", "secret"} {
		ts := newAPI(t, server.Config{AdminToken: token})
		auth := map[string]string{}
		if token != "" {
			auth["Authorization"] = "Bearer " + token
		}
		with := func(kv ...string) map[string]string {
			h := map[string]string{"Content-Type": "text/plain"}
			for k, v := range auth {
				h[k] = v
			}
			for i := 0; i < len(kv); i += 2 {
				h[kv[i]] = kv[i+1]
			}
			return h
		}
		self := "http://" + strings.TrimPrefix(ts.URL, "http://")
		for _, path := range []string{"/replicate/reset?source=s&table=t", "/replicate/run", "/query"} {
			for _, h := range []map[string]string{
				with("Origin", "http://attacker.example"),
				with("Origin", "null"),
				with("Sec-Fetch-Site", "cross-site"),
				with("Sec-Fetch-Site", "same-site", "Origin", "http://sub.example"),
			} {
				a := call(t, ts, request{method: "POST", path: path, body: `{"sql": "SELECT 1"}`, header: h})
				if a.code != 403 || !strings.Contains(errorMessage(a), "cross-origin") {
					t.Errorf("token %q: POST %s with %v: %d %s, want 403 and a JSON error", token, path, h, a.code, a.raw)
				}
			}
		}
		// Same origin, and scripts that send no Origin, still work.
		for _, h := range []map[string]string{with(), with("Origin", self), with("Sec-Fetch-Site", "same-origin", "Origin", self)} {
			a := call(t, ts, request{method: "POST", path: "/query", body: `{"sql": "SELECT 1 AS one"}`, header: h})
			if a.code != 200 {
				t.Errorf("token %q: POST /query with %v: %d %s, want 200", token, h, a.code, a.raw)
			}
		}
	}
}

// TestOneErrorShape: every error, from every layer, is JSON with a string
// "error"; /query's also carry "result": null.
func TestOneErrorShape(t *testing.T) {
	ts := newAPI(t, server.Config{AdminToken: "secret", QueryToken: "reader"})
	admin := map[string]string{"Authorization": "Bearer secret"}
	for _, c := range []struct {
		req  request
		code int
	}{
		{request{method: "GET", path: "/nope", header: admin}, 404},
		{request{method: "GET", path: "/nope"}, 404},
		{request{method: "GET", path: "/query", header: admin}, 405},
		{request{method: "DELETE", path: "/replicate/status", header: admin}, 405},
		{request{method: "POST", path: "/healthz"}, 405},
		{request{method: "GET", path: "/replicate/status"}, 401},
		{request{method: "POST", path: "/replicate/run", header: map[string]string{"Authorization": "Bearer reader"}}, 403},
		{request{method: "POST", path: "/replicate/run", header: map[string]string{"Authorization": "Bearer nope"}}, 401},
		{request{method: "POST", path: "/replicate/run", header: map[string]string{"Authorization": "bearer secret"}}, 200},
		{request{method: "POST", path: "/query"}, 401},
		{request{method: "POST", path: "/query", body: `not json`, header: admin}, 400},
		{request{method: "POST", path: "/query/raw", body: `{"sql": "DELETE FROM big"}`, header: admin}, 400},
		{request{method: "POST", path: "/replicate/reset", header: admin}, 400},
		{request{method: "POST", path: "/replicate/reset?source=s&table=t", header: admin}, 404},
		{request{method: "POST", path: "/replicate/run?source=nope", header: admin}, 400},
		{request{method: "POST", path: "/replicate/run?drain=yes", header: admin}, 400},
		{request{method: "POST", path: "/replicate/run?full=1&full=0", header: admin}, 400},
		{request{method: "POST", path: "/replicate/reset?source=s&table=a&table=b", header: admin}, 400},
		{request{method: "POST", path: "/query", header: map[string]string{"Authorization": "Bearer secret", "Origin": "http://evil.example"}}, 403},
	} {
		a := call(t, ts, c.req)
		if c.code == 200 { // the scheme name is case-insensitive
			if a.code != 200 {
				t.Errorf("%s %s with %v: %d %s, want 200", c.req.method, c.req.path, c.req.header, a.code, a.raw)
			}
			continue
		}
		if a.code != c.code || errorMessage(a) == "" {
			t.Errorf("%s %s: %d %s, want %d and {\"error\": \"...\"}", c.req.method, c.req.path, a.code, a.raw, c.code)
			continue
		}
		_, hasResult := a.body["result"]
		if isQuery := strings.HasPrefix(c.req.path, "/query"); hasResult != isQuery || (isQuery && a.body["result"] != nil) {
			t.Errorf("%s %s: %s: want \"result\": null exactly on /query", c.req.method, c.req.path, a.raw)
		}
		if len(a.body) > 2 {
			t.Errorf("%s %s: %s: want no other fields", c.req.method, c.req.path, a.raw)
		}
	}
	if a := call(t, ts, request{method: "GET", path: "/query", header: admin}); a.header.Get("Allow") != "POST" {
		t.Errorf("405 Allow = %q, want POST", a.header.Get("Allow"))
	}
}
