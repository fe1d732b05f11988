package sigclient

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/parley-chat/parley/signaling/protocol"
)

// maxResponseBody caps how much of a successful HTTP response is read.
const maxResponseBody = 64 << 10

// defaultHTTPClient is used when a caller passes a nil *http.Client: unlike
// http.DefaultClient it cannot hang forever on a stalled server.
var defaultHTTPClient = &http.Client{Timeout: 30 * time.Second}

// CreateRoom asks the server at serverURL (http(s)://host[:port][/prefix])
// for a new room. A positive selfDestruct sets the room's self-destruct
// timer, rounded up to whole seconds; zero means no timer. verifier is the
// public half of protocol.RoomKey(link secret): the server then admits to
// the room (and lets destroy it) only connections that prove the secret.
// A refusal (for example RATE_LIMITED, with RetryAfter set) is returned as
// an *Error; a server too old to take a verifier gives UNSUPPORTED_VERSION.
func CreateRoom(ctx context.Context, hc *http.Client, serverURL string, selfDestruct time.Duration, verifier ed25519.PublicKey) (protocol.CreateRoomResponse, error) {
	var resp protocol.CreateRoomResponse
	if selfDestruct < 0 {
		return resp, fmt.Errorf("create room: negative self-destruct %v", selfDestruct)
	}
	if len(verifier) != protocol.VerifierSize {
		return resp, errors.New("create room: the room verifier is not an Ed25519 public key")
	}
	req := protocol.CreateRoomRequest{Verifier: b64.EncodeToString(verifier)}
	if selfDestruct > 0 {
		secs := int64((selfDestruct + time.Second - 1) / time.Second)
		if secs > protocol.MaxSelfDestructSeconds {
			// Checked here so that a BAD_REQUEST below can only mean a
			// server that does not know the body's fields.
			return resp, fmt.Errorf("create room: self-destruct %v beyond the %d s maximum", selfDestruct, protocol.MaxSelfDestructSeconds)
		}
		req.SelfDestructSeconds = &secs
	}
	body, err := json.Marshal(req)
	if err != nil {
		return resp, fmt.Errorf("create room: %w", err)
	}
	u, err := apiURL(serverURL, "/api/rooms")
	if err != nil {
		return resp, fmt.Errorf("create room: %w", err)
	}
	if err := doJSON(ctx, hc, http.MethodPost, u, body, http.StatusCreated, &resp); err != nil {
		if IsCode(err, protocol.CodeBadRequest) {
			// This body is well formed for every server that speaks
			// protocol version 2; servers before it refuse the unknown
			// "verifier" field. Creating the room without it would leave
			// it open to anyone who learns its id, so say what helps.
			err = &Error{Code: protocol.CodeUnsupportedVersion, Reason: "the server does not accept room verifiers (protocol version 2): it must be updated"}
		}
		return protocol.CreateRoomResponse{}, fmt.Errorf("create room: %w", err)
	}
	if !protocol.ValidRoomID(resp.RoomID) {
		return protocol.CreateRoomResponse{}, fmt.Errorf("create room: server returned a malformed room id")
	}
	return resp, nil
}

// GetRoom looks up a room: its creation time, how many participants are
// connected and when it expires. ROOM_NOT_FOUND, ROOM_DESTROYED and
// TIMER_EXPIRED come back as an *Error.
func GetRoom(ctx context.Context, hc *http.Client, serverURL, roomID string) (protocol.RoomInfo, error) {
	var info protocol.RoomInfo
	if !protocol.ValidRoomID(roomID) {
		return info, fmt.Errorf("get room: %w", &Error{Code: protocol.CodeBadRequest, Reason: "malformed room id"})
	}
	u, err := apiURL(serverURL, "/api/rooms/"+url.PathEscape(roomID))
	if err != nil {
		return info, fmt.Errorf("get room %s: %w", roomTag(roomID), err)
	}
	if err := doJSON(ctx, hc, http.MethodGet, u, nil, http.StatusOK, &info); err != nil {
		return protocol.RoomInfo{}, fmt.Errorf("get room %s: %w", roomTag(roomID), err)
	}
	return info, nil
}

// doJSON sends one request and decodes a JSON response with status want.
func doJSON(ctx context.Context, hc *http.Client, method, u string, body []byte, want int, out any) error {
	if hc == nil {
		hc = defaultHTTPClient
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		return responseError(resp)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if err != nil {
		return fmt.Errorf("read response: %w", err)
	}
	if err := jsonUnmarshal(data, out); err != nil {
		return fmt.Errorf("decode response: %w", err)
	}
	return nil
}

// parseServerURL checks that s is an absolute http(s) URL without query or
// fragment and returns it with any trailing slash removed from the path.
func parseServerURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("server URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("server URL %q: scheme must be http or https", s)
	}
	if u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("server URL %q: want http(s)://host[:port][/prefix]", s)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// apiURL joins an endpoint path onto the server URL.
func apiURL(serverURL, path string) (string, error) {
	u, err := parseServerURL(serverURL)
	if err != nil {
		return "", err
	}
	return u.String() + path, nil
}

// wsURL derives the WebSocket URL (ws(s)://host[:port][/prefix]/ws).
func wsURL(serverURL string) (string, error) {
	u, err := parseServerURL(serverURL)
	if err != nil {
		return "", err
	}
	if u.Scheme == "https" {
		u.Scheme = "wss"
	} else {
		u.Scheme = "ws"
	}
	u.Path += "/ws"
	return u.String(), nil
}
