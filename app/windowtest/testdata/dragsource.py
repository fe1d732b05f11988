#!/usr/bin/python3
"""A tiny GTK 3 drag source for the real-window test.

Usage: dragsource.py FILE X Y

Shows a small window at (X, Y) whose button offers FILE as a text/uri-list
drag (what a file manager offers), prints "ready" once it is mapped and
"drag-end" when a drag finished. The test drags from it onto the Parley
window with xdotool.
"""
import sys

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("Gdk", "3.0")
from gi.repository import Gdk, GLib, Gtk  # noqa: E402


def main():
    path, x, y = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    uri = GLib.filename_to_uri(path, None)

    win = Gtk.Window(title="parley-drag-source")
    win.set_default_size(160, 80)
    win.move(x, y)
    button = Gtk.Button(label="drag me")
    win.add(button)

    button.drag_source_set(Gdk.ModifierType.BUTTON1_MASK, [], Gdk.DragAction.COPY)
    button.drag_source_add_uri_targets()
    button.connect("drag-data-get", lambda w, ctx, data, info, t: data.set_uris([uri]))
    button.connect("drag-end", lambda w, ctx: print("drag-end", flush=True))
    win.connect("map-event", lambda w, e: print("ready", flush=True))
    win.connect("destroy", Gtk.main_quit)
    win.show_all()
    Gtk.main()


if __name__ == "__main__":
    main()
