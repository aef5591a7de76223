package localcloud

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/zerodown/zerodown/internal/localcloud/api"
)

// apiHandler serves the JSON API that fleet/local drives.
func (d *Daemon) apiHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+api.PathInstances, func(w http.ResponseWriter, r *http.Request) {
		var req api.LaunchRequest
		if !decode(w, r, &req) {
			return
		}
		resp, err := d.launch(req)
		if err != nil {
			writeError(w, err)
			return
		}
		status := http.StatusOK
		if resp.Created {
			status = http.StatusCreated
		}
		writeJSON(w, status, resp)
	})
	mux.HandleFunc("GET "+api.PathState, func(w http.ResponseWriter, r *http.Request) {
		all := r.URL.Query().Get("all")
		writeJSON(w, http.StatusOK, d.state(all == "1" || all == "true"))
	})
	mux.HandleFunc("POST "+api.PathAttach, func(w http.ResponseWriter, r *http.Request) {
		var req api.IDs
		if decode(w, r, &req) {
			reply(w, d.attach(req.IDs))
		}
	})
	mux.HandleFunc("POST "+api.PathDetach, func(w http.ResponseWriter, r *http.Request) {
		var req api.DetachRequest
		if !decode(w, r, &req) {
			return
		}
		timeout := d.cfg.DrainTimeout
		if req.DrainTimeout != "" {
			t, err := time.ParseDuration(req.DrainTimeout)
			if err != nil || t < 0 {
				writeError(w, badRequest("drainTimeout %q is not a duration (use 30s)", req.DrainTimeout))
				return
			}
			timeout = t
		}
		reply(w, d.detach(req.IDs, timeout))
	})
	mux.HandleFunc("PUT "+api.PathWeights, func(w http.ResponseWriter, r *http.Request) {
		var req map[string]int
		if decode(w, r, &req) {
			reply(w, d.setWeights(req))
		}
	})
	mux.HandleFunc("POST "+api.PathTerminate, func(w http.ResponseWriter, r *http.Request) {
		var req api.IDs
		if !decode(w, r, &req) {
			return
		}
		if len(req.IDs) == 0 && !req.All {
			writeError(w, badRequest("ids is empty (use all: true to terminate every instance)"))
			return
		}
		// Unknown IDs are fine: terminating is idempotent, and a retried call may
		// name instances another call already cleaned up.
		d.mu.Lock()
		var ins []*instance
		for _, in := range d.ordered() {
			if req.All || slices.Contains(req.IDs, in.rec.ID) {
				ins = append(ins, in)
			}
		}
		d.mu.Unlock()
		// Not bound to the request: a client that gives up does not leave a half-stopped instance.
		d.terminate(ins)
		ids := make([]string, 0, len(ins))
		for _, in := range ins {
			ids = append(ids, in.rec.ID)
		}
		writeJSON(w, http.StatusOK, api.IDs{IDs: ids})
	})
	mux.HandleFunc("GET "+api.PathHealthz, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("POST "+api.PathShutdown, func(w http.ResponseWriter, r *http.Request) {
		var req api.ShutdownRequest
		if r.ContentLength != 0 && !decode(w, r, &req) {
			return
		}
		writeJSON(w, http.StatusAccepted, map[string]string{"status": "stopping"})
		d.stopOnce.Do(func() { d.stopReq <- req }) // buffered: never blocks
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &apiError{http.StatusNotFound, "no such endpoint: " + r.Method + " " + r.URL.Path})
	})
	return mux
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields() // a misspelt field is a mistake worth hearing about
	if err := dec.Decode(v); err != nil {
		writeError(w, badRequest("invalid JSON body: %v", err))
		return false
	}
	return true
}

func reply(w http.ResponseWriter, err error) {
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func writeError(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	var ae *apiError
	if errors.As(err, &ae) {
		status = ae.status
	}
	writeJSON(w, status, api.Error{Error: err.Error()})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
