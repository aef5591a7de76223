//go:build unix

package activities_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/zerodown/zerodown/activities"
)

func resolve(t *testing.T, in activities.ResolveVersionInput) (activities.ResolvedVersion, error) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	acts := activities.New(nil, nil)
	env.RegisterActivity(acts)
	v, err := env.ExecuteActivity(acts.ResolveVersion, in)
	if err != nil {
		return activities.ResolvedVersion{}, err
	}
	var got activities.ResolvedVersion
	require.NoError(t, v.Get(&got))
	return got, nil
}

// The version is the first non-empty line a command prints, in the hooks' clean
// environment (a worker secret is not passed), with the schedule's name.
func TestResolveVersionFromACommand(t *testing.T) {
	t.Setenv("SLACK_BOT_TOKEN", "xoxb-worker-secret-token")
	got, err := resolve(t, activities.ResolveVersionInput{Schedule: "daily",
		Command: []string{"sh", "-c", `echo; echo "v2.4.$ZERODOWN_SCHEDULE$SLACK_BOT_TOKEN"; echo more`}})
	require.NoError(t, err)
	require.Equal(t, "v2.4.daily", got.Version)
	require.Equal(t, `command sh -c echo; echo "v2.4.$ZERODOWN_SCHEDULE$SLACK_BOT_TOKEN"; echo more`, got.From)
}

// What is not a version is refused, saying why, whatever the command prints or does.
func TestResolveVersionRefusesWhatIsNotAVersion(t *testing.T) {
	for _, tc := range []struct {
		script, want string
	}{
		{"true", "printed nothing: no version"},
		{"echo 'v2 and some words'", `printed "v2 and some words", not a version`},
		{"head -c 200 /dev/zero | tr '\\0' v", "printed a first line of 200 bytes, not a version"},
		{"head -c 10000000 /dev/zero | tr '\\0' v", "longer than 4096 bytes"},
		{"echo build server down >&2; exit 3", "exit status 3: build server down"},
	} {
		_, err := resolve(t, activities.ResolveVersionInput{Schedule: "daily", Command: []string{"sh", "-c", tc.script}})
		require.ErrorContains(t, err, tc.want, tc.script)
	}
	start := time.Now()
	_, err := resolve(t, activities.ResolveVersionInput{Schedule: "daily", Command: []string{"sleep", "30"}, Timeout: 500 * time.Millisecond})
	require.ErrorContains(t, err, "no answer within 500ms")
	require.Less(t, time.Since(start), 20*time.Second, "the timeout did not stop the command")
}

// A URL's answer gives the version the same way; a missing page is not retried.
func TestResolveVersionFromAURL(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/latest-green":
			fmt.Fprintln(w, "v7.1.0")
		case "/huge":
			fmt.Fprint(w, strings.Repeat("v", 1<<20))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	got, err := resolve(t, activities.ResolveVersionInput{URL: srv.URL + "/latest-green"})
	require.NoError(t, err)
	require.Equal(t, "v7.1.0", got.Version)
	require.Equal(t, "GET "+srv.URL+"/latest-green", got.From)
	_, err = resolve(t, activities.ResolveVersionInput{URL: srv.URL + "/nothing"})
	require.ErrorContains(t, err, "answered 404, want 200")
	_, err = resolve(t, activities.ResolveVersionInput{URL: srv.URL + "/huge"})
	require.ErrorContains(t, err, "longer than 4096 bytes")
}
