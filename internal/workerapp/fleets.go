package workerapp

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/zerodown/zerodown/fleet"
	awsfleet "github.com/zerodown/zerodown/fleet/aws"
	"github.com/zerodown/zerodown/fleet/haproxy"
	"github.com/zerodown/zerodown/fleet/local"
	"github.com/zerodown/zerodown/fleet/memory"
	"github.com/zerodown/zerodown/schemas"
)

// DefaultProviders are the fleet providers a worker serves unless told otherwise. The
// in-memory fleet is opt-in: a production worker must not "release" to a fleet that
// exists only in its own memory.
var DefaultProviders = []string{schemas.ProviderLocal}

// LocalEndpointEnv names the local cloud API for specs that name none, for the worker
// and `zerodown plan` alike.
const LocalEndpointEnv = "ZERODOWN_LOCALCLOUD"

// providers builds each known provider's factory; localEndpoint is the local cloud API
// for specs that name none.
var providers = map[string]func(localEndpoint string) (fleet.Factory, error){
	// One in-process fleet per worker: releases of memory targets share it, as the
	// instances of one real fleet would.
	schemas.ProviderMemory: func(string) (fleet.Factory, error) { return memory.New().Factory, nil },
	// AWS: the standard credential chain and each target's region; one set of clients
	// per region and endpoint, shared by every release the worker runs.
	schemas.ProviderAWS: func(string) (fleet.Factory, error) { return awsfleet.NewProvider(awsfleet.Options{}).Factory, nil },
	schemas.ProviderLocal: func(endpoint string) (fleet.Factory, error) {
		if endpoint == "" {
			endpoint = local.DefaultEndpoint
		}
		return local.FactoryWith(endpoint), nil
	},
	// HAProxy's Runtime API; launched instances go through the same local cloud.
	schemas.ProviderHAProxy: func(endpoint string) (fleet.Factory, error) { return haproxy.FactoryWith(endpoint), nil },
}

// BuildFleets builds the registry of the named providers (DefaultProviders if none).
// localEndpoint defaults to $ZERODOWN_LOCALCLOUD, then local.DefaultEndpoint.
func BuildFleets(names []string, localEndpoint string) (fleet.Registry, error) {
	if len(names) == 0 {
		names = DefaultProviders
	}
	if localEndpoint == "" {
		localEndpoint = os.Getenv(LocalEndpointEnv)
	}
	reg := fleet.Registry{}
	for _, name := range names {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		build, ok := providers[name]
		if !ok {
			return nil, fmt.Errorf("unknown fleet provider %q (known: %s)", name, strings.Join(KnownProviders(), ", "))
		}
		f, err := build(localEndpoint)
		if err != nil {
			return nil, fmt.Errorf("fleet provider %s: %w", name, err)
		}
		reg[name] = f
	}
	return reg, nil
}

// KnownProviders lists the providers BuildFleets can build, sorted.
func KnownProviders() []string {
	var names []string
	for n := range providers {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
