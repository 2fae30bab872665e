package webhook

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// alteredNote ends the text StorableText made from bytes it had to change;
// %d is how many bytes were replaced.
const alteredNote = "\n[hookd: %d byte(s) of this answer were NUL or not valid UTF-8; each is shown as U+FFFD]"

// StorableText returns what a receiver sent (a response body, or anything
// else that came from outside) as text that every PostgreSQL text column,
// JSON encoder and browser accepts: valid UTF-8 without NUL.
//
// Bytes that already form such text come back unchanged. Otherwise every
// NUL byte and every byte that is not part of a valid UTF-8 sequence is
// replaced with U+FFFD (the replacement character), and a note is appended
// on a line of its own, "[hookd: N byte(s) of this answer were NUL or not
// valid UTF-8; each is shown as U+FFFD]", so that altered text is never
// mistaken for what was sent (a receiver may send U+FFFD itself). The result
// is at most three times as long as b plus the note. Applying StorableText
// (or StorableString) to its own result changes nothing.
func StorableText(b []byte) string {
	if utf8.Valid(b) && !containsNUL(b) {
		return string(b)
	}
	return replaceUnstorable(b)
}

// StorableString is StorableText for a string, which it returns without
// copying when it needs no change.
func StorableString(s string) string {
	if IsStorableText(s) {
		return s
	}
	return replaceUnstorable([]byte(s))
}

func containsNUL(b []byte) bool {
	for _, c := range b {
		if c == 0 {
			return true
		}
	}
	return false
}

// replaceUnstorable replaces NUL and invalid bytes one by one and appends
// the note.
func replaceUnstorable(b []byte) string {
	var out strings.Builder
	out.Grow(len(b) + len(alteredNote) + 16)
	replaced := 0
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r == 0 || (r == utf8.RuneError && size == 1) {
			out.WriteRune(utf8.RuneError)
			replaced++
		} else {
			out.Write(b[:size])
		}
		b = b[size:]
	}
	fmt.Fprintf(&out, alteredNote, replaced)
	return out.String()
}

// IsStorableText reports whether s is valid UTF-8 without NUL: text that
// PostgreSQL stores as it is.
func IsStorableText(s string) bool {
	return utf8.ValidString(s) && !strings.Contains(s, "\x00")
}
