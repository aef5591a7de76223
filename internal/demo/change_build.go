package demo

import (
	"context"
	"path/filepath"
)

// BuildChange compiles the versions of the demo's night into binDir/releases: the back
// end before and after (APINew with --item-owner baked in: it needs the expand) and the
// front end before, after and bad (WebBad with --fail-sanity baked in).
func BuildChange(ctx context.Context, root, binDir string) error {
	out := func(v string) string { return filepath.Join(binDir, "releases", v, "demoapp") }
	return goBuild(ctx, root, [][]string{
		{"-o", out(APIOld), "./examples/demoapp"},
		{"-ldflags", "-X main.bakedFlags=--item-owner", "-o", out(APINew), "./examples/demoapp"},
		{"-o", out(WebOld), "./examples/demoapp"},
		{"-o", out(WebNew), "./examples/demoapp"},
		{"-ldflags", "-X main.bakedFlags=--fail-sanity", "-o", out(WebBad), "./examples/demoapp"},
	})
}
