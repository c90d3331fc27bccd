package etcd

import (
	"context"
	"regexp"

	"github.com/faultline/faultline/systems/gobuild"
)

// ServerModule is the module whose main package is the etcd server.
const ServerModule = "go.etcd.io/etcd/server/v3"

// DefaultSeries is the release series whose newest version is built when
// no version is given.
const DefaultSeries = "v3.7"

// program is etcd as gobuild builds it. The client module is required
// next to the server so that the scratch module resolves etcd's own
// packages at one version (the server's go.mod uses replace directives,
// which is also why `go install` of it fails). Releases before 3.5 are
// another module path.
var program = gobuild.Program{
	Name: "etcd", Module: ServerModule, With: []string{"go.etcd.io/etcd/client/v3"},
	Series: DefaultSeries, MinVersion: "v3.5.0",
	VersionRE: regexp.MustCompile(`(?m)^etcd Version: (\S+)$`),
}

// BinaryOptions says which etcd binary to use: a prebuilt one (Binary) or
// a version to build (default: the newest DefaultSeries release); builds
// are cached under <user cache dir>/faultline/etcd/<version>/etcd.
type BinaryOptions = gobuild.Options

// Binary is a checked etcd binary.
type Binary = gobuild.Binary

// EnsureBinary returns a checked etcd binary: the given one, or the
// cached build of the version, building it first if needed.
func EnsureBinary(ctx context.Context, o BinaryOptions) (Binary, error) {
	return program.Ensure(ctx, o)
}

// CheckBinary checks that path is a static Linux ELF whose --version says
// it is etcd, and returns that version ("v3.7.3").
func CheckBinary(ctx context.Context, path string) (string, error) {
	return program.Check(ctx, path)
}
