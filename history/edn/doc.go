// Package edn reads Jepsen histories (history.edn) of register operations
// into faultline's history contract, and writes faultline's histories as
// Jepsen histories. Its one job is that translation, with Knossos's meaning
// of each operation; the README's "Jepsen histories" section says where
// that meaning differs from faultline's contract and how it is mapped.
//
// It reads the EDN that Jepsen and Knossos write (maps, vectors, lists,
// sets, keywords, strings, numbers, nil, booleans, characters, comments,
// #_ and tagged values such as #jepsen.history.Op{...}), and reports the
// line and column of anything else. olympos.io/encoding/edn, the Go EDN
// library in the module proxy, reports no position in its errors and loses
// the order of map keys, so this package reads the small subset itself.
package edn
