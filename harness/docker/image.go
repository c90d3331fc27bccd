package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
)

// imageRef is the tag of the image for a binary: faultline/<name>:<hash12>,
// where hash is the SHA-256 of the binary, so a rebuilt binary gets a new
// image and an unchanged one reuses the cache.
func imageRef(binary string, sum []byte) string {
	return "faultline/" + binaryName(binary) + ":" + hex.EncodeToString(sum)[:12]
}

var nameUnsafe = regexp.MustCompile(`[^a-z0-9_.-]+`)

// binaryName is the binary's base name, usable in an image reference and
// as a path in the image.
func binaryName(binary string) string {
	n := nameUnsafe.ReplaceAllString(strings.ToLower(filepath.Base(binary)), "-")
	n = strings.Trim(n, "-._")
	if n == "" {
		n = "node"
	}
	return n
}

// ensureImage returns the reference of the node image for binary, making
// it (FROM scratch: the binary at /<name>, the network-fault helper at
// /faultline-netfault when there is one, an empty /data and /tmp) if it is
// not cached yet. It reports whether the image has the helper.
func (b *Backend) ensureImage(ctx context.Context, binary string) (ref string, withHelper bool, err error) {
	bin, err := os.ReadFile(binary)
	if err != nil {
		return "", false, fmt.Errorf("docker backend: read the node binary: %w", err)
	}
	if !isStaticELF(bin) {
		return "", false, fmt.Errorf("docker backend: %s is not a statically linked Linux ELF binary: build it with CGO_ENABLED=0 GOOS=linux (the node image is FROM scratch, with no libc)", binary)
	}
	helper := b.helper()
	h := sha256.New()
	h.Write(bin)
	h.Write(helper)
	ref = imageRef(binary, h.Sum(nil))
	withHelper = helper != nil
	list, err := b.cli.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(filters.Arg("reference", ref))})
	if err != nil {
		return "", false, fmt.Errorf("docker backend: list images: %w", err)
	}
	if len(list) > 0 {
		return ref, withHelper, nil
	}
	name := binaryName(binary)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, d := range []string{"data/", "tmp/"} {
		if err := tw.WriteHeader(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o1777}); err != nil {
			return "", false, fmt.Errorf("docker backend: image tar: %w", err)
		}
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(bin))}); err != nil {
		return "", false, fmt.Errorf("docker backend: image tar: %w", err)
	}
	if _, err := tw.Write(bin); err != nil {
		return "", false, fmt.Errorf("docker backend: image tar: %w", err)
	}
	if helper != nil {
		if err := tw.WriteHeader(&tar.Header{Name: HelperName, Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(helper))}); err != nil {
			return "", false, fmt.Errorf("docker backend: image tar: %w", err)
		}
		if _, err := tw.Write(helper); err != nil {
			return "", false, fmt.Errorf("docker backend: image tar: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return "", false, fmt.Errorf("docker backend: image tar: %w", err)
	}
	rc, err := b.cli.ImageImport(ctx, image.ImportSource{Source: &buf, SourceName: "-"}, ref, image.ImportOptions{
		Message: "faultline node image for " + name,
		Changes: []string{
			fmt.Sprintf(`ENTRYPOINT ["/%s"]`, name),
			fmt.Sprintf(`LABEL %s=%s`, LabelImage, name),
			"WORKDIR /data",
		},
	})
	if err != nil {
		return "", false, fmt.Errorf("docker backend: import the node image %s: %w", ref, err)
	}
	defer rc.Close()
	if err := jsonStreamErr(rc); err != nil {
		return "", false, fmt.Errorf("docker backend: import the node image %s: %w", ref, err)
	}
	b.log.Info("built node image", "image", ref, "binary", binary, "bytes", len(bin), "netfault_helper", withHelper)
	b.pruneImages(ctx, name, ref)
	return ref, withHelper, nil
}

// helper returns the network-fault helper's bytes, or nil (with a warning,
// once) when there is none: network faults then need root on the docker
// host or a netfault subcommand in the node binary.
func (b *Backend) helper() []byte {
	b.helperOnce.Do(func() {
		p := b.opts.Helper
		var err error
		if p == "" {
			p, err = FindHelper()
		}
		if err == nil {
			var bin []byte
			if bin, err = os.ReadFile(p); err == nil && !isStaticELF(bin) {
				err = fmt.Errorf("%s is not a static Linux ELF binary (build it with CGO_ENABLED=0)", p)
			} else if err == nil {
				b.helperBin = bin
			}
		}
		if err != nil {
			b.log.Warn("node images without the network-fault helper: without root on the docker host, network faults need a netfault subcommand in the node binary", "err", err)
		}
	})
	return b.helperBin
}

// KeepImages is how many node images per binary name the cache keeps:
// every rebuilt binary makes a new image, and without pruning they would
// pile up.
const KeepImages = 3

// pruneImages removes the cached images of binary name beyond the newest
// KeepImages (never keep, just built). Removal is not forced, so the
// daemon refuses to remove an image a container still uses (a concurrent
// run's); such refusals are ignored.
func (b *Backend) pruneImages(ctx context.Context, name, keep string) {
	list, err := b.cli.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(filters.Arg("label", LabelImage+"="+name))})
	if err != nil {
		b.log.Warn("list cached node images", "err", err)
		return
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Created > list[j].Created })
	for i, img := range list {
		if i < KeepImages || slices.Contains(img.RepoTags, keep) {
			continue
		}
		if _, err := b.cli.ImageRemove(ctx, img.ID, image.RemoveOptions{PruneChildren: true}); err == nil {
			b.log.Info("pruned an old node image", "image", img.RepoTags)
		}
	}
}

// jsonStreamErr reads a daemon progress stream to its end and returns the
// first error it reports.
func jsonStreamErr(r io.Reader) error {
	dec := json.NewDecoder(r)
	for {
		var m struct {
			Error       string `json:"error"`
			ErrorDetail struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := dec.Decode(&m); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("read daemon response: %w", err)
		}
		if m.Error != "" {
			return fmt.Errorf("%s", m.Error)
		}
	}
}

// isStaticELF reports whether bin is a Linux ELF executable without a
// program interpreter (PT_INTERP), i.e. one that runs without a dynamic
// loader.
func isStaticELF(bin []byte) bool {
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		return false
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false
		}
	}
	return true
}
