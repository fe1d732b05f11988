package app

import (
	"errors"

	"github.com/parley-chat/parley/app/history"
)

// Long conversations: a room opens with its newest page of messages and
// the UI asks for more as the person scrolls or searches, so a room with
// 100,000 messages opens as fast as an empty one (history decrypts one
// page, the webview holds a window of them).

// PageSize is how many messages RoomView and each page call carry.
const PageSize = 50

// MessagePage is a run of a room's messages, oldest first.
type MessagePage struct {
	Messages []Message `json:"messages"`
	// Older / Newer: the room has messages before / after this run.
	Older bool `json:"older"`
	Newer bool `json:"newer"`
}

// SearchResult is one page of a search, newest match first.
type SearchResult struct {
	Matches []Message `json:"matches"`
	// Next goes on searching older messages (SearchMessages' before);
	// "" when the whole room was searched.
	Next string `json:"next"`
}

func pageOf(p history.Page) MessagePage {
	out := MessagePage{Messages: make([]Message, 0, len(p.Messages)), Older: p.Older, Newer: p.Newer}
	for _, m := range p.Messages {
		out.Messages = append(out.Messages, messageOf(m))
	}
	return out
}

// pageErr: an id the room does not have is the caller's mistake (a page
// asked for after the history was cleared), not an internal error.
func (a *App) pageErr(err error) error {
	switch {
	case errors.Is(err, history.ErrMessageNotFound):
		return apiErrorf(CodeBadRequest, "that message is no longer in this room's history")
	case errors.Is(err, history.ErrBadQuery):
		return apiErrorf(CodeBadRequest, "search for 1 to %d bytes of text", history.MaxQueryBytes)
	}
	return a.historyErr(err)
}

// readPage runs one page read on the open profile's history.
func (a *App) readPage(read func(*history.Store) (history.Page, error)) (MessagePage, error) {
	p, err := a.ready()
	if err != nil {
		return MessagePage{}, err
	}
	pg, err := read(p.History)
	if err != nil {
		return MessagePage{}, a.pageErr(err)
	}
	return pageOf(pg), nil
}

// OlderMessages returns the page of messages before the message before.
func (a *App) OlderMessages(roomID, before string) (MessagePage, error) {
	return a.readPage(func(h *history.Store) (history.Page, error) { return h.MessagesBefore(roomID, before, PageSize) })
}

// NewerMessages returns the page of messages after the message after.
func (a *App) NewerMessages(roomID, after string) (MessagePage, error) {
	return a.readPage(func(h *history.Store) (history.Page, error) { return h.MessagesAfter(roomID, after, PageSize) })
}

// MessagesAround returns a page with the message id in its middle (a
// search hit, or the message a reply quotes).
func (a *App) MessagesAround(roomID, id string) (MessagePage, error) {
	return a.readPage(func(h *history.Store) (history.Page, error) { return h.MessagesAround(roomID, id, PageSize) })
}

// SearchMessages finds messages of the room containing query (case
// ignored), newest first, older than before ("" from the newest). Texts
// are decrypted in Go; each call returns up to a page of matches.
func (a *App) SearchMessages(roomID, query, before string) (SearchResult, error) {
	p, err := a.ready()
	if err != nil {
		return SearchResult{}, err
	}
	sp, err := p.History.Search(roomID, query, before, PageSize)
	if err != nil {
		return SearchResult{}, a.pageErr(err)
	}
	out := SearchResult{Matches: make([]Message, 0, len(sp.Matches)), Next: sp.Next}
	for _, m := range sp.Matches {
		out.Matches = append(out.Matches, messageOf(m))
	}
	return out, nil
}
