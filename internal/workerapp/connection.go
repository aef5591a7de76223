package workerapp

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	"go.temporal.io/sdk/converter"
	sdklog "go.temporal.io/sdk/log"
	"google.golang.org/grpc/codes"

	"github.com/zerodown/zerodown/codec"
)

// Connection says how to reach Temporal. It starts from the standard client environment
// configuration (the TOML profile file and TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
// TEMPORAL_API_KEY, TEMPORAL_TLS*, TEMPORAL_PROFILE...), so zerodown connects exactly like
// the temporal CLI does; non-empty fields here override it, as command-line flags should.
//
// Payloads are encrypted when codec keys are given ($ZERODOWN_CODEC_KEYS_FILE or
// $ZERODOWN_CODEC_KEYS, see package codec): every client built here, the worker's, the
// CLI's and the Slack bridge's, seals what it writes and opens what it reads.
type Connection struct {
	Address   string
	Namespace string
	// Profile picks a profile of the config file (default: $TEMPORAL_PROFILE or "default").
	Profile string
	// ConfigFile overrides $TEMPORAL_CONFIG_FILE and the default config file path.
	ConfigFile string
}

// ClientOptions resolves the connection into SDK client options, the payload codec
// included when keys are configured.
func (c Connection) ClientOptions() (client.Options, error) {
	opts, err := envconfig.LoadClientOptions(envconfig.LoadClientOptionsRequest{
		ConfigFilePath:    c.ConfigFile,
		ConfigFileProfile: c.Profile,
	})
	if err != nil {
		return client.Options{}, fmt.Errorf("temporal client configuration: %w", err)
	}
	if c.Address != "" {
		opts.HostPort = c.Address
	}
	if c.Namespace != "" {
		opts.Namespace = c.Namespace
	}
	if opts.HostPort == "" {
		opts.HostPort = client.DefaultHostPort
	}
	if opts.Namespace == "" {
		opts.Namespace = client.DefaultNamespace
	}
	if opts.DataConverter, err = DataConverter(); err != nil {
		return client.Options{}, err
	}
	return opts, nil
}

// DataConverter is the SDK's default converter, sealed with the payload codec when keys
// are configured in the environment; nil (the SDK's default) when they are not.
func DataConverter() (converter.DataConverter, error) {
	keys, err := codec.LoadKeysFromEnv()
	if err != nil || keys == nil {
		return nil, err
	}
	c, err := codec.New(keys)
	if err != nil {
		return nil, err
	}
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c), nil
}

// Dial connects once, eagerly, so that a wrong address is reported now and in one line
// rather than on the first call. logger may be nil (warnings and errors go to slog's default).
func (c Connection) Dial(ctx context.Context, logger *slog.Logger, metrics client.MetricsHandler) (client.Client, error) {
	opts, err := c.ClientOptions()
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.Default()
	}
	opts.Logger = sdklog.NewStructuredLogger(logger)
	if metrics != nil {
		opts.MetricsHandler = metrics
	}
	cl, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, &ConnectError{Address: opts.HostPort, Namespace: opts.Namespace, TLS: opts.ConnectionOptions.TLS != nil, Err: err}
	}
	return cl, nil
}

// ConnectError is a failure to reach Temporal, kept apart so callers can say so plainly.
type ConnectError struct {
	Address   string
	Namespace string
	TLS       bool // whether the connection used TLS
	Err       error
}

func (e *ConnectError) Error() string {
	msg := fmt.Sprintf("cannot connect to Temporal at %s (namespace %s): %v", e.Address, e.Namespace, e.Err)
	if hint := e.Hint(); hint != "" {
		msg += "; " + hint
	}
	return msg
}

func (e *ConnectError) Unwrap() error { return e.Err }

// Hint names the setting most likely wrong, from what the TLS stack or the server said.
// The SDK and gRPC report TLS failures as text only, hence the matching on it.
func (e *ConnectError) Hint() string {
	msg := e.Err.Error()
	code := serviceerror.ToStatus(e.Err).Code()
	switch {
	case strings.Contains(msg, "certificate signed by unknown authority"):
		return "TLS: the server's certificate is signed by an unknown authority: give its CA (TEMPORAL_TLS_SERVER_CA_CERT_PATH or server_ca_cert_path in the profile)"
	case strings.Contains(msg, "certificate is valid for"), strings.Contains(msg, "certificate is not valid for"), strings.Contains(msg, "doesn't contain any IP SANs"):
		return "TLS: the server's certificate does not name the host asked for: set the name it carries (TEMPORAL_TLS_SERVER_NAME or server_name in the profile)"
	case strings.Contains(msg, "certificate required"), strings.Contains(msg, "bad certificate"), strings.Contains(msg, "unknown certificate authority"):
		return "TLS: the server wants a client certificate it trusts (mTLS): give one (TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH, or client_cert_path and client_key_path in the profile)"
	case strings.Contains(msg, "first record does not look like a TLS handshake"):
		return "TLS: the server does not speak TLS: turn TLS off (TEMPORAL_TLS=false) or check the address"
	case strings.Contains(msg, "authentication handshake failed"), strings.Contains(msg, "tls:"):
		return "TLS: the handshake failed: check TEMPORAL_TLS_SERVER_CA_CERT_PATH, TEMPORAL_TLS_SERVER_NAME and the client certificate"
	case code == codes.Unauthenticated, code == codes.PermissionDenied:
		return "the server refused the credentials: check the API key (TEMPORAL_API_KEY or api_key in the profile) or the client certificate"
	case !e.TLS && strings.Contains(msg, "server preface"):
		return "the server closed the connection at once; if it wants TLS, turn it on (TEMPORAL_TLS=true, with TEMPORAL_TLS_SERVER_CA_CERT_PATH for a private CA)"
	case e.TLS && (strings.Contains(msg, "connection reset") || strings.Contains(msg, "broken pipe") || strings.Contains(msg, "EOF")):
		return "TLS: the server closed the connection during the handshake; it may want a client certificate (TEMPORAL_TLS_CLIENT_CERT_PATH)"
	}
	return ""
}
