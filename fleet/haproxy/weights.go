package haproxy

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/zerodown/zerodown/fleet"
)

// MaxWeight is the largest weight HAProxy accepts for a server.
const MaxWeight = 256

// SetWeights gives each version its share of new traffic by setting the weight of
// every serving server, so that the share is exact per version whatever the number of
// servers running it; versions left out get none. An empty map gives every server its
// configured weight back.
func (f *Fleet) SetWeights(ctx context.Context, weights map[string]int) error {
	st, err := f.Describe(ctx)
	if err != nil {
		return err
	}
	servers, err := f.api.Servers(ctx, f.backend)
	if err != nil {
		return f.wrap(err)
	}
	initial := map[string]int{}
	for _, s := range servers {
		initial[s.Name] = s.InitialWeight
	}
	counts := map[string]int{}
	for _, in := range st.Instances {
		if in.Attached {
			counts[in.Version]++
		}
	}
	var perVersion map[string]int
	if len(weights) > 0 {
		if perVersion, _, err = serverWeights(weights, counts); err != nil {
			return fmt.Errorf("%w: %v", fleet.ErrInvalidConfig, err)
		}
	}
	for _, in := range st.Instances {
		if !in.Attached {
			continue
		}
		w := initial[in.ID]
		if perVersion != nil {
			w = perVersion[in.Version]
		}
		if err := f.api.SetWeight(ctx, f.backend, in.ID, w); err != nil {
			return f.wrap(err)
		}
	}
	return nil
}

// weightsOf reports the per-version traffic share (percent, rounded) when weights
// differ from the configuration's; nil when every serving server has its own.
func weightsOf(ins []fleet.Instance, servers []Server) map[string]int {
	initial := map[string]int{}
	for _, s := range servers {
		initial[s.Name] = s.InitialWeight
	}
	set, total := false, 0
	perVersion := map[string]int{}
	for _, in := range ins {
		if !in.Attached {
			continue
		}
		if in.Weight != initial[in.ID] {
			set = true
		}
		perVersion[in.Version] += in.Weight
		total += in.Weight
	}
	if !set || total == 0 {
		return nil
	}
	out := map[string]int{}
	for v, w := range perVersion {
		out[v] = int(math.Round(100 * float64(w) / float64(total)))
	}
	return out
}

// serverWeights turns a traffic share per version (a percentage; shares are relative
// to their sum, as the local cloud's) into one weight per server, given how many serving servers each version has, so that the versions'
// shares are exact: with n servers of version v and share p, each gets p·M/n where M
// is the least common multiple of the counts, then every weight is divided by their
// greatest common divisor. When that exceeds MaxWeight (many servers and odd shares),
// weights are scaled down and rounded, and exact is false.
func serverWeights(shares, counts map[string]int) (weights map[string]int, exact bool, err error) {
	lcm := 1
	for _, v := range sortedKeys(shares) {
		p := shares[v]
		if p < 0 || p > 100 {
			return nil, false, fmt.Errorf("weight of %s is %d, not a percentage", v, p)
		}
		if p == 0 {
			continue
		}
		n := counts[v]
		if n == 0 {
			return nil, false, fmt.Errorf("no serving server runs %s, which should take %d%% of the traffic", v, p)
		}
		lcm = lcm / gcd(lcm, n) * n
		if lcm > 1<<20 {
			lcm = 1 << 20 // beyond any exact answer: the scaling below approximates
		}
	}
	weights = map[string]int{}
	g, top := 0, 0
	for v, p := range shares {
		if p == 0 {
			weights[v] = 0
			continue
		}
		w := p * (lcm / counts[v])
		weights[v] = w
		g = gcd(g, w)
		top = max(top, w)
	}
	if top == 0 {
		return nil, false, fmt.Errorf("every weight is 0: no server would take traffic")
	}
	exact = true
	for v, w := range weights {
		weights[v] = w / g
	}
	if top/g > MaxWeight {
		exact = false
		scale := float64(MaxWeight) / float64(top)
		for v, w := range weights {
			if w == 0 {
				continue
			}
			weights[v] = max(1, int(math.Round(float64(w*g)*scale)))
		}
	}
	sum, total := 0, totalWeight(weights, counts)
	for _, p := range shares {
		sum += p
	}
	for v, p := range shares {
		if counts[v]*weights[v]*sum != p*total {
			exact = false
		}
	}
	return weights, exact, nil
}

func totalWeight(weights, counts map[string]int) int {
	t := 0
	for v, w := range weights {
		t += w * counts[v]
	}
	return t
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
