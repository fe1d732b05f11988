package buildinfo

// goLicenses maps every Go module that a Parley binary links to its SPDX
// license, read from the module's LICENSE file. TestEveryLinkedModuleHasALicense
// fails when a new dependency is missing here.
var goLicenses = map[string]string{
	"git.sr.ht/~jackmordaunt/go-toast/v2":  "MIT",
	"github.com/beorn7/perks":              "MIT",
	"github.com/bep/debounce":              "MIT",
	"github.com/blackjack/webcam":          "MIT",
	"github.com/cespare/xxhash/v2":         "MIT",
	"github.com/danieljoos/wincred":        "MIT",
	"github.com/gen2brain/malgo":           "Unlicense",
	"github.com/go-ole/go-ole":             "MIT",
	"github.com/godbus/dbus/v5":            "BSD-2-Clause",
	"github.com/google/uuid":               "BSD-3-Clause",
	"github.com/gorilla/websocket":         "BSD-2-Clause",
	"github.com/jchv/go-winloader":         "ISC",
	"github.com/labstack/echo/v4":          "MIT",
	"github.com/labstack/gommon":           "MIT",
	"github.com/leaanthony/go-ansi-parser": "MIT",
	"github.com/leaanthony/gosod":          "MIT",
	"github.com/leaanthony/slicer":         "MIT",
	"github.com/leaanthony/u":              "MIT",
	"github.com/mattn/go-colorable":        "MIT",
	"github.com/mattn/go-isatty":           "MIT",
	"github.com/munnerz/goautoneg":         "BSD-3-Clause",
	"github.com/pion/datachannel":          "MIT",
	"github.com/pion/dtls/v3":              "MIT",
	"github.com/pion/ice/v4":               "MIT",
	"github.com/pion/interceptor":          "MIT",
	"github.com/pion/logging":              "MIT",
	"github.com/pion/mdns/v2":              "MIT",
	"github.com/pion/mediadevices":         "MIT",
	"github.com/pion/randutil":             "MIT",
	"github.com/pion/rtcp":                 "MIT",
	"github.com/pion/rtp":                  "MIT",
	"github.com/pion/sctp":                 "MIT",
	"github.com/pion/sdp/v3":               "MIT",
	"github.com/pion/srtp/v3":              "MIT",
	"github.com/pion/stun/v4":              "MIT",
	"github.com/pion/transport/v5":         "MIT",
	"github.com/pion/turn/v5":              "MIT",
	"github.com/pion/webrtc/v4":            "MIT",
	"github.com/pkg/browser":               "BSD-2-Clause",
	"github.com/pkg/errors":                "BSD-2-Clause",
	"github.com/prometheus/client_golang":  "Apache-2.0",
	"github.com/prometheus/client_model":   "Apache-2.0",
	"github.com/prometheus/common":         "Apache-2.0",
	"github.com/prometheus/procfs":         "Apache-2.0",
	"github.com/redis/go-redis/v9":         "BSD-2-Clause",
	"github.com/rivo/uniseg":               "MIT",
	"github.com/samber/lo":                 "MIT",
	"github.com/tkrajina/go-reflector":     "Apache-2.0",
	"github.com/valyala/bytebufferpool":    "MIT",
	"github.com/valyala/fasttemplate":      "MIT",
	"github.com/wailsapp/go-webview2":      "MIT",
	"github.com/wailsapp/mimetype":         "MIT",
	"github.com/wailsapp/wails/v2":         "MIT",
	"github.com/wlynxg/anet":               "BSD-3-Clause",
	"github.com/zalando/go-keyring":        "MIT",
	"go.etcd.io/bbolt":                     "MIT",
	"go.uber.org/atomic":                   "MIT",
	"golang.org/x/crypto":                  "BSD-3-Clause",
	"golang.org/x/image":                   "BSD-3-Clause",
	"golang.org/x/net":                     "BSD-3-Clause",
	"golang.org/x/sys":                     "BSD-3-Clause",
	"golang.org/x/text":                    "BSD-3-Clause",
	"golang.org/x/time":                    "BSD-3-Clause",
	"google.golang.org/protobuf":           "BSD-3-Clause",
}

// bundledPart is a component that is not a Go module of its own: the UI's
// runtime compiled into the embedded page, or C sources a module vendors.
// with names the Go module that brings it ("" = always present).
type bundledPart struct {
	Component
	with string
}

// bundled lists those parts. The Svelte version is checked against
// frontend/package.json by TestBundledSvelteMatchesTheUI.
var bundled = []bundledPart{
	{Component{Name: "svelte (UI runtime)", Version: "5.57.3", License: "MIT"}, "github.com/wailsapp/wails/v2"},
	{Component{Name: "libopus (vendored by pion/mediadevices)", Version: "1.3.1", License: "BSD-3-Clause"}, "github.com/pion/mediadevices"},
	{Component{Name: "miniaudio (vendored by gen2brain/malgo)", Version: "0.11.23", License: "Unlicense OR MIT-0"}, "github.com/gen2brain/malgo"},
}
