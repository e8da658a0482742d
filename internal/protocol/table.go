package protocol

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ContentTypeInventory is the media type of an inventory upload: one line
// of JSON (the hash, the updates and the source errors) and then the
// packages as a table, one package per line, fields separated by tabs in
// the order ecosystem, name, version, arch, source name, source version.
//
// Why not all JSON: decoding 2,000 package objects with encoding/json was
// half of the server's cost of an upload, and encoding them most of the
// agent's. Package names and versions never hold tabs or newlines (the
// server refuses control characters), so a table needs no escaping.
const ContentTypeInventory = "application/vnd.patchbay.inventory+tsv"

// inventoryHeader is the JSON first line of an upload.
type inventoryHeader struct {
	Hash    string        `json:"hash"`
	Updates []Update      `json:"updates"`
	Errors  []SourceError `json:"errors,omitempty"`
}

// appendPackageLine appends p as one table line. It fails for a field
// holding a tab or newline, which the table could not carry.
func appendPackageLine(b []byte, p Package) ([]byte, error) {
	for i, f := range [packageFields]string{p.Ecosystem, p.Name, p.Version, p.Arch, p.SourceName, p.SourceVersion} {
		if i > 0 {
			b = append(b, '\t')
		}
		start := len(b)
		b = append(b, f...)
		for _, c := range b[start:] {
			if c == '\t' || c == '\n' {
				return b, fmt.Errorf("package %q: a field holds a tab or newline", p.Name)
			}
		}
	}
	return append(b, '\n'), nil
}

// packageFields is the number of fields in a package line.
const packageFields = 6

// EncodeInventory writes inv in the upload format.
func EncodeInventory(w io.Writer, inv Inventory) error {
	upd := inv.Updates
	if upd == nil {
		upd = []Update{}
	}
	head, err := json.Marshal(inventoryHeader{Hash: inv.Hash, Updates: upd, Errors: inv.Errors})
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.Write(head)
	bw.WriteByte('\n')
	line := make([]byte, 0, 256)
	for _, p := range inv.Packages {
		if line, err = appendPackageLine(line[:0], p); err != nil {
			return err
		}
		bw.Write(line)
	}
	return bw.Flush()
}

// ErrInventoryTooLarge is returned by DecodeInventory past its limit.
var ErrInventoryTooLarge = errors.New("inventory too large")

// DecodeInventory reads an upload of at most limit bytes. A damaged table
// (a line with the wrong number of fields, a missing final newline) is an
// error naming the line: it never becomes a shorter inventory.
func DecodeInventory(r io.Reader, limit int64) (Inventory, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return Inventory{}, err
	}
	if int64(len(data)) > limit {
		return Inventory{}, ErrInventoryTooLarge
	}
	head, table, ok := bytes.Cut(data, []byte{'\n'})
	if !ok {
		return Inventory{}, errors.New("no header line: want a JSON line, then the packages table")
	}
	var h inventoryHeader
	dec := json.NewDecoder(bytes.NewReader(head))
	if err := dec.Decode(&h); err != nil {
		return Inventory{}, fmt.Errorf("header line: %w", err)
	}
	pkgs, err := ParsePackageTable(string(table))
	if err != nil {
		return Inventory{}, err
	}
	if h.Updates == nil {
		h.Updates = []Update{}
	}
	return Inventory{Hash: h.Hash, Packages: pkgs, Updates: h.Updates, Errors: h.Errors}, nil
}

// ParsePackageTable parses the packages table of an upload.
func ParsePackageTable(s string) ([]Package, error) {
	if s == "" {
		return []Package{}, nil
	}
	if !strings.HasSuffix(s, "\n") {
		return nil, errors.New("packages: the table does not end with a newline: truncated")
	}
	pkgs := make([]Package, 0, strings.Count(s, "\n"))
	line := 0
	for len(s) > 0 {
		line++
		end := strings.IndexByte(s, '\n')
		rec := s[:end]
		s = s[end+1:]
		var f [packageFields]string
		n := 0
		for n < packageFields-1 {
			tab := strings.IndexByte(rec, '\t')
			if tab < 0 {
				break
			}
			f[n], rec = rec[:tab], rec[tab+1:]
			n++
		}
		f[n] = rec
		if n != packageFields-1 || strings.IndexByte(rec, '\t') >= 0 {
			return nil, fmt.Errorf("packages: line %d: want %d tab-separated fields", line, packageFields)
		}
		pkgs = append(pkgs, Package{Ecosystem: f[0], Name: f[1], Version: f[2], Arch: f[3], SourceName: f[4], SourceVersion: f[5]})
	}
	return pkgs, nil
}
