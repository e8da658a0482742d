package pkgdb

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
)

// apkInstalledPath is apk's database of installed packages under a root.
const apkInstalledPath = "lib/apk/db/installed"

// ApkReader reads Alpine's database of installed packages,
// lib/apk/db/installed under a root. The file holds one block per package,
// blocks ending with a blank line, each line "K:value" with a one-letter key:
// P name, V version, A architecture, o origin (the source package), then
// more about the package and its files. Every package block must have P, V
// and A; a package without o is its own origin.
//
// apk writes a blank line after every block, so a file that ends inside a
// block is reported as truncated.
type ApkReader struct{}

// Read returns the installed packages recorded under root. A missing
// database is an error that wraps fs.ErrNotExist.
func (ApkReader) Read(ctx context.Context, root string) ([]Package, error) {
	path := filepath.Join(root, apkInstalledPath)
	data, err := readFile(path)
	if err != nil {
		return nil, fmt.Errorf("read apk database %s: %w", path, err)
	}
	pkgs, err := parseApkInstalled(ctx, data)
	if err != nil {
		return nil, fmt.Errorf("read apk database %s: %w", path, err)
	}
	return pkgs, nil
}

// apkBlock is what pkgdb keeps of one package block.
type apkBlock struct {
	start                       int
	name, version, arch, origin string
	seen                        [4]int // line of P, V, A, o; 0 when absent
}

// parseApkInstalled parses the text of apk's installed database.
func parseApkInstalled(ctx context.Context, data []byte) ([]Package, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r := lineReader{src: string(data)}
	var (
		pkgs  []Package
		cur   *apkBlock
		names = map[string]int{} // name → line of its block
	)
	for {
		line, ok, err := r.readLine()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		if line == "" {
			if cur == nil {
				continue
			}
			if strings.HasPrefix(cur.name, ".") {
				// A virtual package (apk add --virtual .build-deps …): a
				// local name for a group of dependencies, installing no
				// file, that no advisory names.
				cur = nil
				continue
			}
			p, err := cur.pkg()
			if err != nil {
				return nil, err
			}
			if first, dup := names[p.Name]; dup {
				return nil, parseErrorf(cur.start, "package %s listed twice (first on line %d)", p.Name, first)
			}
			names[p.Name] = cur.start
			pkgs = append(pkgs, p)
			cur = nil
			if len(pkgs)%ctxEvery == 0 {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
			}
			continue
		}
		if len(line) < 2 || line[1] != ':' || !isAlnum(line[0]) || isDigit(line[0]) {
			return nil, parseErrorf(r.line, "not a \"K:value\" line: %s", quote(line))
		}
		if cur == nil {
			cur = &apkBlock{start: r.line}
		}
		value := line[2:]
		var slot *string
		var idx int
		switch line[0] {
		case 'P':
			slot, idx = &cur.name, 0
		case 'V':
			slot, idx = &cur.version, 1
		case 'A':
			slot, idx = &cur.arch, 2
		case 'o':
			slot, idx = &cur.origin, 3
		default:
			continue // other package data, file lists and checksums
		}
		if cur.seen[idx] != 0 {
			return nil, parseErrorf(r.line, "duplicate %c: line (first on line %d)", line[0], cur.seen[idx])
		}
		cur.seen[idx] = r.line
		*slot = value
	}
	if cur != nil {
		return nil, parseErrorf(r.line, "file ends inside a package block, without a blank line (truncated?)")
	}
	sortPackages(pkgs)
	return pkgs, nil
}

// pkg checks a finished block and returns its package.
func (b *apkBlock) pkg() (Package, error) {
	for i, key := range "PVA" {
		if b.seen[i] == 0 {
			return Package{}, parseErrorf(b.start, "package block without %c: line", key)
		}
	}
	p := Package{
		Ecosystem:     Apk,
		Name:          b.name,
		Version:       b.version,
		Arch:          b.arch,
		SourceName:    b.origin,
		SourceVersion: b.version,
	}
	if b.seen[3] == 0 {
		p.SourceName = b.name
	}
	if err := p.Validate(); err != nil {
		return Package{}, parseErrorf(b.start, "%v", err)
	}
	return p, nil
}
