package workerapp

import (
	"context"
	"fmt"
	"log/slog"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	sdklog "go.temporal.io/sdk/log"
)

// Connection says how to reach Temporal. It starts from the standard client environment
// configuration (the TOML profile file and TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
// TEMPORAL_API_KEY, TEMPORAL_TLS*, TEMPORAL_PROFILE...), so zerodown connects exactly like
// the temporal CLI does; non-empty fields here override it, as command-line flags should.
type Connection struct {
	Address   string
	Namespace string
	// Profile picks a profile of the config file (default: $TEMPORAL_PROFILE or "default").
	Profile string
	// ConfigFile overrides $TEMPORAL_CONFIG_FILE and the default config file path.
	ConfigFile string
}

// ClientOptions resolves the connection into SDK client options.
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
	return opts, nil
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
		return nil, &ConnectError{Address: opts.HostPort, Namespace: opts.Namespace, Err: err}
	}
	return cl, nil
}

// ConnectError is a failure to reach Temporal, kept apart so callers can say so plainly.
type ConnectError struct {
	Address   string
	Namespace string
	Err       error
}

func (e *ConnectError) Error() string {
	return fmt.Sprintf("cannot connect to Temporal at %s (namespace %s): %v", e.Address, e.Namespace, e.Err)
}

func (e *ConnectError) Unwrap() error { return e.Err }
