package localcloud

import (
	"math/rand/v2"
	"slices"
)

// versionRotation sends each version exactly its weight's share of the requests: a
// smooth weighted round robin over versions (nginx's algorithm). Each pick adds every
// candidate version's weight to its credit, serves the version with the most credit and
// takes the sum of the weights from it. Over every W picks (W the sum of the weights)
// each version is picked exactly its weight's times, spread evenly, so a canary at 5 %
// takes 5 of every 100 requests instead of 5 % give or take a binomial error. Callers
// hold Daemon.mu.
type versionRotation struct {
	credit map[string]int
}

// reset forgets the credits: new weights start a new cycle.
func (r *versionRotation) reset() { r.credit = nil }

// next returns the version to serve among those with a positive weight, or "" when no
// candidate version has one.
func (r *versionRotation) next(weights map[string]int, versions []string) string {
	if r.credit == nil {
		r.credit = map[string]int{}
	}
	total, best := 0, ""
	for _, v := range versions { // sorted, so ties break the same way every time
		w := weights[v]
		if w <= 0 {
			continue
		}
		total += w
		r.credit[v] += w
		if best == "" || r.credit[v] > r.credit[best] {
			best = v
		}
	}
	if best != "" {
		r.credit[best] -= total
	}
	// A version that cannot serve now starts afresh when it comes back, rather than
	// bursting with the credit it gathered before it left.
	for v := range r.credit {
		if weights[v] <= 0 || !slices.Contains(versions, v) {
			delete(r.credit, v)
		}
	}
	return best
}

// pick chooses among eligible targets: with weights, each version gets exactly its
// weight's share of the requests (see versionRotation), split at random among its
// instances; unlisted versions get none while a listed one can serve. Without weights,
// or when no weighted version can serve, every instance gets an equal share: serving
// beats answering 503 while healthy targets exist. Callers hold Daemon.mu.
func pick(cands []*instance, weights map[string]int, rot *versionRotation) *instance {
	if len(weights) > 0 {
		var versions []string
		for _, c := range cands {
			if !slices.Contains(versions, c.rec.Version) {
				versions = append(versions, c.rec.Version)
			}
		}
		slices.Sort(versions)
		if v := rot.next(weights, versions); v != "" {
			return pickOf(cands, v)
		}
	}
	return cands[rand.IntN(len(cands))]
}

// pickOf chooses at random among the candidates of one version; at least one exists.
func pickOf(cands []*instance, version string) *instance {
	n := 0
	for _, c := range cands {
		if c.rec.Version == version {
			n++
		}
	}
	i := rand.IntN(n)
	for _, c := range cands {
		if c.rec.Version == version {
			if i == 0 {
				return c
			}
			i--
		}
	}
	panic("pickOf: no candidate of version " + version)
}
