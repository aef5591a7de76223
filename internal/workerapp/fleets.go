package workerapp

import (
	"fmt"
	"slices"
	"strings"

	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/fleet/memory"
	"github.com/zerodown/zerodown/schemas"
)

// DefaultProviders are the fleet providers a worker serves unless told otherwise.
var DefaultProviders = []string{schemas.ProviderMemory}

// providers builds each known provider's factory; localEndpoint is the local cloud API
// for specs that name none.
var providers = map[string]func(localEndpoint string) (fleet.Factory, error){
	// One in-process fleet per worker: releases of memory targets share it, as the
	// instances of one real fleet would.
	schemas.ProviderMemory: func(string) (fleet.Factory, error) { return memory.New().Factory, nil },
}

// BuildFleets builds the registry of the named providers (DefaultProviders if none).
func BuildFleets(names []string, localEndpoint string) (fleet.Registry, error) {
	if len(names) == 0 {
		names = DefaultProviders
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
