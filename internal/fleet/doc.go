// Package fleet makes the hosts of a simulated fleet: realistic installed
// package sets, available updates and facts for N virtual agents, as
// patchbay sim, the benchmarks and the demo use them.
//
// Every host is built from one of five base images (Images): Debian 12 from
// a real machine's dpkg status and Debian 12's real source list, Debian 11
// from the Debian security tracker's advisories (versions from before a
// cut-off date, so that real later advisories apply), and Ubuntu 22.04,
// Rocky Linux 9 and Alpine 3.20 images that are synthetic but shaped like
// the real ones. A Fleet picks an image for each host by a configurable mix
// and varies about 2% of its packages per host. Everything is a pure
// function of (seed, host index, generation): the Fleet keeps only a
// generation counter per host, and a host's inventory is materialised only
// when it is asked for.
//
// The embedded data and where each file comes from are described in
// data/README.md.
package fleet
