// Package demodata embeds the real advisory data the demo and tests use,
// kept in the repository with its provenance (a README.md beside each
// set), so nothing is downloaded at test time.
package demodata
