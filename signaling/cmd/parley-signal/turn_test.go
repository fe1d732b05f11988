package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/turn/v5"

	"github.com/parley-chat/parley/signaling/protocol"
	"github.com/parley-chat/parley/signaling/turncred"
)

// With --turn-listen, every join hands out the embedded relay: a stun: URL
// and turn: URLs (UDP and TCP) on the real bound port, with REST
// credentials bound to the room (username "<unix expiry>:<opaque tag>").
// They allocate on the embedded relay; a credential for a room the
// registry does not know is refused, and /metrics counts the refusal.
func TestRunHandsOutEmbeddedTURN(t *testing.T) {
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0", "--turn-listen", "127.0.0.1:0", "--turn-public-ip", "127.0.0.1", "--turn-ttl", "1h", "--turn-secret", "s3cret"}, io.Discard, pw)
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
	metricsRe := regexp.MustCompile(`msg=metrics addr=(127\.0\.0\.1:\d+)`)
	var addr, turnPort, metricsAddr string
	for (addr == "" || metricsAddr == "") && sc.Scan() {
		if m := metricsRe.FindStringSubmatch(sc.Text()); m != nil {
			metricsAddr = m[1]
		}
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
	var user, pass string
	for _, s := range joined.ICEServers {
		urls := strings.Join(s.URLs, " ")
		switch urls {
		case "stun:" + hostPort:
			stun = s.Username == "" && s.Credential == ""
		case "turn:" + hostPort + "?transport=udp turn:" + hostPort + "?transport=tcp":
			exp, tag, ok := strings.Cut(s.Username, ":")
			sec, err := strconv.ParseInt(exp, 10, 64)
			left := time.Until(time.Unix(sec, 0))
			turn = ok && err == nil && !strings.Contains(tag, created.RoomID) && left > 50*time.Minute && left <= time.Hour && s.Credential != ""
			user, pass = s.Username, s.Credential
		}
	}
	if !stun || !turn {
		t.Fatalf("joined iceServers %+v: want stun:%s and turn: UDP+TCP with 1 h credentials", joined.ICEServers, hostPort)
	}

	if err := allocate(hostPort, user, pass); err != nil {
		t.Fatalf("allocate with the join's credentials: %v", err)
	}
	other, otherPass := turncred.Mint("s3cret", "ZZZZZZZZZZZZZZZZZZZZZ", time.Now().Add(time.Hour))
	if err := allocate(hostPort, other, otherPass); err == nil {
		t.Fatal("allocation for an unknown room granted")
	}
	resp, err = hc.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metrics), `parley_signal_turn_refused_total{reason="room_ended"} 1`) {
		t.Fatalf("/metrics lacks the room_ended refusal:\n%s", metrics)
	}
}

// allocate asks the relay at hostPort for a UDP allocation and releases it.
func allocate(hostPort, user, pass string) error {
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer conn.Close()
	cl, err := turn.NewClient(&turn.ClientConfig{
		STUNServerAddr: hostPort, TURNServerAddr: hostPort, Username: user, Password: pass,
		Realm: "parley", Conn: conn, RTO: 200 * time.Millisecond,
	})
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := cl.Listen(); err != nil {
		return err
	}
	relay, err := cl.Allocate()
	if err != nil {
		return err
	}
	return relay.Close()
}
