// Package docker is the docker backend of the harness: it runs one
// container per node on a private bridge network, from a FROM-scratch image
// made locally from the system's static binary, and injects faults for real:
// SIGKILL of the container's process (its named data volume survives), the
// cgroup freezer (docker pause), nftables rules and netem qdiscs written into
// each container's own network namespace.
//
// Everything it creates (containers, network, volumes, the image) carries
// the label faultline.run=<id> and its owner's identity (pid, start
// time, pid namespace, boot id); a cluster removes its objects on Close
// and on SIGINT/SIGTERM, and New reaps the leftovers of harnesses that
// provably died (reap.go: never a run whose owner may be alive, in
// another pid namespace or on another machine sharing the daemon). The cached node image
// (label faultline.image) stays: it is a cache.
//
// The harness reaches the nodes' client ports directly at their static IPs
// on the run's bridge network (no port publishing): the address survives a
// container restart, no NAT or userland proxy sits in the path, and the
// ports are reachable from this host only.
package docker
