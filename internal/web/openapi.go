package web

import (
	_ "embed"
	"net/http"
)

// openAPIDocument is the hand-written description of the API. A test holds
// it equal to the route table: every route documented, nothing documented
// that is not routed, with the same class and permission.
//
//go:embed openapi.json
var openAPIDocument []byte

// OpenAPIDocument returns the served OpenAPI document.
func OpenAPIDocument() []byte { return openAPIDocument }

func (s *Server) handleOpenAPI() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(openAPIDocument)
	})
}
