package client

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/patchbay/patchbay/internal/protocol"
)

// Enroll exchanges an enroll secret for a host token.
func (c *Client) Enroll(ctx context.Context, req protocol.EnrollRequest) (protocol.EnrollResponse, error) {
	var res protocol.EnrollResponse
	return res, c.do(ctx, "POST", protocol.PathEnroll, nil, req, &res)
}

// CheckIn reports facts and the inventory hash; the client's token must be
// a host token.
func (c *Client) CheckIn(ctx context.Context, req protocol.CheckInRequest) (protocol.CheckInResponse, error) {
	var res protocol.CheckInResponse
	return res, c.do(ctx, "POST", protocol.PathCheckIn, nil, req, &res)
}

// gzipWriters and uploadBuffers are reused across uploads: a gzip writer
// holds about a megabyte of state, which a simulator uploading hundreds of
// inventories a second would otherwise allocate and collect each time.
var (
	gzipWriters   = sync.Pool{New: func() any { w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed); return w }}
	uploadBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}
)

// UploadInventory sends the full inventory gzip-compressed.
func (c *Client) UploadInventory(ctx context.Context, inv protocol.Inventory) error {
	buf := uploadBuffers.Get().(*bytes.Buffer)
	buf.Reset()
	defer uploadBuffers.Put(buf)
	zw := gzipWriters.Get().(*gzip.Writer)
	defer gzipWriters.Put(zw)
	zw.Reset(buf)
	if err := protocol.EncodeInventory(zw, inv); err != nil {
		return fmt.Errorf("encode inventory: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("compress inventory: %w", err)
	}
	return c.doRaw(ctx, "PUT", protocol.PathInventory, bytes.NewReader(buf.Bytes()), map[string]string{
		"Content-Type": protocol.ContentTypeInventory, "Content-Encoding": "gzip"}, nil)
}

// doRaw sends a prepared body with headers and decodes a JSON answer.
func (c *Client) doRaw(ctx context.Context, method, path string, body io.Reader, headers map[string]string, out any) error {
	u := c.url(path)
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return c.send(req, out)
}
