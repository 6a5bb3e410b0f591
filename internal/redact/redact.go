// Package redact keeps a source's password out of the messages litepull
// shows: errors from drivers and their log lines.
package redact

import (
	"errors"
	"strings"
)

// Mask stands in for a secret.
const Mask = "xxxxx"

// String is s with every occurrence of secret masked; s itself when secret
// is empty.
func String(s, secret string) string {
	if secret == "" {
		return s
	}
	return strings.ReplaceAll(s, secret, Mask)
}

// Error is err with secret masked in its message: err itself when its
// message does not hold secret (so that errors.Is and errors.As still see
// through it), else a plain error with the masked message.
func Error(err error, secret string) error {
	if secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return errors.New(String(err.Error(), secret))
}
