package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"time"
)

// signatureVersion prefixes every signature entry: "v1" is HMAC-SHA256.
const signatureVersion = "v1,"

// entryLen is the length of one "v1,<base64 HMAC-SHA256>" entry: padded
// base64 of 32 bytes is 44 characters.
const entryLen = len(signatureVersion) + (sha256.Size+2)/3*4

// Sign returns the signature entry "v1,<base64>" of body for message msgID
// sent at ts (truncated to Unix seconds), using key. It never fails; an
// empty key signs too, so keys should come from ParseSecret or
// GenerateSecret.
func Sign(key Secret, msgID string, ts time.Time, body []byte) string {
	return string(appendSignature(make([]byte, 0, entryLen), key, msgID, ts.Unix(), body))
}

// SignatureHeader returns the value of the signature header: one Sign entry
// per key, in the order given, separated by single spaces. It returns "" for
// no keys.
func SignatureHeader(keys []Secret, msgID string, ts time.Time, body []byte) string {
	if len(keys) == 0 {
		return ""
	}
	unix := ts.Unix()
	buf := make([]byte, 0, len(keys)*(entryLen+1))
	for i, key := range keys {
		if i > 0 {
			buf = append(buf, ' ')
		}
		buf = appendSignature(buf, key, msgID, unix, body)
	}
	return string(buf)
}

// appendSignature appends "v1,<base64 mac>" to dst. The signed content is
// fed to the MAC piece by piece so the body is never copied.
func appendSignature(dst []byte, key Secret, msgID string, unix int64, body []byte) []byte {
	mac := macOf(key, msgID, unix, body)
	dst = append(dst, signatureVersion...)
	return base64.StdEncoding.AppendEncode(dst, mac[:])
}

// macOf returns HMAC-SHA256(key, msgID + "." + unix + "." + body).
func macOf(key Secret, msgID string, unix int64, body []byte) [sha256.Size]byte {
	// One scratch buffer holds the signed prefix and then the sum.
	scratch := make([]byte, 0, len(msgID)+2+20+sha256.Size)
	scratch = append(scratch, msgID...)
	scratch = append(scratch, '.')
	scratch = strconv.AppendInt(scratch, unix, 10)
	scratch = append(scratch, '.')

	h := hmac.New(sha256.New, key)
	h.Write(scratch)
	h.Write(body)
	var out [sha256.Size]byte
	copy(out[:], h.Sum(scratch[len(scratch):]))
	return out
}
