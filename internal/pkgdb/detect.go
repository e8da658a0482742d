package pkgdb

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Database is one package database found under a root.
type Database struct {
	Ecosystem Ecosystem
	// Path is the database file, under the root: the dpkg status file, the
	// rpm database file (rpmdb.sqlite, Packages or Packages.db) or apk's
	// installed file.
	Path string
}

// Detect reports which package databases exist under root, in the order
// deb, rpm, apk. A root may hold several (a Debian machine where someone
// initialised /var/lib/rpm, say); each is an inventory of its own. A root
// without any database yields an empty list; a root that cannot be read, an
// error.
func Detect(root string) ([]Database, error) {
	fi, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("detect package databases: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("detect package databases: %s is not a directory", root)
	}
	var dbs []Database

	status := filepath.Join(root, dpkgStatusPath)
	if ok, err := isFile(status); err != nil {
		return nil, fmt.Errorf("detect package databases: %w", err)
	} else if ok {
		dbs = append(dbs, Database{Ecosystem: Deb, Path: status})
	}

	_, rpmdb, err := findRPMDB(root)
	switch {
	case err == nil:
		dbs = append(dbs, Database{Ecosystem: RPM, Path: rpmdb})
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("detect package databases: %w", err)
	}

	installed := filepath.Join(root, apkInstalledPath)
	if ok, err := isFile(installed); err != nil {
		return nil, fmt.Errorf("detect package databases: %w", err)
	} else if ok {
		dbs = append(dbs, Database{Ecosystem: Apk, Path: installed})
	}
	return dbs, nil
}

// isFile reports whether path names a regular file (after links); a path
// that does not exist is not an error.
func isFile(path string) (bool, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return fi.Mode().IsRegular(), nil
}
