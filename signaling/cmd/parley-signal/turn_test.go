package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parley-chat/parley/signaling/protocol"
)

// With --turn-listen, every join hands out the embedded relay: a stun: URL
// and turn: URLs (UDP and TCP) on the real bound port, with short-lived
// REST credentials (username "<unix expiry>:parley").
func TestRunHandsOutEmbeddedTURN(t *testing.T) {
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--addr", "127.0.0.1:0", "--turn-listen", "127.0.0.1:0", "--turn-public-ip", "127.0.0.1", "--turn-ttl", "1h"}, pw)
		_ = pw.Close()
	}()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("run did not stop")
		}
	}()
	sc := bufio.NewScanner(pr)
	turnRe := regexp.MustCompile(`msg="turn listening" addr=127\.0\.0\.1:(\d+)`)
	addrRe := regexp.MustCompile(`msg=listening addr=(127\.0\.0\.1:\d+)`)
	var addr, turnPort string
	for addr == "" && sc.Scan() {
		if m := turnRe.FindStringSubmatch(sc.Text()); m != nil {
			turnPort = m[1]
		}
		if m := addrRe.FindStringSubmatch(sc.Text()); m != nil {
			addr = m[1]
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if addr == "" || turnPort == "" || turnPort == "0" {
		t.Fatalf("addresses not logged: server %q, turn port %q", addr, turnPort)
	}

	hc := &http.Client{Transport: &http.Transport{}}
	defer hc.CloseIdleConnections()
	resp, err := hc.Post("http://"+addr+"/api/rooms", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	var created protocol.CreateRoomResponse
	_ = json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()

	ws, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	var challenge protocol.Message
	if err := ws.ReadJSON(&challenge); err != nil {
		t.Fatal(err)
	}
	nonce, _ := base64.RawURLEncoding.DecodeString(challenge.Nonce)
	pub, priv, _ := ed25519.GenerateKey(nil)
	_ = ws.WriteJSON(protocol.Message{
		Type: protocol.TypeJoin, Version: protocol.MinVersion, RoomID: created.RoomID, // a room without a verifier
		PublicKey: base64.RawURLEncoding.EncodeToString(pub),
		Signature: base64.RawURLEncoding.EncodeToString(ed25519.Sign(priv, protocol.JoinSigningBytes(created.RoomID, nonce))),
	})
	var joined protocol.Message
	if err := ws.ReadJSON(&joined); err != nil || joined.Type != protocol.TypeJoined {
		t.Fatalf("join: %+v %v", joined, err)
	}
	hostPort := "127.0.0.1:" + turnPort
	var stun, turn bool
	for _, s := range joined.ICEServers {
		urls := strings.Join(s.URLs, " ")
		switch urls {
		case "stun:" + hostPort:
			stun = s.Username == "" && s.Credential == ""
		case "turn:" + hostPort + "?transport=udp turn:" + hostPort + "?transport=tcp":
			exp, user, ok := strings.Cut(s.Username, ":")
			sec, err := strconv.ParseInt(exp, 10, 64)
			left := time.Until(time.Unix(sec, 0))
			turn = ok && err == nil && user == "parley" && left > 50*time.Minute && left <= time.Hour && s.Credential != ""
		}
	}
	if !stun || !turn {
		t.Fatalf("joined iceServers %+v: want stun:%s and turn: UDP+TCP with 1 h credentials", joined.ICEServers, hostPort)
	}
}
