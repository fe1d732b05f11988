// Package waylandtest gives tests a private Wayland desktop: a headless
// sway compositor showing a known picture, its own session D-Bus, and on
// request PipeWire, WirePlumber and the desktop portal
// (xdg-desktop-portal with xdg-desktop-portal-wlr, which screen-casts
// without asking). Everything runs in a throwaway XDG_RUNTIME_DIR and is
// stopped when the test ends; nothing touches the machine's own session.
//
// Debian packages: sway, swaybg, pipewire, wireplumber, xdg-desktop-portal,
// xdg-desktop-portal-wlr, dbus; xwayland and x11-xserver-utils (xhost)
// for Options.XWayland.
package waylandtest
