// Package store keeps patchbay's state in SQLite (the embedded default) or
// PostgreSQL. Both engines run the same SQL through database/sql, written
// with '?' placeholders that are rewritten for PostgreSQL; where the engines
// differ (schema types, locking) the difference lives in the migrations or in
// one dialect switch. Every change runs in one transaction that also appends
// its audit event.
package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/patchbay/patchbay"
)

// Engine names a database engine.
type Engine string

// The engines.
const (
	SQLite   Engine = "sqlite"
	Postgres Engine = "postgres"
)

// DefaultSQLiteFile is the database file inside the data directory when
// --database is "sqlite:" or empty.
const DefaultSQLiteFile = "patchbay.db"

// Location is a parsed --database value.
type Location struct {
	Engine Engine
	Path   string // SQLite: the database file
	URL    string // PostgreSQL: the connection URL
}

// String returns the location without credentials, for logs and messages.
func (l Location) String() string {
	if l.Engine == SQLite {
		return "sqlite:" + l.Path
	}
	return "postgres:" + redactURL(l.URL)
}

// ParseLocation parses a --database value: "" or "sqlite:" (a file in
// dataDir), "sqlite:PATH" (relative paths are taken from dataDir), or a
// postgres:// or postgresql:// URL.
func ParseLocation(s, dataDir string) (Location, error) {
	switch {
	case s == "" || s == "sqlite:":
		if dataDir == "" {
			return Location{}, errors.New(`"sqlite:" needs a data directory (--data-dir) to hold the database file`)
		}
		return Location{Engine: SQLite, Path: filepath.Join(dataDir, DefaultSQLiteFile)}, nil
	case strings.HasPrefix(s, "sqlite:"):
		p := strings.TrimPrefix(s, "sqlite:")
		if !filepath.IsAbs(p) && dataDir != "" {
			p = filepath.Join(dataDir, p)
		}
		return Location{Engine: SQLite, Path: p}, nil
	case strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
		if _, err := pgconn.ParseConfig(s); err != nil {
			return Location{}, fmt.Errorf("postgres URL %s: %w", redactURL(s), err)
		}
		return Location{Engine: Postgres, URL: s}, nil
	}
	return Location{}, fmt.Errorf("%q is not a database location: want sqlite:, sqlite:PATH or postgres://…", truncate(s, 60))
}

func redactURL(s string) string {
	at := strings.LastIndex(s, "@")
	scheme := strings.Index(s, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return s
	}
	return s[:scheme+3] + "***@" + s[at+1:]
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Store is patchbay's state. It is safe for concurrent use.
type Store struct {
	loc   Location
	read  *sql.DB // readers: many connections
	write *sql.DB // writers: one connection on SQLite (one writer), the same pool on PostgreSQL
	log   *slog.Logger
	now   func() time.Time
	fail  func(name string)

	// stmts caches prepared read statements by SQL text: SQLite would
	// otherwise parse every query anew, which dominates a short read.
	stmts  sync.Map // string -> *sql.Stmt, on the read pool
	wstmts sync.Map // string -> *sql.Stmt, on the write pool

	interned  internCache
	seen      seenBatcher // hosts' last-seen times
	group     groupCommit // claims and results sharing commits
	tokenUsed seenBatcher // tokens' last-used times
	stopSeen  chan struct{}
	seenDone  chan struct{}
}

// Options are the optional parts of Open.
type Options struct {
	Logger *slog.Logger
	Now    func() time.Time // the clock; time.Now when nil
	// SeenFlushInterval is how often batched last-seen times are written
	// (DefaultSeenFlushInterval when zero): the most a host's last-seen time
	// lags, and the most a killed server loses of them.
	SeenFlushInterval time.Duration
	// FailPoint, when set, is called at named points inside transactions
	// (such as "inventory-commit", just before an inventory commits), so
	// tests can kill the process there reproducibly.
	FailPoint func(name string)
}

// DefaultSeenFlushInterval bounds the lag of hosts' last-seen times.
const DefaultSeenFlushInterval = time.Second

// Open connects to the store at loc, creates it when it does not exist
// (SQLite), and migrates it to the current schema. It refuses, changing
// nothing, a store written by a newer patchbay.
func Open(ctx context.Context, loc Location, opt Options) (*Store, error) {
	s := &Store{loc: loc, log: opt.Logger, now: opt.Now, fail: opt.FailPoint}
	if s.fail == nil {
		s.fail = func(string) {}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	var err error
	switch loc.Engine {
	case SQLite:
		err = s.openSQLite(ctx)
	case Postgres:
		err = s.openPostgres(ctx)
	default:
		err = fmt.Errorf("unknown engine %q", loc.Engine)
	}
	if err != nil {
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		s.closeDB()
		return nil, err
	}
	interval := opt.SeenFlushInterval
	if interval <= 0 {
		interval = DefaultSeenFlushInterval
	}
	s.stopSeen, s.seenDone = make(chan struct{}), make(chan struct{})
	go s.flushSeenLoop(interval, s.stopSeen, s.seenDone)
	return s, nil
}

func (s *Store) openSQLite(ctx context.Context) error {
	if err := os.MkdirAll(filepath.Dir(s.loc.Path), 0o700); err != nil {
		return fmt.Errorf("create directory for %s: %w", s.loc.Path, err)
	}
	// WAL lets readers run beside the one writer; busy_timeout makes a
	// second writer wait instead of failing; FULL sync makes every committed
	// transaction survive a crash of the machine, not only of the process.
	dsn := "file:" + s.loc.Path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)" +
		"&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)&_txlock=immediate"
	var err error
	if s.read, err = sql.Open("sqlite", dsn); err != nil {
		return fmt.Errorf("open %s: %w", s.loc, err)
	}
	if s.write, err = sql.Open("sqlite", dsn); err != nil {
		s.read.Close()
		return fmt.Errorf("open %s: %w", s.loc, err)
	}
	s.write.SetMaxOpenConns(1)
	s.read.SetMaxOpenConns(8)
	s.read.SetMaxIdleConns(8)
	s.read.SetConnMaxIdleTime(0)
	if err := s.write.PingContext(ctx); err != nil {
		s.closeDB()
		return fmt.Errorf("open %s: %w", s.loc, classify(err))
	}
	return nil
}

func (s *Store) openPostgres(ctx context.Context) error {
	db, err := sql.Open("pgx", s.loc.URL)
	if err != nil {
		return fmt.Errorf("open %s: %w", s.loc, err)
	}
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(16)
	db.SetConnMaxLifetime(30 * time.Minute)
	s.read, s.write = db, db
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return fmt.Errorf("connect to %s: %w", s.loc, classify(err))
	}
	return nil
}

