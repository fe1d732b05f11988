package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parley-chat/parley/internal/logid"
	"github.com/parley-chat/parley/signaling/protocol"
	"github.com/parley-chat/parley/signaling/room"
)

// maxCreateBody caps the POST /api/rooms body: a number and a verifier.
const maxCreateBody = 1024

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code string) {
	writeJSON(w, status, protocol.ErrorResponse{Error: code})
}

func methodNotAllowed(allowed ...string) http.HandlerFunc {
	allow := strings.Join(allowed, ", ")
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Allow", allow)
		writeError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED")
	}
}

func writeRateLimited(w http.ResponseWriter, retry time.Duration) {
	secs := int(math.Ceil(retry.Seconds()))
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeError(w, http.StatusTooManyRequests, protocol.CodeRateLimited)
}

func millis(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	ms := t.UnixMilli()
	return &ms
}

// errBadBody is any create body that is not {} or a JSON object with the
// fields of protocol.CreateRoomRequest, well formed.
var errBadBody = errors.New("bad create body")

// createRequest is a checked create body.
type createRequest struct {
	selfDestruct time.Duration
	verifier     string // canonical encoding; "" for none
}

// parseCreateBody reads the optional create body. selfDestructSeconds must
// be a plain whole number (no sign, fraction or exponent) from 1 to
// protocol.MaxSelfDestructSeconds; verifier must be the base64url (no
// padding) encoding of protocol.VerifierSize bytes. null counts as absent.
func parseCreateBody(body []byte) (createRequest, error) {
	var out createRequest
	if len(bytes.TrimSpace(body)) == 0 {
		return out, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var req struct {
		SelfDestructSeconds json.RawMessage `json:"selfDestructSeconds"`
		Verifier            *string         `json:"verifier"`
	}
	if t := bytes.TrimSpace(body); t[0] != '{' {
		return out, errBadBody
	}
	if err := dec.Decode(&req); err != nil {
		return out, errBadBody
	}
	if !exactKeys(body, "selfDestructSeconds", "verifier") {
		return out, errBadBody // encoding/json matches keys case-insensitively and keeps the last duplicate
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return out, errBadBody // trailing data
	}
	if req.Verifier != nil {
		v, err := b64.DecodeString(*req.Verifier)
		if err != nil || len(v) != protocol.VerifierSize {
			return out, errBadBody
		}
		out.verifier = b64.EncodeToString(v)
	}
	raw := bytes.TrimSpace(req.SelfDestructSeconds)
	if len(raw) == 0 || string(raw) == "null" {
		return out, nil
	}
	for _, c := range raw {
		if c < '0' || c > '9' {
			return out, errBadBody
		}
	}
	if len(raw) > 7 || raw[0] == '0' {
		return out, errBadBody
	}
	n, err := strconv.Atoi(string(raw))
	if err != nil || n < 1 || n > protocol.MaxSelfDestructSeconds {
		return out, errBadBody
	}
	out.selfDestruct = time.Duration(n) * time.Second
	return out, nil
}

// exactKeys reports whether the top-level keys of the JSON object body are
// spelled exactly as one of allowed and none repeats.
func exactKeys(body []byte, allowed ...string) bool {
	var obj map[string]json.RawMessage
	if json.Unmarshal(body, &obj) != nil {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if _, err := dec.Token(); err != nil { // {
		return false
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return false
		}
		k, _ := t.(string)
		if seen[k] || !slices.Contains(allowed, k) {
			return false
		}
		seen[k] = true
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return false
		}
	}
	return true
}

func (s *Server) handleCreate(w http.ResponseWriter, r *http.Request) {
	if ok, retry := s.roomLimiter.allow(clientIP(r, s.cfg.TrustedProxies)); !ok {
		s.metrics.httpLimited.WithLabelValues("create").Inc()
		writeRateLimited(w, retry)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxCreateBody))
	if err != nil {
		writeError(w, http.StatusBadRequest, protocol.CodeBadRequest)
		return
	}
	req, err := parseCreateBody(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, protocol.CodeBadRequest)
		return
	}
	slot, ok := s.admitRoom(w, r)
	if !ok {
		return
	}
	ttl := req.selfDestruct
	info, err := s.rooms.Create(r.Context(), ttl, req.verifier)
	if err != nil {
		s.roomCreated(slot, "")
		s.writeRoomError(w, err)
		return
	}
	s.roomCreated(slot, info.ID)
	s.metrics.roomsCreated.Inc()
	s.log.Info("room created", "room", logid.Of(info.ID), "selfDestruct", ttl, "verifier", req.verifier != "")
	writeJSON(w, http.StatusCreated, protocol.CreateRoomResponse{
		RoomID:    info.ID,
		CreatedAt: info.CreatedAt.UnixMilli(),
		ExpiresAt: millis(info.ExpiresAt),
	})
}

func (s *Server) handleGet(w http.ResponseWriter, r *http.Request) {
	if ok, retry := s.lookupLimiter.allow(clientIP(r, s.cfg.TrustedProxies)); !ok {
		s.metrics.httpLimited.WithLabelValues("get").Inc()
		writeRateLimited(w, retry)
		return
	}
	id := r.PathValue("id")
	if !validID(id) {
		writeError(w, http.StatusBadRequest, protocol.CodeBadRequest)
		return
	}
	info, err := s.rooms.Get(r.Context(), id)
	if err != nil {
		s.writeRoomError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, protocol.RoomInfo{
		RoomID:    info.ID,
		CreatedAt: info.CreatedAt.UnixMilli(),
		Connected: info.Connected,
		ExpiresAt: millis(info.ExpiresAt),
	})
}

// roomStatus maps a Store error to an HTTP status.
func roomStatus(err error) int {
	switch {
	case errors.Is(err, room.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, room.ErrDestroyed), errors.Is(err, room.ErrExpired):
		return http.StatusGone
	case errors.Is(err, room.ErrFull):
		return http.StatusConflict
	case errors.Is(err, room.ErrTooManyRooms):
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

func (s *Server) writeRoomError(w http.ResponseWriter, err error) {
	status := roomStatus(err)
	if status == http.StatusInternalServerError {
		s.log.Error("room store", "err", err)
	}
	writeError(w, status, room.Code(err))
}
