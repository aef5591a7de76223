package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func testImage() Image {
	return Image{
		Tag: "zerodown/zerodown:test", Arch: "amd64",
		Files:      append([]File{{Path: "zerodown", Mode: 0o755, Data: []byte("#!binary")}, {Path: "etc/ssl/certs/ca-certificates.crt", Mode: 0o644, Data: []byte("certs")}}, BaseFiles()...),
		User:       NonRootUser,
		Entrypoint: []string{"/zerodown"},
		Ports:      []string{"9464/tcp"},
	}
}

// readTar returns a tar's regular files by name.
func readTar(t *testing.T, r io.Reader) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		require.NoError(t, err)
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			require.NoError(t, err)
			out[h.Name] = b
		}
	}
}

// The archive is read back as an OCI layout reader would: index -> manifest -> config
// and layer, each blob at the path of its own digest, the layer's diff ID that of its
// uncompressed tar, and the Docker manifest.json pointing at the same blobs.
func TestArchiveIsAConsistentOCILayoutAndDockerArchive(t *testing.T) {
	var buf bytes.Buffer
	manifestDigest, err := testImage().WriteArchive(&buf)
	require.NoError(t, err)
	files := readTar(t, &buf)
	require.JSONEq(t, `{"imageLayoutVersion":"1.0.0"}`, string(files["oci-layout"]))

	blob := func(d Descriptor) []byte {
		b, ok := files[blobPath(d.Digest)]
		require.True(t, ok, "blob %s missing", d.Digest)
		require.Equal(t, d.Digest, digestOf(b), "blob content does not match its digest")
		require.EqualValues(t, d.Size, len(b))
		return b
	}
	var index Index
	require.NoError(t, json.Unmarshal(files["index.json"], &index))
	require.Len(t, index.Manifests, 1)
	require.Equal(t, manifestDigest, index.Manifests[0].Digest)
	require.Equal(t, "test", index.Manifests[0].Annotations["org.opencontainers.image.ref.name"])
	var manifest Manifest
	require.NoError(t, json.Unmarshal(blob(index.Manifests[0]), &manifest))
	require.Equal(t, MediaTypeManifest, manifest.MediaType)
	var cfg Config
	require.NoError(t, json.Unmarshal(blob(manifest.Config), &cfg))
	require.Equal(t, NonRootUser, cfg.Config.User)
	require.Equal(t, []string{"/zerodown"}, cfg.Config.Entrypoint)
	require.Len(t, manifest.Layers, 1)

	zr, err := gzip.NewReader(bytes.NewReader(blob(manifest.Layers[0])))
	require.NoError(t, err)
	raw, err := io.ReadAll(zr)
	require.NoError(t, err)
	require.Equal(t, []string{digestOf(raw)}, cfg.RootFS.DiffIDs)
	layer := readTar(t, bytes.NewReader(raw))
	require.Equal(t, []byte("#!binary"), layer["zerodown"])
	require.Contains(t, string(layer["etc/passwd"]), "nonroot:x:65532:65532")
	require.Contains(t, layer, "etc/ssl/certs/ca-certificates.crt")

	var docker []DockerManifestEntry
	require.NoError(t, json.Unmarshal(files["manifest.json"], &docker))
	require.Equal(t, []DockerManifestEntry{{
		Config: blobPath(manifest.Config.Digest), RepoTags: []string{"zerodown/zerodown:test"}, Layers: []string{blobPath(manifest.Layers[0].Digest)},
	}}, docker)

	// Same input, same bytes: the image digest depends only on the binaries.
	again, err := testImage().WriteArchive(io.Discard)
	require.NoError(t, err)
	require.Equal(t, manifestDigest, again)
}

func TestArchiveRefusesRoot(t *testing.T) {
	img := testImage()
	img.User = "0:0"
	_, err := img.WriteArchive(io.Discard)
	require.ErrorContains(t, err, "must not run as root")
}

// Where skopeo is installed (Debian package skopeo), a real OCI and Docker reader reads
// the archive too. It is optional: the layout test above runs everywhere.
func TestArchiveReadBySkopeo(t *testing.T) {
	skopeo, err := exec.LookPath("skopeo")
	if err != nil {
		t.Skip("skopeo is not installed: the archive is only checked by the test above")
	}
	file := filepath.Join(t.TempDir(), "image.tar")
	var buf bytes.Buffer
	_, err = testImage().WriteArchive(&buf)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(file, buf.Bytes(), 0o644))
	for _, transport := range []string{"oci-archive:", "docker-archive:"} {
		out, err := exec.Command(skopeo, "inspect", "--config", transport+file).CombinedOutput()
		require.NoError(t, err, "%s: %s", transport, out)
		require.Contains(t, string(out), `"User": "65532:65532"`, transport)
	}
}
