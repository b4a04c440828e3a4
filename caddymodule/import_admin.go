package caddymodule

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/authflow"
)

// Importing customers from a legacy system, on Caddy's admin endpoint
// (loopback callers only; `frontdoor import customers` is its client):
//
//	POST /frontdoor/customers/import[?store=bolt|redis][&reset_weak=1]
//	     {"lines": [{"n": <line number>, "text": "<the line>"}, …]}
//	  →  {"results": [{"line": …, "status": "imported|exists|skipped", "reason": …, "id": …, "scheme": …}, …]}
//
// At most importBatch lines a request. A line's problems are its result;
// a store failure answers 503 with the results so far ("done"), and the
// import can be run again: lines already imported are "exists".

const (
	importBatch   = 1000
	importMaxBody = 16 << 20
)

// importRequest is the body of an import request.
type importRequest struct {
	Lines []struct {
		N    int    `json:"n"`
		Text string `json:"text"`
	} `json:"lines"`
}

func serveImport(w http.ResponseWriter, r *http.Request) error {
	if err := loopbackOnly(r); err != nil {
		return err
	}
	if r.Method != http.MethodPost {
		return methodNotAllowed("POST")
	}
	b, err := importBackend(r.URL.Query().Get("store"))
	if err != nil {
		return err
	}
	var req importRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, importMaxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: fmt.Errorf(`body: %v (want {"lines":[{"n":1,"text":"{…}"},…]})`, err)}
	}
	if len(req.Lines) > importBatch {
		return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: fmt.Errorf("at most %d lines a request", importBatch)}
	}
	opt := authflow.ImportOptions{ResetWeak: r.URL.Query().Get("reset_weak") == "1"}
	flows := b.flows()
	results := make([]authflow.ImportResult, 0, len(req.Lines))
	counts := map[authflow.ImportStatus]int{}
	for _, l := range req.Lines {
		res, err := flows.Import(r.Context(), l.N, []byte(l.Text), opt)
		if err != nil {
			b.logger.Get().Error("import: storing a customer", zap.Int("line", l.N), zap.Error(err))
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			return json.NewEncoder(w).Encode(map[string]any{"results": results, "error": "the store failed at line " + fmt.Sprint(l.N) + ": run the import again to resume"})
		}
		counts[res.Status]++
		results = append(results, res)
	}
	b.logger.Get().Info("import: a batch of customers", zap.Int("imported", counts[authflow.ImportCreated]),
		zap.Int("exists", counts[authflow.ImportExists]), zap.Int("skipped", counts[authflow.ImportSkipped]))
	return writeAdminJSON(w, map[string]any{"results": results})
}

// importBackend is the store an import writes to: the only one, or the
// one named (bolt, redis).
func importBackend(kind string) (*backend, error) {
	all := defenders()
	var match []*backend
	for _, b := range all {
		if kind == "" || b.kind == kind {
			match = append(match, b)
		}
	}
	switch {
	case len(all) == 0:
		return nil, caddy.APIError{HTTPStatus: http.StatusServiceUnavailable, Err: errors.New("no frontdoor store is running")}
	case len(match) == 1:
		return match[0], nil
	case len(match) == 0:
		return nil, caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: fmt.Errorf("store %q: no such store running", kind)}
	}
	return nil, caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: errors.New("several stores are running: name one with ?store=bolt or ?store=redis")}
}
