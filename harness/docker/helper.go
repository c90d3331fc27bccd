package docker

import "github.com/faultline/faultline/harness/nodebin"

// The network-fault helper (cmd/faultline-netfault) goes into every node
// image at /HelperName, beside the system's binary, so that when the
// harness cannot open a container's network namespace from the host (not
// root on the docker host) partitions and packet faults still reach any
// system's nodes through docker exec, whatever its binary knows.
const (
	HelperName = "faultline-netfault"
	// HelperEnv is the path of a helper binary to use instead of finding
	// or building one.
	HelperEnv = "FAULTLINE_NETFAULT"
	// HelperPkg is the helper's import path, built when no binary is found.
	HelperPkg = "github.com/faultline/faultline/cmd/faultline-netfault"
)

// FindHelper returns the helper binary (harness/nodebin's order):
// $FAULTLINE_NETFAULT, else faultline-netfault next to the running
// executable (make build puts it beside bin/faultline), in ./bin or on
// $PATH, else HelperPkg built with `go build` (CGO_ENABLED=0) into the
// user's cache directory, which works wherever the go command can see
// faultline's module (this repository, or a module that requires it).
func FindHelper() (string, error) {
	return nodebin.Find(nodebin.Spec{Name: HelperName, Env: HelperEnv, Pkg: HelperPkg})
}
