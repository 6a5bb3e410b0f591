package redact_test

import (
	"errors"
	"io"
	"testing"

	"github.com/litepull/litepull/internal/redact"
)

func TestError(t *testing.T) {
	if got := redact.Error(io.EOF, "hunter2"); got != io.EOF {
		t.Errorf("an error without the secret: got %v, want it unchanged", got)
	}
	if got := redact.Error(io.EOF, ""); got != io.EOF {
		t.Errorf("no secret: got %v, want the error unchanged", got)
	}
	got := redact.Error(errors.New("dial user:hunter2@db: refused; hunter2"), "hunter2")
	if want := "dial user:xxxxx@db: refused; xxxxx"; got.Error() != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestString(t *testing.T) {
	if got, want := redact.String("pw=s3cret", "s3cret"), "pw=xxxxx"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := redact.String("pw=", ""), "pw="; got != want {
		t.Errorf("empty secret: got %q, want %q", got, want)
	}
}
