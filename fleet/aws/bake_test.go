package aws_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/fleet"
	awsfleet "github.com/zerodown/zerodown/fleet/aws"
	"github.com/zerodown/zerodown/schemas"
)

func ec2ImageBake() fleet.BakeRequest {
	return fleet.BakeRequest{Service: "board", Environment: "prod", Version: "v2", Bake: schemas.Bake{
		Method: schemas.BakeEC2Image, BaseImage: "ami-0ba5e1mage000000",
		UserData: "#!/bin/bash\nset -e\ncurl -fsSL https://artifacts.example/board/{{.Version}}.tar.gz | tar -xz -C /opt/board\n",
	}}
}

func TestBakeEC2ImageBuildsImagesAndCleansUp(t *testing.T) {
	w := newWorld(t)
	f := w.fleet(t)
	ctx, progress := counting(ctxT(t))
	ami, err := f.Bake(ctx, ec2ImageBake())
	require.NoError(t, err)
	require.Positive(t, progress.Load())

	img, ok := w.cloud.Image(ami)
	require.True(t, ok)
	require.Equal(t, "available", img.State)
	require.Equal(t, "zerodown-board-v2", img.Name)
	require.Equal(t, "board", img.Tags[awsfleet.TagService])
	require.Equal(t, "v2", img.Tags[awsfleet.TagVersion])
	require.Equal(t, "ec2-image", img.Tags[awsfleet.TagBakedBy])

	builder, ok := w.cloud.Instance(img.SourceInstance)
	require.True(t, ok)
	require.Equal(t, "ami-0ba5e1mage000000", builder.ImageID)
	require.Equal(t, awsfleet.RoleBuilder, builder.Tags[awsfleet.TagRole])
	require.Equal(t, "stop", builder.ShutdownBehavior)
	require.Contains(t, builder.UserData, "/board/v2.tar.gz", "{{.Version}} filled in")
	require.True(t, strings.HasSuffix(builder.UserData, "shutdown -h now\n"), "the script powers the builder off when done")
	require.Equal(t, "shutting-down", builder.State, "the builder is terminated")

	st, err := f.Describe(ctxT(t))
	require.NoError(t, err)
	require.Empty(t, st.Instances, "a builder is not part of the fleet")

	// The next release of v2 — here, or in another environment — reuses the image.
	again, err := f.Bake(ctxT(t), ec2ImageBake())
	require.NoError(t, err)
	require.Equal(t, ami, again)
	require.Equal(t, 1, count(w.cloud.Calls(), "ec2:CreateImage"))
	require.Equal(t, 1, count(w.cloud.Calls(), "ec2:RunInstances"))

	// A rollback relaunches a version by name: its baked image is found by its tags.
	out, err := f.Launch(ctxT(t), fleet.LaunchRequest{Key: key, Version: "v2", Count: 1})
	require.NoError(t, err)
	in, _ := w.cloud.Instance(out[0].ID)
	require.Equal(t, ami, in.ImageID)
}

func TestBakeReusesAnImageBakedEarlier(t *testing.T) {
	w := newWorld(t)
	ami := w.cloud.AddImage("board-v2-from-ci", map[string]string{awsfleet.TagService: "board", awsfleet.TagVersion: "v2"})
	got, err := w.fleet(t).Bake(ctxT(t), ec2ImageBake())
	require.NoError(t, err)
	require.Equal(t, ami, got)
	require.Zero(t, count(w.cloud.Calls(), "ec2:RunInstances"))
}

func TestBakeFailsWhenTheImageFails(t *testing.T) {
	w := newWorld(t)
	w.cloud.FailNextImage()
	_, err := w.fleet(t).Bake(ctxT(t), ec2ImageBake())
	require.ErrorIs(t, err, fleet.ErrBakeFailed)
	require.ErrorContains(t, err, "snapshot failed")
	for _, in := range w.cloud.Instances() {
		require.Equal(t, "shutting-down", in.State, "the builder is terminated on failure too")
	}
}

func TestBakeWithoutAPowerOffUserDataTimesOut(t *testing.T) {
	w := newWorld(t)
	req := ec2ImageBake()
	req.Bake.UserData = "#cloud-config\nruncmd: [[echo, hi]]\n" // cloud-config must power off itself; this one does not
	ctx, cancel := contextWithTimeout(t, 100)
	defer cancel()
	_, err := w.fleet(t).Bake(ctx, req)
	require.ErrorContains(t, err, "never powered off")
	require.Equal(t, "shutting-down", w.cloud.Instances()[0].State, "the builder is not left running")
}

