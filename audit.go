package patchbay

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// AuditEvent is one entry of the append-only audit trail. Each entry carries
// the hash of the one before it, so editing, deleting or reordering any entry
// breaks the chain from there on (see VerifyChain).
type AuditEvent struct {
	Seq        int64           `json:"seq"`
	At         time.Time       `json:"at"`
	Actor      string          `json:"actor"`  // "user:alice", "host:42", "system"
	Action     string          `json:"action"` // "user.create", "token.revoke", ...
	ObjectType string          `json:"object_type"`
	ObjectID   string          `json:"object_id"`
	Before     json.RawMessage `json:"before,omitempty"` // summary of the object before the change
	After      json.RawMessage `json:"after,omitempty"`  // and after it
	PrevHash   string          `json:"prev_hash"`        // hex SHA-256 of the previous entry; "" for the first
	Hash       string          `json:"hash"`             // hex SHA-256 of this entry
}

// AuditFilter selects audit events.
type AuditFilter struct {
	Actor      string
	ObjectType string
	ObjectID   string
	Since      time.Time // inclusive; zero means no bound
	Until      time.Time // exclusive; zero means no bound
	AfterSeq   int64     // cursor: events with Seq greater than this
	Limit      int
}

// ComputeHash returns the hex SHA-256 of e's content and PrevHash, in a
// length-prefixed encoding so that no two different entries hash alike.
// At is taken at microsecond precision, the precision both stores keep.
func (e *AuditEvent) ComputeHash() string {
	h := sha256.New()
	var n [8]byte
	field := func(b []byte) {
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	binary.BigEndian.PutUint64(n[:], uint64(e.Seq))
	h.Write(n[:])
	binary.BigEndian.PutUint64(n[:], uint64(e.At.UnixMicro()))
	h.Write(n[:])
	field([]byte(e.Actor))
	field([]byte(e.Action))
	field([]byte(e.ObjectType))
	field([]byte(e.ObjectID))
	field(e.Before)
	field(e.After)
	field([]byte(e.PrevHash))
	return hex.EncodeToString(h.Sum(nil))
}

// ChainBreak describes the first entry at which an audit chain fails.
type ChainBreak struct {
	Seq    int64  `json:"seq"`
	Reason string `json:"reason"`
}

func (b *ChainBreak) Error() string {
	return fmt.Sprintf("audit chain broken at entry %d: %s", b.Seq, b.Reason)
}

// ChainVerifier checks audit entries one by one, in Seq order.
type ChainVerifier struct {
	prevSeq  int64
	prevHash string
	Count    int64
}

// Next checks e against the entries seen so far and returns a *ChainBreak
// when e was altered, or one before it was removed or altered.
func (v *ChainVerifier) Next(e *AuditEvent) error {
	switch {
	case e.Seq != v.prevSeq+1:
		return &ChainBreak{Seq: e.Seq, Reason: fmt.Sprintf("expected entry %d next: an entry was removed or renumbered", v.prevSeq+1)}
	case e.PrevHash != v.prevHash:
		return &ChainBreak{Seq: e.Seq, Reason: "its prev_hash does not match the entry before it"}
	case e.ComputeHash() != e.Hash:
		return &ChainBreak{Seq: e.Seq, Reason: "its content does not match its hash: the entry was edited"}
	}
	v.prevSeq, v.prevHash = e.Seq, e.Hash
	v.Count++
	return nil
}
