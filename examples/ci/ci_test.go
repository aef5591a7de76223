package ci_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/zerodown/zerodown/internal/cli"
)

var pipelines = []string{"github-actions.yaml", "gitlab-ci.yml"}

// scripts returns every shell script of a pipeline file: GitHub's steps[].run, GitLab's
// script and before_script lines.
func scripts(t *testing.T, file string) []string {
	t.Helper()
	raw, err := os.ReadFile(file)
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, yaml.Unmarshal(raw, &doc), file)
	var out []string
	if jobs, ok := doc["jobs"].(map[string]any); ok { // GitHub Actions
		for _, job := range jobs {
			for _, step := range job.(map[string]any)["steps"].([]any) {
				if run, ok := step.(map[string]any)["run"].(string); ok {
					out = append(out, run)
				}
			}
		}
		return out
	}
	for _, job := range doc { // GitLab CI: every job with a script
		m, ok := job.(map[string]any)
		if !ok {
			continue
		}
		for _, key := range []string{"before_script", "script"} {
			lines, _ := m[key].([]any)
			for _, l := range lines {
				out = append(out, l.(string))
			}
		}
	}
	return out
}

// The values the scripts' variables take in a tag pipeline whose spec has a changelog.
var expansions = strings.NewReplacer(
	`"${changelog[@]}"`, "--changelog CHANGELOG.md", `$changelog`, "--changelog CHANGELOG.md",
)

// shellWords splits a command line as the shell would, for what the examples use:
// words, double and single quotes; variables stay as they are written.
func shellWords(line string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range line {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// help runs `zerodown ARGS --help` in this process, through the CLI's entry point:
// an unknown command or flag is exit 2.
func help(args []string) (string, int) {
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := cli.Main(ctx, append(append([]string{}, args...), "--help"), &out, &out)
	return out.String(), code
}

var mentioned = regexp.MustCompile("(?:`|\\()zerodown ([a-z][a-z-]*)")

// Every zerodown command the pipelines run, and every one their messages and comments
// tell people to run, exists with the flags given.
func TestPipelinesUseRealCommandsAndFlags(t *testing.T) {
	for _, file := range pipelines {
		ran := map[string]bool{}
		for _, script := range scripts(t, file) {
			for _, line := range strings.Split(script, "\n") {
				words := shellWords(expansions.Replace(strings.TrimSpace(line)))
				if len(words) == 0 || words[0] != "zerodown" {
					continue
				}
				ran[words[1]] = true
				out, code := help(words[1:])
				require.Equal(t, cli.ExitSucceeded, code, "%s: %s\n%s", file, line, out)
				require.Contains(t, out, "zerodown "+words[1], "%s: %s is not a zerodown command", file, words[1])
			}
		}
		require.True(t, ran["validate"], "%s validates specs", file)
		require.True(t, ran["start"], "%s starts releases", file)

		raw, err := os.ReadFile(file)
		require.NoError(t, err)
		for _, m := range mentioned.FindAllStringSubmatch(string(raw), -1) {
			out, code := help([]string{m[1]})
			require.Equal(t, cli.ExitSucceeded, code, "%s mentions zerodown %s\n%s", file, m[1], out)
			require.Contains(t, out, "zerodown "+m[1])
		}
	}
}

// The release script turns each exit code of `zerodown start --wait` into the job's
// result and a message that says what happened. It runs with bash, with a stand-in
// zerodown on PATH that records its arguments and exits with the code under test (a real
// release cannot be made to end each way here in seconds).
func TestPipelinesMapExitCodes(t *testing.T) {
	want := map[int]string{
		cli.ExitSucceeded:   "released",
		cli.ExitError:       "could not start or follow the release",
		cli.ExitUsage:       "could not start or follow the release",
		cli.ExitInvalidSpec: "invalid release spec",
		cli.ExitRefused:     "a release is already running",
		cli.ExitRolledBack:  "rolled back on its own",
		cli.ExitAborted:     "aborted by a human",
		cli.ExitFailed:      "its rollback failed too",
	}
	bash, err := exec.LookPath("bash")
	require.NoError(t, err)
	for _, file := range pipelines {
		var release string
		for _, s := range scripts(t, file) {
			if strings.Contains(s, "zerodown start") {
				release = s
			}
		}
		require.NotEmpty(t, release, "%s has no release script", file)
		bin := t.TempDir()
		argsFile := filepath.Join(bin, "args")
		stub := "#!/bin/sh\nprintf '%s\\n' \"$@\" > " + argsFile + "\nexit \"$FAKE_EXIT\"\n"
		require.NoError(t, os.WriteFile(filepath.Join(bin, "zerodown"), []byte(stub), 0o755))
		work := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(work, "CHANGELOG.md"), []byte("- a fix\n"), 0o644))
		for code, message := range want {
			cmd := exec.Command(bash, "-e", "-c", release)
			cmd.Dir = work
			cmd.Env = append(os.Environ(),
				"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), fmt.Sprintf("FAKE_EXIT=%d", code),
				"SPEC=deploy/board-prod.yaml", "RELEASE=board/prod",
				"GITHUB_REF_NAME=v1.2.3", "GITHUB_ACTOR=alice", "CI_COMMIT_TAG=v1.2.3", "GITLAB_USER_LOGIN=alice")
			out, err := cmd.CombinedOutput()
			got := 0
			if ee, ok := err.(*exec.ExitError); ok {
				got = ee.ExitCode()
			} else {
				require.NoError(t, err)
			}
			require.Equal(t, code, got, "%s: the job must end with zerodown's code %d\n%s", file, code, out)
			require.Contains(t, string(out), message, "%s: exit %d", file, code)
			args, err := os.ReadFile(argsFile)
			require.NoError(t, err)
			require.Equal(t, "start\n-f\ndeploy/board-prod.yaml\n--version\nv1.2.3\n--changelog\nCHANGELOG.md\n--by\n"+
				map[bool]string{true: "github:alice", false: "gitlab:alice"}[strings.HasPrefix(file, "github")]+"\n--wait\n", string(args), file)
		}
	}
}
