package remotetest_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/litepull/litepull/internal/remotetest"
)

// TestStarbaseAnswersAsMeasured: the test server answers as the real
// StarbaseDB was measured to (docs/services.md): an expression 100 deep,
// 5 compound terms and 100 parameters run, one more fails; a statement
// over 100,000 bytes is too long, a body that is not JSON is a 500 with
// JSON.parse's message, and one without Content-Type: application/json
// is a 400.
func TestStarbaseAnswersAsMeasured(t *testing.T) {
	srv := remotetest.NewStarbase(t)
	post := func(contentType, body string) (int, string) {
		req, _ := http.NewRequest("POST", srv.URL+"/query/raw", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+remotetest.Token)
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(data)
	}
	stmt := func(n int) string { // a statement of n bytes
		return `{"sql": "SELECT length('` + strings.Repeat("x", n-22) + `') AS n"}`
	}
	if code, body := post("application/json", stmt(100_000)); code != 200 || !strings.Contains(body, "99978") {
		t.Errorf("statement of 100,000 bytes: %d %s, want it run", code, body)
	}
	if code, body := post("application/json", stmt(100_001)); code != 500 || !strings.Contains(body, "too big") {
		t.Errorf("statement of 100,001 bytes: %d %.200s, want 500 too long", code, body)
	}
	sql := func(s string) string { return `{"sql": "` + s + `"}` }
	for _, c := range []struct{ name, ok, over string }{
		{"expression depth 100", "SELECT " + strings.Repeat("1+", 99) + "1", "SELECT " + strings.Repeat("1+", 100) + "1"},
		{"compound terms 5", strings.Repeat("SELECT 1 UNION ALL ", 4) + "SELECT 1", strings.Repeat("SELECT 1 UNION ALL ", 5) + "SELECT 1"},
	} {
		if code, body := post("application/json", sql(c.ok)); code != 200 {
			t.Errorf("%s: %d %.200s, want it run", c.name, code, body)
		}
		if code, _ := post("application/json", sql(c.over)); code != 500 {
			t.Errorf("%s: one more answers %d, want 500", c.name, code)
		}
	}
	params := func(n int) string {
		return `{"sql": "SELECT ` + strings.TrimSuffix(strings.Repeat("?, ", n), ", ") + `", "params": [` + strings.TrimSuffix(strings.Repeat("1, ", n), ", ") + `]}`
	}
	if code, body := post("application/json", params(100)); code != 200 {
		t.Errorf("100 parameters: %d %.200s, want it run", code, body)
	}
	if code, body := post("application/json", params(101)); code != 500 || !strings.Contains(body, "too many SQL variables") {
		t.Errorf("101 parameters: %d %.200s, want 500 too many SQL variables", code, body)
	}
	if code, body := post("application/json", `{"sql": `); code != 500 || !strings.Contains(body, "Unexpected end of JSON input") {
		t.Errorf("broken JSON: %d %s, want 500 Unexpected end of JSON input", code, body)
	}
	if code, body := post("", `{"sql": "SELECT 1"}`); code != 400 || !bytes.Contains([]byte(body), []byte("Content-Type must be application/json")) {
		t.Errorf("no Content-Type: %d %s, want 400", code, body)
	}
}
