// Package feedload turns whatever an administrator hands to `patchbay feeds
// import` — a path or the bytes of a download — into one Batch of parsed
// advisories, and fetches feed URLs with HTTP validators. It recognises every
// advisory format patchbay reads by its content, not its name:
//
//   - an OSV record (a JSON object with "id" and "affected" or "modified"),
//     a directory of them (searched recursively for *.json) or a zip of them
//     such as osv.dev's per-ecosystem all.zip;
//   - a Debian security tracker list (first line "[date] DSA-…", "DLA-…" or
//     "DTSA-…");
//   - CISA's KEV catalog (JSON with "vulnerabilities" and "catalogVersion");
//   - FIRST's EPSS scores (first line "#model_version:…" or the header
//     "cve,epss,percentile"), plain or gzip-compressed;
//   - a patchbay bundle written by WriteBundle (a zip with manifest.json at
//     its top), which carries OSV records, a KEV catalog and EPSS scores to
//     an air-gapped server.
//
// Any of these may also come gzip-compressed. Inside a directory or an OSV
// zip every *.json file is read as an OSV record and nothing else: a KEV
// catalog placed there is reported as a Problem, not sniffed, because a
// directory is one feed of one kind and mixing kinds in it is a mistake worth
// telling the user about. Other files (README.md, checksums) are skipped, as
// are directories whose names start with ".".
//
// # What fails, and how much of the input it takes with it
//
// A record is never returned half-parsed: every record of a Batch passed
// osv.Parse whole. Failures fall in two classes.
//
// A Problem, and the rest of the feed continues, when one record of a
// directory, zip or bundle cannot be used: malformed JSON, a missing id, a
// record osv.Parse refuses (the Problem carries its field and reason), a file
// in a directory that is larger than Options.MaxRecordBytes or cannot be
// read, an id that appears twice (the record with the newer "modified" is
// kept). The lines and advisories of a tracker list that feed.ParseTrackerList
// refuses are Problems too. These faults are local: the other records are as
// good as they were, and an import is incremental, so skipping one record
// loses nothing else.
//
// An error, and nothing of the feed is returned, when the feed as a whole
// cannot be trusted or is one document:
//
//   - a damaged or truncated zip or gzip stream (patchbay.EInvalid): a
//     truncated archive cannot prove which records it lost, and importing
//     the survivors would look like a complete feed;
//   - a zip or gzip stream over a limit of Options (patchbay.ETooLarge): an
//     entry whose declared or actual uncompressed size is over
//     MaxRecordBytes, an archive whose entries together are over
//     MaxTotalBytes, more than MaxEntries entries, or an entry that inflates
//     more than MaxRatio times its compressed size. Sizes are counted while
//     reading; the headers are checked first only to refuse early. Such an
//     archive is a zip bomb or not a feed, and nothing in it is wanted;
//   - a bundle member whose SHA-256 differs from the manifest, or a member
//     missing from or not listed in it (patchbay.EInvalid): the bundle was
//     damaged or changed after it was written;
//   - input that is no known format, a single-record file that osv.Parse
//     refuses (the feed is that one record: there is nothing to continue
//     with), a KEV or EPSS file that feed.ParseKEV or feed.ParseEPSS refuses,
//     or a text file that is no tracker list (patchbay.EInvalid): these
//     parsers are strict and name the entry or line at fault;
//   - cancellation of the context (its error, wrapped).
//
// The store's import writes a Batch in one transaction, so an error here, or
// one there, leaves the store as it was.
//
// Records pass osv.Parse, which accepts events in any order (the schema's
// evaluation sorts them) and refuses an event version that its range's
// ordering cannot parse (an "impossible version" in a known ecosystem): such
// a record is a Problem naming the event and the version.
//
// Records of a directory or zip are parsed by Options.Workers goroutines and
// returned sorted by id, whatever the order of parsing.
//
// # Fetching
//
// Fetch gets one feed URL with If-None-Match and If-Modified-Since, so an
// unchanged feed costs a 304. It accepts http and https URLs only, without
// credentials in them, and follows redirects only to http or https (never
// from https down to http). Time limits come from the caller's context and
// *http.Client: Fetch sets none, so a caller that sets none waits forever
// on a server that never answers.
package feedload