// fakePacker puts a `packer` on PATH that prints what `packer build -machine-readable`
// prints for an amazon-ebs build (lines as Packer writes them, commas escaped), records
// its arguments, and exits with code.
func fakePacker(t *testing.T, ami string, code int) string {
	dir := t.TempDir()
	args := filepath.Join(dir, "args")
	script := `#!/bin/sh
printf '%s\n' "$@" > "` + args + `"
cat <<'EOF'
1735000000,,ui,say,==> amazon-ebs.board: Prevalidating any provided VPC information
1735000000,,ui,say,==> amazon-ebs.board: Prevalidating AMI Name: board-v2
1735000001,,ui,message,    amazon-ebs.board: Found Image ID: ami-0ba5e1mage000000
1735000002,,ui,say,==> amazon-ebs.board: Launching a source AWS instance...
1735000003,,ui,say,==> amazon-ebs.board: Provisioning with shell script: /tmp/packer-shell123
EOF
`
	if code != 0 {
		script += `cat <<'EOF'
1735000004,,ui,error,Build 'amazon-ebs.board' errored after 3 seconds 2 milliseconds: Script exited with non-zero exit status: 127.Allowed exit codes are: [0]
1735000004,,error-count,1
1735000004,,ui,error,\n==> Some builds didn't complete successfully and had errors:\n--> amazon-ebs.board: Script exited with non-zero exit status: 127
EOF
exit ` + string(rune('0'+code)) + "\n"
	} else {
		script += `cat <<'EOF'
1735000010,,ui,say,==> amazon-ebs.board: Creating AMI board-v2 from instance i-0fa1e00000000000
1735000020,amazon-ebs.board,artifact-count,1
1735000020,amazon-ebs.board,artifact,0,builder-id,mitchellh.amazonebs
1735000020,amazon-ebs.board,artifact,0,id,us-east-1:ami-0e5700000000000us%!(PACKER_COMMA)eu-west-1:` + ami + `
1735000020,amazon-ebs.board,artifact,0,string,AMIs were created:\nus-east-1: ami-0e5700000000000us\neu-west-1: ` + ami + `\n
1735000020,amazon-ebs.board,artifact,0,files-count,0
1735000020,amazon-ebs.board,artifact,0,end
1735000020,,ui,say,--> amazon-ebs.board: AMIs were created:\nus-east-1: ami-0e5700000000000us\neu-west-1: ` + ami + `\n
EOF
`
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "packer"), []byte(script), 0o755))
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return args
}

func TestBakePackerReadsTheAMIFromMachineReadableOutput(t *testing.T) {
	w := newWorld(t)
	// What packer made, in the account (untagged: the template did not tag it).
	ami := w.cloud.AddImage("board-v2", nil)
	args := fakePacker(t, ami, 0)
	req := fleet.BakeRequest{Service: "board", Environment: "prod", Version: "v2", Bake: schemas.Bake{Method: schemas.BakePacker, Template: "packer/board.pkr.hcl"}}
	ctx, progress := counting(ctxT(t))
	got, err := w.fleet(t).Bake(ctx, req)
	require.NoError(t, err)
	require.Equal(t, ami, got, "the eu-west-1 AMI of a two-region build")
	require.Positive(t, progress.Load())

	b, err := os.ReadFile(args)
	require.NoError(t, err)
	require.Equal(t, "build\n-machine-readable\n-var\nversion=v2\npacker/board.pkr.hcl\n", string(b))

	img, _ := w.cloud.Image(ami)
	require.Equal(t, map[string]string{"Name": "zerodown-board-v2", awsfleet.TagService: "board", awsfleet.TagVersion: "v2", awsfleet.TagBakedBy: "packer"}, img.Tags,
		"tagged, so the next release of v2 reuses it")
	again, err := w.fleet(t).Bake(ctxT(t), req)
	require.NoError(t, err)
	require.Equal(t, ami, again)
}

func TestBakePackerFailureIsABakeFailure(t *testing.T) {
	w := newWorld(t)
	fakePacker(t, "", 1)
	_, err := w.fleet(t).Bake(ctxT(t), fleet.BakeRequest{Service: "board", Version: "v2", Bake: schemas.Bake{Method: schemas.BakePacker, Template: "board.pkr.hcl"}})
	require.ErrorIs(t, err, fleet.ErrBakeFailed)
	require.ErrorContains(t, err, "Script exited with non-zero exit status: 127")
}

func TestParsePackerLine(t *testing.T) {
	l, ok := awsfleet.ParsePackerLine(`1735000020,amazon-ebs.board,artifact,0,id,us-east-1:ami-1%!(PACKER_COMMA)eu-west-1:ami-2`)
	require.True(t, ok)
	require.Equal(t, awsfleet.PackerLine{Target: "amazon-ebs.board", Type: "artifact", Data: []string{"0", "id", "us-east-1:ami-1,eu-west-1:ami-2"}}, l)
	l, ok = awsfleet.ParsePackerLine(`1735000020,,ui,say,AMIs were created:\neu-west-1: ami-2`)
	require.True(t, ok)
	require.Equal(t, []string{"say", "AMIs were created:\neu-west-1: ami-2"}, l.Data)
	_, ok = awsfleet.ParsePackerLine("==> amazon-ebs.board: human output")
	require.False(t, ok)
}
