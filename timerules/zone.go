package timerules

import (
	"fmt"
	"regexp"
	"strconv"
	"sync"
	"time"
)

// MaxZoneLength bounds a time zone's name; the longest IANA name is 32 characters.
const MaxZoneLength = 64

// zoneNameRE is what IANA zone names are made of ("Europe/London", "America/New_York",
// "Etc/GMT+5", "UTC"): it keeps paths (.., leading /) and control bytes out of the lookup.
var zoneNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$`)

// zones caches loaded zones: time.LoadLocation reads and parses a zone file on every call,
// and workflow code asks for the same few zones at every decision. A zone's rules never
// change while a binary runs, so the cache changes no answer. It is bounded by the names
// that load, a few hundred.
var zones = struct {
	sync.Mutex
	byName map[string]*time.Location
}{byName: map[string]*time.Location{}}

// LoadZone loads an IANA time zone by name ("Europe/London"). "Local" is refused: it
// would mean whatever zone each worker's machine is set to, so two workers (or a replay
// on another machine) would compute different instants.
func LoadZone(name string) (*time.Location, error) {
	switch {
	case name == "":
		return nil, fmt.Errorf("is empty; name an IANA time zone such as Europe/London or UTC")
	case len(name) > MaxZoneLength:
		return nil, fmt.Errorf("is %d characters; a time zone name is at most %d", len(name), MaxZoneLength)
	case name == "Local":
		return nil, fmt.Errorf("\"Local\" is each machine's own zone, so workers could disagree; name an IANA time zone such as Europe/London or UTC")
	case !zoneNameRE.MatchString(name):
		return nil, fmt.Errorf("%s is not an IANA time zone name (such as Europe/London or UTC)", strconv.Quote(name))
	}
	zones.Lock()
	defer zones.Unlock()
	if loc, ok := zones.byName[name]; ok {
		return loc, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("%s is not a time zone of the IANA database (such as Europe/London or UTC)", strconv.Quote(name))
	}
	zones.byName[name] = loc
	return loc, nil
}
