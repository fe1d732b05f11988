package identity

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// go-keyring talks over godbus's process-wide shared session bus
		// connection, which lives (with its reader goroutines) until exit
		// by design; it is not ours to close.
		goleak.IgnoreAnyFunction("github.com/godbus/dbus/v5.newConn.func1"),
		goleak.IgnoreAnyFunction("github.com/godbus/dbus/v5.(*Conn).inWorker"),
		goleak.IgnoreAnyFunction("github.com/godbus/dbus/v5.(*Conn).outWorker"),
		goleak.IgnoreAnyFunction("github.com/godbus/dbus/v5.newDefaultSignalChannelHandler.func1"),
		goleak.IgnoreAnyFunction("github.com/godbus/dbus/v5.(*defaultSignalHandler).DeliverSignal.func1"),
	)
}