// Close writes pending last-seen times and releases the store's
// connections.
func (s *Store) Close() error {
	var err error
	if s.stopSeen != nil {
		close(s.stopSeen)
		<-s.seenDone
		s.stopSeen = nil
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = s.FlushSeen(ctx)
		cancel()
	}
	return errors.Join(err, s.closeDB())
}

func (s *Store) closeDB() error {
	for _, c := range []*sync.Map{&s.stmts, &s.wstmts} {
		c.Range(func(_, st any) bool { st.(*sql.Stmt).Close(); return true })
	}
	err := s.read.Close()
	if s.write != s.read {
		err = errors.Join(err, s.write.Close())
	}
	return err
}

// Engine returns the store's engine.
func (s *Store) Engine() Engine { return s.loc.Engine }

// Location returns where the store is.
func (s *Store) Location() Location { return s.loc }

// Ping reports whether the store answers now; /readyz uses it.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.read.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("ping %s: %w", s.loc, classify(err))
	}
	return nil
}

// rebind rewrites '?' placeholders as $1, $2, … for PostgreSQL. The SQL
// texts in this package never hold a '?' inside a string literal.
func (s *Store) rebind(q string) string {
	if s.loc.Engine != Postgres {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// prepared returns the cached prepared statement of read query q.
func (s *Store) prepared(ctx context.Context, q string) (*sql.Stmt, error) {
	return prepareCached(ctx, &s.stmts, s.read, s.rebind(q), q)
}

// prepareCached prepares q on db once and keeps it in cache under key.
func prepareCached(ctx context.Context, cache *sync.Map, db *sql.DB, q, key string) (*sql.Stmt, error) {
	if st, ok := cache.Load(key); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := db.PrepareContext(ctx, q)
	if err != nil {
		return nil, classify(err)
	}
	if prev, loaded := cache.LoadOrStore(key, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// rowResult is a single-row read's result: a row, or the error that kept
// the statement from being prepared.
type rowResult struct {
	row *sql.Row
	err error
}

func (r rowResult) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	return r.row.Scan(dest...)
}

// queryRow runs a single-row read outside any transaction.
func (s *Store) queryRow(ctx context.Context, q string, args ...any) rowResult {
	st, err := s.prepared(ctx, q)
	if err != nil {
		return rowResult{err: err}
	}
	return rowResult{row: st.QueryRowContext(ctx, args...)}
}

// query runs a read outside any transaction.
func (s *Store) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	st, err := s.prepared(ctx, q)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, args...)
	return rows, classify(err)
}

// queryUncached runs a read whose SQL text varies (IN lists of varying
// length), so preparing and caching it would only grow the cache.
func (s *Store) queryUncached(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	rows, err := s.read.QueryContext(ctx, s.rebind(q), args...)
	return rows, classify(err)
}

// Tx is a write transaction. Every store change goes through one, with its
// audit event appended before commit.
type Tx struct {
	s          *Store
	tx         *sql.Tx
	unprepared []string // statements to prepare once the transaction ends
	shared     bool     // several callers' work (inGroupTx): see ctx
}

// ctx is the context a statement of t runs under. In a shared transaction
// a caller's cancelled context must not reach the statement: the driver
// then interrupts it, and SQLite rolls back the whole transaction when
// the statement writes, every other caller's work with it.
func (t *Tx) ctx(ctx context.Context) context.Context {
	if t.shared {
		return context.WithoutCancel(ctx)
	}
	return ctx
}

// stmt returns q's cached prepared statement bound to t, or nil when it is
// not prepared yet: then q runs unprepared and is prepared after the
// transaction (preparing needs a connection, and on SQLite the one writer
// connection is the transaction's). The statements run in transactions are
// fixed texts, so the cache stays small.
func (t *Tx) stmt(ctx context.Context, q string) *sql.Stmt {
	ctx = t.ctx(ctx)
	if st, ok := t.s.wstmts.Load(q); ok {
		return t.tx.StmtContext(ctx, st.(*sql.Stmt))
	}
	t.unprepared = append(t.unprepared, q)
	return nil
}

func (t *Tx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	ctx = t.ctx(ctx)
	var r sql.Result
	var err error
	if st := t.stmt(ctx, q); st != nil {
		r, err = st.ExecContext(ctx, args...)
	} else {
		r, err = t.tx.ExecContext(ctx, t.s.rebind(q), args...)
	}
	return r, classify(err)
}

func (t *Tx) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	ctx = t.ctx(ctx)
	if st := t.stmt(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, t.s.rebind(q), args...)
}

