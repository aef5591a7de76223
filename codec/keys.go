package codec

import (
	"bufio"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
)

// Environment variables that LoadKeysFromEnv reads: a file of keys, or the keys themselves.
const (
	KeysFileEnv = "ZERODOWN_CODEC_KEYS_FILE"
	KeysEnv     = "ZERODOWN_CODEC_KEYS"
)

// Limits on a key set, so that a wrong file (a log, a binary) is refused quickly.
const (
	KeySize      = 32 // AES-256
	MaxKeys      = 64
	MaxKeysBytes = 64 << 10
)

var keyIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// Keys is a set of AES-256 keys by ID. Current seals new payloads; every key opens.
type Keys struct {
	Current string
	byID    map[string][]byte
}

// ParseKeys reads keys written one per line as "ID BASE64KEY" (blank lines and lines
// starting with # are skipped). The first key is the current one: to rotate, put a new
// key first and keep the old ones below it for as long as history sealed with them is
// kept. Errors name the line, never the key material.
func ParseKeys(text string) (*Keys, error) {
	if len(text) > MaxKeysBytes {
		return nil, fmt.Errorf("codec keys: %d bytes, more than the %d a key set can take", len(text), MaxKeysBytes)
	}
	k := &Keys{byID: map[string][]byte{}}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 4096), MaxKeysBytes)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 {
			return nil, fmt.Errorf("codec keys line %d: want \"ID BASE64KEY\"", n)
		}
		id := fields[0]
		if !keyIDPattern.MatchString(id) {
			return nil, fmt.Errorf("codec keys line %d: key ID %q: use 1 to 64 letters, digits, '.', '_' or '-'", n, truncate(id, 64))
		}
		if _, dup := k.byID[id]; dup {
			return nil, fmt.Errorf("codec keys line %d: key ID %q given twice", n, id)
		}
		key, err := base64.StdEncoding.DecodeString(fields[1])
		if err != nil {
			return nil, fmt.Errorf("codec keys line %d: key %q is not base64", n, id)
		}
		if len(key) != KeySize {
			return nil, fmt.Errorf("codec keys line %d: key %q has %d bytes; AES-256 needs %d (openssl rand -base64 32)", n, id, len(key), KeySize)
		}
		if len(k.byID) == MaxKeys {
			return nil, fmt.Errorf("codec keys line %d: more than %d keys", n, MaxKeys)
		}
		k.byID[id] = key
		if k.Current == "" {
			k.Current = id
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("codec keys: %w", err)
	}
	if k.Current == "" {
		return nil, errors.New("codec keys: no key given")
	}
	return k, nil
}

// LoadKeysFile reads a key file (see ParseKeys), bounded to MaxKeysBytes.
func LoadKeysFile(path string) (*Keys, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("codec keys: %w", err)
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, MaxKeysBytes+1))
	if err != nil {
		return nil, fmt.Errorf("codec keys %s: %w", path, err)
	}
	k, err := ParseKeys(string(raw))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// LoadKeysFromEnv reads the keys from $ZERODOWN_CODEC_KEYS_FILE or, failing that,
// $ZERODOWN_CODEC_KEYS (lines may be separated by ';' there). It returns nil, nil when
// neither is set: encryption is off.
func LoadKeysFromEnv() (*Keys, error) {
	if path := os.Getenv(KeysFileEnv); path != "" {
		return LoadKeysFile(path)
	}
	if text := os.Getenv(KeysEnv); text != "" {
		k, err := ParseKeys(strings.ReplaceAll(text, ";", "\n"))
		if err != nil {
			return nil, fmt.Errorf("$%s: %w", KeysEnv, err)
		}
		return k, nil
	}
	return nil, nil
}

// IDs returns the key IDs, the current one first.
func (k *Keys) IDs() []string {
	ids := []string{k.Current}
	for id := range k.byID {
		if id != k.Current {
			ids = append(ids, id)
		}
	}
	return ids
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
