package main

// storenode netfault: the network-fault helper (internal/netfaultcli), run
// inside a node's container. The docker backend packs its own copy,
// faultline-netfault, into every node image and uses that; this subcommand
// stays for a person inspecting a storenode container by hand.

import (
	"os"

	"github.com/faultline/faultline/internal/netfaultcli"
)

func runNetfault(args []string) int {
	return netfaultcli.Main("storenode netfault", args, os.Stdout, os.Stderr)
}
