package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"
)

// NonRootUser is distroless' nonroot user: the image never runs as root.
const NonRootUser = "65532:65532"

// Media types of the OCI image specification.
const (
	MediaTypeIndex    = "application/vnd.oci.image.index.v1+json"
	MediaTypeManifest = "application/vnd.oci.image.manifest.v1+json"
	MediaTypeConfig   = "application/vnd.oci.image.config.v1+json"
	MediaTypeLayer    = "application/vnd.oci.image.layer.v1.tar+gzip"
)

// File is one regular file of the image's single layer; Path is relative to /.
type File struct {
	Path string
	Mode int64
	Data []byte
}

// Image is a one-layer image from scratch.
type Image struct {
	Tag        string // repository:tag
	Arch       string
	Files      []File
	User       string
	Entrypoint []string
	Cmd        []string
	Ports      []string
	Env        []string
}

// BaseFiles are what a scratch image needs for a non-root user to have a name.
func BaseFiles() []File {
	return []File{
		{Path: "etc/passwd", Mode: 0o644, Data: []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")},
		{Path: "etc/group", Mode: 0o644, Data: []byte("root:x:0:\nnonroot:x:65532:\n")},
	}
}

// Descriptor points at a blob.
type Descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Manifest is an OCI image manifest.
type Manifest struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Config        Descriptor   `json:"config"`
	Layers        []Descriptor `json:"layers"`
}

// Index is an OCI image index (index.json of an image layout).
type Index struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Manifests     []Descriptor `json:"manifests"`
}

// Config is the part of the OCI image configuration that zerodown sets.
type Config struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Config       struct {
		User         string              `json:"User"`
		Entrypoint   []string            `json:"Entrypoint"`
		Cmd          []string            `json:"Cmd"`
		Env          []string            `json:"Env"`
		ExposedPorts map[string]struct{} `json:"ExposedPorts"`
	} `json:"config"`
	RootFS struct {
		Type    string   `json:"type"`
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
}

// DockerManifestEntry is one line of a Docker archive's manifest.json.
type DockerManifestEntry struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// epoch dates every entry: the same binaries give the same image digest.
var epoch = time.Unix(0, 0).UTC()

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func blobPath(digest string) string { return "blobs/sha256/" + strings.TrimPrefix(digest, "sha256:") }

// layer returns the layer's uncompressed tar (for its diff ID) and its gzip form.
func (img Image) layer() (raw, gz []byte, err error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	files := append([]File(nil), img.Files...)
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	dirs := map[string]bool{}
	for _, f := range files {
		for d := path.Dir(f.Path); d != "." && !dirs[d]; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	dirList := make([]string, 0, len(dirs))
	for d := range dirs {
		dirList = append(dirList, d)
	}
	sort.Strings(dirList)
	for _, d := range dirList {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: epoch, Format: tar.FormatPAX}); err != nil {
			return nil, nil, err
		}
	}
	// A writable /tmp, as distroless has, for libraries that want a temporary file.
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "tmp/", Mode: 0o1777, ModTime: epoch, Format: tar.FormatPAX}); err != nil {
		return nil, nil, err
	}
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.Path, Mode: f.Mode, Size: int64(len(f.Data)), ModTime: epoch, Format: tar.FormatPAX}); err != nil {
			return nil, nil, err
		}
		if _, err := tw.Write(f.Data); err != nil {
			return nil, nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, nil, err
	}
	raw = buf.Bytes()
	var z bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
	if _, err := zw.Write(raw); err != nil {
		return nil, nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, nil, err
	}
	return raw, z.Bytes(), nil
}

// WriteArchive writes the image as a tar that is both an OCI image layout and a Docker
// archive (the two share the blobs), and returns the manifest's digest.
func (img Image) WriteArchive(w io.Writer) (string, error) {
	if img.User == "" || strings.HasPrefix(img.User, "0") || img.User == "root" {
		return "", fmt.Errorf("image user %q: the image must not run as root", img.User)
	}
	raw, gz, err := img.layer()
	if err != nil {
		return "", err
	}
	var cfg Config
	cfg.Architecture, cfg.OS = img.Arch, "linux"
	cfg.Config.User, cfg.Config.Entrypoint, cfg.Config.Cmd, cfg.Config.Env = img.User, img.Entrypoint, img.Cmd, img.Env
	cfg.Config.ExposedPorts = map[string]struct{}{}
	for _, p := range img.Ports {
		cfg.Config.ExposedPorts[p] = struct{}{}
	}
	cfg.RootFS.Type, cfg.RootFS.DiffIDs = "layers", []string{digestOf(raw)}
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return "", err
	}
	layer := Descriptor{MediaType: MediaTypeLayer, Digest: digestOf(gz), Size: int64(len(gz))}
	manifest := Manifest{SchemaVersion: 2, MediaType: MediaTypeManifest,
		Config: Descriptor{MediaType: MediaTypeConfig, Digest: digestOf(cfgJSON), Size: int64(len(cfgJSON))},
		Layers: []Descriptor{layer}}
	manJSON, err := json.Marshal(manifest)
	if err != nil {
		return "", err
	}
	ref := img.Tag
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref = ref[i+1:]
	}
	index := Index{SchemaVersion: 2, MediaType: MediaTypeIndex, Manifests: []Descriptor{{
		MediaType: MediaTypeManifest, Digest: digestOf(manJSON), Size: int64(len(manJSON)),
		Annotations: map[string]string{
			"org.opencontainers.image.ref.name": ref,     // the tag, as skopeo and podman read it
			"io.containerd.image.name":          img.Tag, // the full name, as containerd reads it
		},
	}}}
	indexJSON, err := json.Marshal(index)
	if err != nil {
		return "", err
	}
	docker, err := json.Marshal([]DockerManifestEntry{{
		Config: blobPath(manifest.Config.Digest), RepoTags: []string{img.Tag}, Layers: []string{blobPath(layer.Digest)},
	}})
	if err != nil {
		return "", err
	}

	tw := tar.NewWriter(w)
	entries := []struct {
		name string
		data []byte
	}{
		{"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{blobPath(layer.Digest), gz},
		{blobPath(manifest.Config.Digest), cfgJSON},
		{blobPath(index.Manifests[0].Digest), manJSON},
		{"index.json", indexJSON},
		{"manifest.json", docker},
	}
	for _, d := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755, ModTime: epoch}); err != nil {
			return "", err
		}
	}
	for _, e := range entries {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: e.name, Mode: 0o644, Size: int64(len(e.data)), ModTime: epoch}); err != nil {
			return "", err
		}
		if _, err := tw.Write(e.data); err != nil {
			return "", err
		}
	}
	return index.Manifests[0].Digest, tw.Close()
}