// prepareLater prepares, outside any transaction, the statements a
// transaction ran unprepared.
func (s *Store) prepareLater(ctx context.Context, qs []string) {
	for _, q := range qs {
		if _, err := prepareCached(ctx, &s.wstmts, s.write, s.rebind(q), q); err != nil {
			s.log.Debug("prepare statement", "err", err)
			return
		}
	}
}

// inTx runs fn in a write transaction and commits when fn returns nil.
func (s *Store) inTx(ctx context.Context, fn func(*Tx) error) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", classify(err))
	}
	t := &Tx{s: s, tx: tx}
	// A panic in fn must not leave the transaction open: on SQLite it
	// holds the one write connection, and every later write would wait.
	defer func() {
		if p := recover(); p != nil {
			tx.Rollback()
			panic(p)
		}
	}()
	if err := fn(t); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", classify(err))
	}
	if len(t.unprepared) > 0 {
		s.prepareLater(ctx, t.unprepared)
	}
	return nil
}

// classify turns a lost or refused connection into patchbay's EUnavailable,
// so the API answers 503 and clients retry, and a uniqueness violation into
// EConflict. Other errors pass unchanged.
func classify(err error) error {
	if err == nil || errors.Is(err, sql.ErrNoRows) {
		return err
	}
	var pe *patchbay.Error
	if errors.As(err, &pe) {
		return err
	}
	if isUnavailable(err) {
		return &patchbay.Error{Code: patchbay.EUnavailable, Message: "the database cannot be reached; try again", Err: err}
	}
	if isUniqueViolation(err) {
		return &patchbay.Error{Code: patchbay.EConflict, Message: "already exists", Err: err}
	}
	return err
}

func isUnavailable(err error) bool {
	var ne net.Error
	var ce *pgconn.ConnectError
	var se *sqlite.Error
	switch {
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		errors.Is(err, net.ErrClosed), errors.As(err, &ne), errors.As(err, &ce), pgconn.Timeout(err):
		return true
	case errors.As(err, &se):
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL:
			return true
		}
	}
	var pge *pgconn.PgError
	if errors.As(err, &pge) {
		// Class 08: connection exception; 57P01..57P03: admin shutdown, crash, cannot connect now.
		return strings.HasPrefix(pge.Code, "08") || strings.HasPrefix(pge.Code, "57P")
	}
	return strings.Contains(err.Error(), "conn closed") || strings.Contains(err.Error(), "connection reset")
}

func isUniqueViolation(err error) bool {
	var pge *pgconn.PgError
	if errors.As(err, &pge) {
		return pge.Code == "23505"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// micros converts a time to the stored form.
func micros(t time.Time) int64 { return t.UnixMicro() }

// fromMicros converts the stored form back to UTC time.
func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// optMicros converts an optional time to a nullable column value.
func optMicros(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMicro()
}

// optTime converts a nullable column back to an optional time.
func optTime(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromMicros(n.Int64)
	return &t
}
