package sentrytest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// maxBuckets is where Sentry refuses an events-stats request as too many results.
const maxBuckets = 10000

// issuesPerPage is Sentry's page size for issue lists.
const issuesPerPage = 100

func (s *Server) authed(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests = append(s.requests, r.URL.RequestURI())
		s.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+s.Token {
			apiError(w, http.StatusUnauthorized, "Invalid token")
			return
		}
		if r.PathValue("org") != s.Org {
			apiError(w, http.StatusNotFound, "The requested resource does not exist")
			return
		}
		if p := r.PathValue("project"); p != "" && p != s.Project {
			apiError(w, http.StatusNotFound, "The requested resource does not exist")
			return
		}
		next(w, r)
	}
}

// term is one key:value of a search query; Op is "", ">", ">=", "<" or "<=".
type term struct{ Key, Op, Value string }

// parseQuery splits a Sentry search query into terms; values may be double-quoted.
func parseQuery(q string, known ...string) ([]term, error) {
	var out []term
	for i := 0; i < len(q); {
		if q[i] == ' ' {
			i++
			continue
		}
		colon := strings.IndexByte(q[i:], ':')
		if colon < 0 {
			return nil, fmt.Errorf("%w: free text %q is not supported by the stand-in", errBadQuery, q[i:])
		}
		key := q[i : i+colon]
		if !slices.Contains(known, key) {
			return nil, fmt.Errorf("%w: unsupported field %q", errBadQuery, key)
		}
		i += colon + 1
		var val strings.Builder
		if i < len(q) && q[i] == '"' {
			i++
			for ; i < len(q) && q[i] != '"'; i++ {
				if q[i] == '\\' && i+1 < len(q) {
					i++
				}
				val.WriteByte(q[i])
			}
			if i >= len(q) {
				return nil, fmt.Errorf("%w: unclosed quote", errBadQuery)
			}
			i++
		} else {
			for ; i < len(q) && q[i] != ' '; i++ {
				val.WriteByte(q[i])
			}
		}
		t := term{Key: key, Value: val.String()}
		for _, op := range []string{">=", "<=", ">", "<"} {
			if strings.HasPrefix(t.Value, op) {
				t.Op, t.Value = op, strings.TrimPrefix(t.Value, op)
				break
			}
		}
		out = append(out, t)
	}
	return out, nil
}

func parseISO(name, v string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%s: %q is not an ISO 8601 time", name, v)
}

func parseInterval(v string) (time.Duration, error) {
	if len(v) < 2 {
		return 0, fmt.Errorf("interval %q", v)
	}
	n, err := strconv.Atoi(v[:len(v)-1])
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("interval %q", v)
	}
	unit := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour}[v[len(v)-1]]
	if unit == 0 {
		return 0, fmt.Errorf("interval %q", v)
	}
	return time.Duration(n) * unit, nil
}

func compare(t time.Time, op string, ref time.Time) bool {
	switch op {
	case ">":
		return t.After(ref)
	case ">=":
		return !t.Before(ref)
	case "<":
		return t.Before(ref)
	case "<=":
		return !t.After(ref)
	}
	return t.Equal(ref)
}

// eventsStats answers count() per bucket of interval between start and end, buckets
// aligned to multiples of the interval as Sentry's are:
// {"data": [[<bucket start, epoch s>, [{"count": n}]], ...], "start": s, "end": s}.
func (s *Server) eventsStats(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if y := q.Get("yAxis"); y != "" && y != "count()" {
		apiError(w, http.StatusBadRequest, "the stand-in answers yAxis=count() only")
		return
	}
	start, err := parseISO("start", q.Get("start"))
	if err != nil {
		apiError(w, http.StatusBadRequest, err.Error())
		return
	}
	end, err := parseISO("end", q.Get("end"))
	if err != nil {
		apiError(w, http.StatusBadRequest, err.Error())
		return
	}
	every, err := parseInterval(q.Get("interval"))
	if err != nil {
		apiError(w, http.StatusBadRequest, "Invalid "+err.Error())
		return
	}
	if !end.After(start) {
		apiError(w, http.StatusBadRequest, "start must be before end")
		return
	}
	first := start.Truncate(every)
	n := int((end.Sub(first) + every - 1) / every)
	if n > maxBuckets {
		apiError(w, http.StatusBadRequest, "Your interval and date range would create too many results. Use a larger interval, or a smaller date range.")
		return
	}
	terms, err := parseQuery(q.Get("query"), "release", "event.type", "project")
	if err != nil {
		apiError(w, http.StatusBadRequest, err.Error())
		return
	}
	envs := q["environment"]
	match := func(e Event) bool {
		if len(envs) > 0 && !slices.Contains(envs, e.Environment) {
			return false
		}
		for _, t := range terms {
			switch t.Key {
			case "release":
				if e.Release != t.Value {
					return false
				}
			case "event.type":
				if e.Type != t.Value {
					return false
				}
			case "project":
				if t.Value != s.Project {
					return false
				}
			}
		}
		return true
	}
	counts := make([]int, n)
	s.mu.Lock()
	for _, e := range s.events {
		if e.Time.Before(start) || !e.Time.Before(end) || !match(e) {
			continue
		}
		counts[int(e.Time.Sub(first)/every)]++
	}
	s.mu.Unlock()
	data := make([][2]any, n)
	for i := range counts {
		data[i] = [2]any{first.Add(time.Duration(i) * every).Unix(), []map[string]int{{"count": counts[i]}}}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"data": data, "start": first.Unix(), "end": end.Unix()})
}

