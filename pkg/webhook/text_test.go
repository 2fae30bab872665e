package webhook

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestStorableText(t *testing.T) {
	t.Parallel()
	note := func(n string) string {
		return "\n[hookd: " + n + " byte(s) of this answer were NUL or not valid UTF-8; each is shown as U+FFFD]"
	}
	for _, tt := range []struct {
		name string
		in   string
		want string
	}{
		// Valid text without NUL is kept exactly, whatever it holds.
		{"empty", "", ""},
		{"ascii", `{"ok":true}`, `{"ok":true}`},
		{"multibyte", "héllo 世界 🎉", "héllo 世界 🎉"},
		{"control characters other than NUL", "a\x01\tb\r\n\x7f", "a\x01\tb\r\n\x7f"},
		{"a replacement character the receiver sent", "\uFFFD", "\uFFFD"},

		// NUL is replaced, wherever it is.
		{"trailing NUL (the issue's repro)", "ok\x00", "ok\uFFFD" + note("1")},
		{"only NULs", "\x00\x00\x00", "\uFFFD\uFFFD\uFFFD" + note("3")},

		// Every invalid byte is replaced, one replacement character each.
		{"lone continuation byte", "a\x80b", "a\uFFFDb" + note("1")},
		{"0xff", "\xff\xfe", "\uFFFD\uFFFD" + note("2")},
		{"truncated sequence at the end", "é\xc3", "é\uFFFD" + note("1")},
		{"overlong encoding of NUL", "\xc0\x80", "\uFFFD\uFFFD" + note("2")},
		{"UTF-16 surrogate half", "\xed\xa0\x80", "\uFFFD\uFFFD\uFFFD" + note("3")},
		{"beyond U+10FFFF", "\xf4\x90\x80\x80", "\uFFFD\uFFFD\uFFFD\uFFFD" + note("4")},
		{"mixed with valid text", "a\x00é\xffz", "a\uFFFDé\uFFFDz" + note("2")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := StorableText([]byte(tt.in)); got != tt.want {
				t.Errorf("StorableText(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if got := StorableString(tt.in); got != tt.want {
				t.Errorf("StorableString(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// FuzzStorableText checks the contract on any bytes: storable output,
// unchanged when already storable, stable when applied again, bounded.
func FuzzStorableText(f *testing.F) {
	for _, s := range []string{"", "ok\x00", "\xff", "é\xc3", "\xed\xa0\x80", "plain", "\uFFFD"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got := StorableText(b)
		if !utf8.ValidString(got) || strings.Contains(got, "\x00") {
			t.Fatalf("StorableText(%q) = %q is not storable", b, got)
		}
		if !IsStorableText(got) {
			t.Fatalf("IsStorableText(%q) = false", got)
		}
		if utf8.Valid(b) && !strings.Contains(string(b), "\x00") && got != string(b) {
			t.Fatalf("StorableText changed storable text %q to %q", b, got)
		}
		if again := StorableString(got); again != got {
			t.Fatalf("applied twice: %q then %q", got, again)
		}
		if len(got) > 3*len(b)+200 {
			t.Fatalf("%d bytes grew to %d", len(b), len(got))
		}
	})
}
