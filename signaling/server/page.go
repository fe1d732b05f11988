package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"net/http"
	"strings"
)

// The landing page for invite links opened in a browser. It is
// self-contained (no external assets) and its CSP allows only the inline
// style and script below, by hash. The room secret travels in the URL
// fragment, which browsers never send: the script copies location.hash onto
// the parley:// link on the visitor's side.
const (
	pageStyle = `body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#1d1d1f;background:#fafafa}` +
		`h1{font-size:1.5rem}a.button{display:inline-block;padding:.75rem 1.25rem;border-radius:.5rem;background:#2f5fd0;color:#fff;text-decoration:none;font-weight:600}` +
		`a.button:focus-visible{outline:3px solid #f5a623;outline-offset:2px}p.hint{color:#555;font-size:.9rem}`
	pageScript = `(function(){var a=document.getElementById("open");if(a&&location.hash){a.href=a.getAttribute("href")+location.hash;}})();`
)

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Open this link in Parley</title>
<style>{{.Style}}</style>
</head>
<body>
<h1>Open this link in Parley</h1>
<p>Someone invited you to a private Parley conversation. It opens in the Parley desktop app, directly between the two of you.</p>
<p><a class="button" id="open" href="{{.Link}}">Open in Parley</a></p>
<p class="hint">Don't have Parley yet? Install the Parley app, then come back to this page and press the button, or paste the whole link into Parley's "Join room" box.</p>
<script>{{.Script}}</script>
</body>
</html>
`))

func cspHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// pageCSP is the Content-Security-Policy of the landing page.
var pageCSP = "default-src 'none'; style-src " + cspHash(pageStyle) + "; script-src " + cspHash(pageScript) +
	"; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// safeHost returns host if it only has characters a host[:port] may have,
// so a forged Host header cannot inject anything into the parley:// link.
func safeHost(host string) string {
	if host == "" || len(host) > 255 {
		return "localhost"
	}
	for _, c := range host {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', strings.ContainsRune(".-:[]", c):
		default:
			return "localhost"
		}
	}
	return host
}

func (s *Server) handlePage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	if !validID(id) {
		h.Set("Content-Security-Policy", "default-src 'none'")
		http.Error(w, "malformed room id", http.StatusBadRequest)
		return
	}
	var buf bytes.Buffer
	err := pageTemplate.Execute(&buf, struct {
		Style  template.CSS
		Script template.JS
		Link   template.URL
	}{
		Style:  template.CSS(pageStyle),
		Script: template.JS(pageScript),
		// The id is validated to [A-Za-z0-9_-] and the host to host
		// characters, so the URL needs no further escaping.
		Link: template.URL("parley://" + safeHost(r.Host) + "/r/" + id),
	})
	if err != nil {
		s.log.Error("render landing page", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("Content-Type", "text/html; charset=utf-8")
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(buf.Bytes())
}
