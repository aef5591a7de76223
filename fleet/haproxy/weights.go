package haproxy

import (
	"fmt"
	"math"
	"slices"
)

// MaxWeight is the largest weight HAProxy accepts for a server.
const MaxWeight = 256

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
