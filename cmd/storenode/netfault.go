package main

// Placeholder: the docker/nemesis engineer owns this file and replaces it.

import (
	"fmt"
	"os"
)

func runNetfault(args []string) int {
	fmt.Fprintln(os.Stderr, "netfault: not implemented yet")
	return 1
}
