package redact

import "strings"

// secretKeys end the key of an assignment whose value is a secret, compared in lower
// case without '_' and '-': PASSWORD=, client_secret:, "api-key": ...
var secretKeys = []string{
	"password", "passwd", "passphrase", "secret", "token", "apikey", "accesskey",
	"privatekey", "credential", "credentials",
}

// minAssignedLength is the shortest assigned value removed: "token: )" in a parser's
// message is not a secret.
const minAssignedLength = 6

// redactAssignments replaces the value of every assignment to a secret-sounding key
// (KEY=value, key: value, "key": "value", ?key=value&) with Marker. It is a scan rather
// than a regexp because a case-insensitive alternation is slow in Go's regexp engine;
// each byte is looked at a bounded number of times (the key looked back at is at most
// maxKeyLength), so the time stays linear.
func redactAssignments(s string) string {
	var b strings.Builder
	done := 0 // s[:done] is in b already
	for i := 0; i < len(s); {
		j := strings.IndexAny(s[i:], "=:")
		if j < 0 {
			break
		}
		sep := i + j
		i = sep + 1
		if !secretKeyBefore(s, sep) {
			continue
		}
		start := sep + 1
		for start < len(s) && (s[start] == ' ' || s[start] == '\t') {
			start++
		}
		if start < len(s) && (s[start] == '"' || s[start] == '\'') {
			start++
		}
		end := start
		for end < len(s) && isValueByte(s[end]) {
			end++
		}
		if end-start < minAssignedLength {
			continue
		}
		if done == 0 {
			b.Grow(len(s))
		}
		b.WriteString(s[done:start])
		b.WriteString(Marker)
		done, i = end, end
	}
	if done == 0 {
		return s
	}
	b.WriteString(s[done:])
	return b.String()
}

// maxKeyLength bounds how far back a key is read.
const maxKeyLength = 64

// secretKeyBefore reports whether the word before the separator at sep (skipping an
// optional closing quote and blanks) ends with a secret key.
func secretKeyBefore(s string, sep int) bool {
	k := sep
	for k > 0 && (s[k-1] == ' ' || s[k-1] == '\t') && sep-k < maxKeyLength {
		k--
	}
	if k > 0 && (s[k-1] == '"' || s[k-1] == '\'') {
		k--
	}
	var word []byte // lower case, without '_' and '-', reversed
	for k > 0 && sep-k < maxKeyLength && isKeyByte(s[k-1]) {
		c := s[k-1]
		k--
		if c == '_' || c == '-' {
			continue
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		word = append(word, c)
	}
	for _, key := range secretKeys {
		if reversedHasSuffix(word, key) {
			return true
		}
	}
	return false
}

func reversedHasSuffix(reversed []byte, suffix string) bool {
	if len(reversed) < len(suffix) {
		return false
	}
	for i := range len(suffix) {
		if reversed[i] != suffix[len(suffix)-1-i] {
			return false
		}
	}
	return true
}

func isKeyByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.'
}

// isValueByte is what an assigned value is made of: anything up to a blank, a quote or
// a separator of a list, a query or a JSON document; '[' is excluded so that Marker is
// never taken for a value.
func isValueByte(c byte) bool {
	switch c {
	case ' ', '\t', '\r', '\n', '"', '\'', '&', ',', ';', '[', ']', '{', '}', '(', ')', '<', '>':
		return false
	}
	return true
}