// projectIssues lists a project's issues matching the query, most recently seen first,
// issuesPerPage at a time with Sentry's cursor pagination.
func (s *Server) projectIssues(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if p := q.Get("statsPeriod"); p != "" && p != "24h" && p != "14d" {
		apiError(w, http.StatusBadRequest, "Invalid stats_period. Valid choices are '', '24h', and '14d'")
		return
	}
	terms, err := parseQuery(q.Get("query"), "firstRelease", "firstSeen", "lastSeen", "is")
	if err != nil {
		apiError(w, http.StatusBadRequest, err.Error())
		return
	}
	offset := 0
	if c := q.Get("cursor"); c != "" {
		parts := strings.Split(c, ":")
		if len(parts) != 3 {
			apiError(w, http.StatusBadRequest, "Invalid cursor parameter.")
			return
		}
		if offset, err = strconv.Atoi(parts[1]); err != nil || offset < 0 {
			apiError(w, http.StatusBadRequest, "Invalid cursor parameter.")
			return
		}
	}
	envs := q["environment"]
	var matched []Issue
	s.mu.Lock()
	inEnv := map[string]bool{}
	for _, e := range s.events {
		if e.IssueID != "" && (len(envs) == 0 || slices.Contains(envs, e.Environment)) {
			inEnv[e.IssueID] = true
		}
	}
	for _, is := range s.issues {
		ok := inEnv[is.ID]
		for _, t := range terms {
			switch t.Key {
			case "firstRelease":
				ok = ok && is.FirstRelease == t.Value
			case "firstSeen", "lastSeen":
				ref, err := parseISO(t.Key, t.Value)
				if err != nil {
					s.mu.Unlock()
					apiError(w, http.StatusBadRequest, err.Error())
					return
				}
				at := is.FirstSeen
				if t.Key == "lastSeen" {
					at = is.LastSeen
				}
				ok = ok && compare(at, t.Op, ref)
			case "is":
				ok = ok && t.Value == "unresolved" // every issue here is unresolved
			}
		}
		if ok {
			matched = append(matched, *is)
		}
	}
	s.mu.Unlock()
	slices.SortFunc(matched, func(a, b Issue) int { return b.LastSeen.Compare(a.LastSeen) })

	page := matched[min(offset, len(matched)):min(offset+issuesPerPage, len(matched))]
	out := make([]map[string]any, 0, len(page))
	for _, is := range page {
		out = append(out, map[string]any{
			"id": is.ID, "shortId": strings.ToUpper(s.Project) + "-" + strings.TrimLeft(is.ID[1:], "0"),
			"title": is.Title, "culprit": "", "level": "error", "status": "unresolved",
			"count": strconv.Itoa(is.Count), "userCount": 0,
			"firstSeen": is.FirstSeen.UTC().Format("2006-01-02T15:04:05.000Z"),
			"lastSeen":  is.LastSeen.UTC().Format("2006-01-02T15:04:05.000Z"),
			"project":   map[string]string{"id": s.ProjectID, "slug": s.Project},
		})
	}
	base := *r.URL
	link := func(rel string, off int, results bool) string {
		v := base.Query()
		cursor := fmt.Sprintf("0:%d:%d", off, map[bool]int{true: 0, false: 1}[rel == "next"])
		v.Set("cursor", cursor)
		u := s.URL() + base.Path + "?" + v.Encode()
		return fmt.Sprintf(`<%s>; rel="%s"; results="%t"; cursor="%s"`, u, rel, results, cursor)
	}
	w.Header().Set("Link", link("previous", max(0, offset-issuesPerPage), offset > 0)+", "+
		link("next", offset+issuesPerPage, offset+issuesPerPage < len(matched)))
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}
