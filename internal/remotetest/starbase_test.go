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
// StarbaseDB was measured to (docs/services.md): a statement over
// 100,000 bytes is too long, a body that is not JSON is a 500 with
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
	if code, body := post("application/json", `{"sql": `); code != 500 || !strings.Contains(body, "Unexpected end of JSON input") {
		t.Errorf("broken JSON: %d %s, want 500 Unexpected end of JSON input", code, body)
	}
	if code, body := post("", `{"sql": "SELECT 1"}`); code != 400 || !bytes.Contains([]byte(body), []byte("Content-Type must be application/json")) {
		t.Errorf("no Content-Type: %d %s, want 400", code, body)
	}
}
