// Command faultline-netfault is the network-fault helper the docker backend
// packs into every node image, beside the system's own binary, so that
// partitions and packet faults reach any system's containers even when the
// harness cannot open their network namespaces from the host (not root on
// the docker host). Build it static: CGO_ENABLED=0 (the image is FROM
// scratch). See internal/netfaultcli for its commands.
package main

import (
	"os"

	"github.com/faultline/faultline/internal/netfaultcli"
)

func main() {
	os.Exit(netfaultcli.Main("faultline-netfault", os.Args[1:], os.Stdout, os.Stderr))
}
