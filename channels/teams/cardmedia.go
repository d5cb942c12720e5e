package teams

import (
	"encoding/base64"
	"strings"

	"github.com/switchboard/switchboard/bot"
)

// maxThumbBytes bounds a preview put in a card as a data URI: Teams takes
// about 100 KB per message, and the card holds the text, the draft and the
// actions besides.
const maxThumbBytes = 24 << 10

// mediaNouns name an attachment on a card and in its buttons.
func mediaNoun(k bot.MessageKind) string {
	switch k {
	case bot.KindImage:
		return "photo"
	case bot.KindSticker:
		return "sticker"
	}
	return k.Words()
}

// mediaBlocks shows a card's attachments: a photo's preview, a voice
// note's transcript, a document's name, what each is and how large, a note
// when it is not (yet) kept, and how staff can open the whole file.
func mediaBlocks(c bot.Card, mv mediaView) []any {
	var out []any
	for _, m := range c.Media {
		noun := mediaNoun(m.Kind)
		var items []any
		if m.Thumb != nil && len(m.Thumb) <= maxThumbBytes {
			items = append(items, obj{"type": "Image", "url": "data:image/jpeg;base64," + base64.StdEncoding.EncodeToString(m.Thumb),
				"altText": "Preview of the " + noun + " the customer sent", "size": "Stretch", "spacing": "Small"})
		}
		if about := mediaAbout(m); about != "" {
			if m.FileName != "" {
				// The name is the customer's: shown literally.
				items = append(items, obj{"type": "RichTextBlock", "spacing": "Small", "inlines": []any{
					obj{"type": "TextRun", "text": capitalise(noun) + ": ", "weight": "Bolder", "size": "Small"},
					obj{"type": "TextRun", "text": m.FileName, "size": "Small"},
					obj{"type": "TextRun", "text": " (" + about + ")", "size": "Small", "isSubtle": true},
				}})
			} else {
				items = append(items, textBlock(capitalise(noun)+": "+about+".", obj{"size": "Small", "isSubtle": true, "spacing": "Small"}))
			}
		}
		if m.Transcript != "" {
			items = append(items,
				textBlock("What they said (transcript)", obj{"weight": "Bolder", "size": "Small", "spacing": "Small"}),
				plainBlock(m.Transcript, nil))
		}
		switch {
		case m.Note != "" && m.State == bot.MediaFailed:
			items = append(items, notice("warning", "", m.Note))
		case m.Note != "":
			items = append(items, textBlock(m.Note, obj{"size": "Small", "isSubtle": true, "spacing": "Small"}))
		}
		if m.State == bot.MediaFetched && c.DraftID != 0 {
			items = append(items, viewAction(c, m, noun, mv)...)
		}
		if len(items) > 0 {
			out = append(out, obj{"type": "Container", "spacing": "Small", "items": items})
		}
	}
	return out
}

// mediaAbout says what a file is and how large: "a JPEG image, 2.3 MB".
func mediaAbout(m bot.CardMedia) string {
	var parts []string
	if m.MIME != "" {
		parts = append(parts, bot.TypeWords(m.MIME))
	}
	if m.Size > 0 {
		parts = append(parts, bot.SizeWords(m.Size))
	}
	return strings.Join(parts, ", ")
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// viewAction is how staff open the whole file: a View button (answered
// with a one-time link for the person who clicked), the link itself in
// that person's copy of the card, or, without a public address, a line
// saying so.
func viewAction(c bot.Card, m bot.CardMedia, noun string, mv mediaView) []any {
	if !mv.enabled {
		return []any{textBlock("The whole "+noun+" can be opened from this card once Switchboard has a public address (whoever runs it sets --public-url).",
			obj{"size": "Small", "isSubtle": true, "spacing": "Small"})}
	}
	if link, ok := mv.links[m.ID]; ok {
		return []any{
			textBlock("Only you see this link. It opens the "+noun+" once, within "+bot.DurationWords(mv.ttl)+".",
				obj{"size": "Small", "isSubtle": true, "spacing": "Small"}),
			obj{"type": "ActionSet", "actions": []any{obj{"type": "Action.OpenUrl", "title": "Open the " + noun, "url": link}}},
		}
	}
	data := obj{"switchboard": "media", "verb": "view", "draft": c.DraftID, "media": m.ID}
	if c.Token != "" {
		data["token"] = c.Token
	}
	title := "View the " + noun
	if m.Kind.Spoken() {
		title = "Play the " + noun
	}
	return []any{obj{"type": "ActionSet", "actions": []any{obj{"type": "Action.Execute", "title": title, "verb": "view", "data": data}}}}
}

// attachmentBlocks shows the file staff attached to the reply, and, while
// the reply is undecided, how to attach one.
func attachmentBlocks(c bot.Card) []any {
	var out []any
	if m := c.Attachment; m != nil {
		noun := mediaNoun(m.Kind)
		items := []any{}
		if m.Thumb != nil && len(m.Thumb) <= maxThumbBytes {
			items = append(items, obj{"type": "Image", "url": "data:image/jpeg;base64," + base64.StdEncoding.EncodeToString(m.Thumb),
				"altText": "Preview of the " + noun + " attached to the reply", "size": "Medium", "spacing": "Small"})
		}
		inlines := []any{obj{"type": "TextRun", "text": "Goes with the reply: ", "weight": "Bolder", "size": "Small"}}
		if m.FileName != "" {
			inlines = append(inlines, obj{"type": "TextRun", "text": m.FileName, "size": "Small"})
		} else {
			inlines = append(inlines, obj{"type": "TextRun", "text": "a " + noun, "size": "Small"})
		}
		if about := mediaAbout(*m); about != "" {
			inlines = append(inlines, obj{"type": "TextRun", "text": " (" + about + ")", "size": "Small", "isSubtle": true})
		}
		items = append(items, obj{"type": "RichTextBlock", "spacing": "Small", "inlines": inlines})
		out = append(out, obj{"type": "Container", "spacing": "Small", "items": items})
	}
	if c.AttachCode != "" {
		what := "To send a file with this reply"
		if c.Attachment != nil {
			what = "To send another file instead"
		}
		out = append(out, textBlock(what+", send it to Switchboard in your own chat with it, with the message /attach "+c.AttachCode+".",
			obj{"size": "Small", "isSubtle": true, "spacing": "Small"}))
	}
	return out
}
