// Command image builds the zerodown container image without a Docker engine: it
// compiles both binaries statically for Linux and writes one image archive that is
// an OCI image layout (skopeo, crane, podman load, containerd import) and a Docker
// archive (docker load) at once. The image matches deployments/image/Dockerfile: /zerodown
// and /zerodown-worker, CA certificates, user 65532, entrypoint /zerodown.
//
//	go run ./deployments/image -o bin/zerodown-image.tar -tag zerodown/zerodown:latest
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"
)

func main() {
	var (
		out    = flag.String("o", "bin/zerodown-image.tar", "image archive to write")
		tag    = flag.String("tag", "zerodown/zerodown:latest", "repository:tag recorded in the archive")
		arch   = flag.String("arch", runtime.GOARCH, "GOARCH of the binaries and the image")
		caFile = flag.String("ca", "/etc/ssl/certs/ca-certificates.crt", "CA bundle to put in the image (TLS to Temporal Cloud, Slack, AWS); empty for none")
	)
	flag.Parse()
	if err := run(*out, *tag, *arch, *caFile); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(out, tag, arch, caFile string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	tmp, err := os.MkdirTemp("", "zerodown-image")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	files := []File{}
	for _, b := range []struct{ name, pkg string }{{"zerodown", "./starter"}, {"zerodown-worker", "./worker"}} {
		bin := filepath.Join(tmp, b.name)
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, b.pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go build %s: %w", b.pkg, err)
		}
		data, err := os.ReadFile(bin)
		if err != nil {
			return err
		}
		files = append(files, File{Path: b.name, Mode: 0o755, Data: data})
	}
	if caFile != "" {
		data, err := os.ReadFile(caFile)
		if err != nil {
			return fmt.Errorf("CA bundle (-ca): %w", err)
		}
		files = append(files, File{Path: "etc/ssl/certs/ca-certificates.crt", Mode: 0o644, Data: data})
	}
	img := Image{
		Tag: tag, Arch: arch, Files: append(files, BaseFiles()...),
		User: NonRootUser, Entrypoint: []string{"/zerodown"}, Cmd: []string{"--help"},
		Ports: []string{"9464/tcp", "3000/tcp"},
		Env:   []string{"PATH=/", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"},
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	digest, err := img.WriteArchive(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	fmt.Printf("wrote %s: %s (manifest %s)\n", out, tag, digest)
	return nil
}
