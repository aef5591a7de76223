package codec

import (
	"crypto/subtle"
	"net/http"
	"slices"
	"strings"

	"go.temporal.io/sdk/converter"
)

// DefaultMaxBodyBytes bounds one request: the UI sends one event's payloads at a time.
const DefaultMaxBodyBytes = 4 << 20

// ServerOptions configure NewServer.
type ServerOptions struct {
	// AllowOrigins are the web origins of the Temporal UI allowed to call from a browser
	// (e.g. http://localhost:8233); none means no CORS headers, for CLI use only.
	AllowOrigins []string
	// Token, if set, must come as "Authorization: Bearer <Token>" (the UI's "pass the
	// access token" setting or `temporal --codec-auth "Bearer <Token>"`).
	Token string
	// AllowEncode also serves /encode, which the UI uses to send signals and updates
	// with encrypted input. Off by default: reading needs /decode only.
	AllowEncode bool
	// MaxBodyBytes bounds a request body (DefaultMaxBodyBytes if 0).
	MaxBodyBytes int64
}

// NewServer returns an HTTP handler of the Temporal remote codec protocol for c:
// POST .../decode (and .../encode with AllowEncode) with a JSON {"payloads": [...]}.
func NewServer(c converter.PayloadCodec, opts ServerOptions) http.Handler {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	inner := converter.NewPayloadCodecHTTPHandler(c)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if origin := r.Header.Get("Origin"); origin != "" && slices.Contains(opts.AllowOrigins, origin) {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Content-Type, X-Namespace, Authorization")
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Add("Vary", "Origin")
		}
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if r.Method != http.MethodPost {
			http.Error(w, "use POST", http.StatusMethodNotAllowed)
			return
		}
		encode := strings.HasSuffix(r.URL.Path, "/encode")
		if !strings.HasSuffix(r.URL.Path, "/decode") && !(encode && opts.AllowEncode) {
			http.NotFound(w, r)
			return
		}
		if opts.Token != "" {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(opts.Token)) != 1 {
				http.Error(w, "missing or wrong bearer token", http.StatusUnauthorized)
				return
			}
		}
		if r.ContentLength > opts.MaxBodyBytes {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, opts.MaxBodyBytes)
		inner.ServeHTTP(w, r)
	})
}
