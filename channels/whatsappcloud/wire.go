package whatsappcloud

import "encoding/json"

// The Cloud API's JSON, as far as this channel reads or writes it
// (developers.facebook.com/documentation/business-messaging/whatsapp/).
// Fields Meta may add are ignored; fields it may omit (wa_id for people
// with a username since 2026) are optional.

// webhookPayload is the body of a webhook POST.
type webhookPayload struct {
	Object string         `json:"object"` // "whatsapp_business_account"
	Entry  []webhookEntry `json:"entry"`
}

type webhookEntry struct {
	ID      string          `json:"id"` // the WhatsApp Business Account id
	Changes []webhookChange `json:"changes"`
}

type webhookChange struct {
	Field string       `json:"field"` // "messages" for messages and statuses
	Value webhookValue `json:"value"`
}

type webhookValue struct {
	MessagingProduct string        `json:"messaging_product"`
	Metadata         wireMetadata  `json:"metadata"`
	Contacts         []wireContact `json:"contacts"`
	Messages         []wireMessage `json:"messages"`
	Statuses         []wireStatus  `json:"statuses"`
	Errors           []wireError   `json:"errors"`
}

type wireMetadata struct {
	DisplayPhoneNumber string `json:"display_phone_number"`
	PhoneNumberID      string `json:"phone_number_id"`
}

type wireContact struct {
	Profile struct {
		Name     string `json:"name"`
		Username string `json:"username"`
	} `json:"profile"`
	WaID   string `json:"wa_id"`   // the phone number's digits; absent for some username users
	UserID string `json:"user_id"` // the business-scoped user id (BSUID)
}

// wireMessage is one inbound message. The field named after Type carries
// the content.
type wireMessage struct {
	From        string          `json:"from"`         // wa_id of the sender, when Meta shares it
	FromUserID  string          `json:"from_user_id"` // BSUID of the sender
	ID          string          `json:"id"`           // wamid
	Timestamp   string          `json:"timestamp"`    // Unix seconds
	Type        string          `json:"type"`
	GroupID     string          `json:"group_id"` // set for group chats (Groups API)
	Text        *wireText       `json:"text"`
	Image       *wireMedia      `json:"image"`
	Audio       *wireMedia      `json:"audio"`
	Video       *wireMedia      `json:"video"`
	Document    *wireMedia      `json:"document"`
	Sticker     *wireMedia      `json:"sticker"`
	Location    json.RawMessage `json:"location"`
	Contacts    json.RawMessage `json:"contacts"`
	Interactive *struct {
		Type        string `json:"type"`
		ButtonReply *struct {
			ID    string `json:"id"`
			Title string `json:"title"`
		} `json:"button_reply"`
		ListReply *struct {
			ID          string `json:"id"`
			Title       string `json:"title"`
			Description string `json:"description"`
		} `json:"list_reply"`
	} `json:"interactive"`
	Button *struct {
		Text    string `json:"text"`
		Payload string `json:"payload"`
	} `json:"button"`
	Errors []wireError `json:"errors"`
}

type wireText struct {
	Body string `json:"body"`
}

type wireMedia struct {
	ID       string `json:"id"`
	MIMEType string `json:"mime_type"`
	SHA256   string `json:"sha256"`
	Caption  string `json:"caption"`
	Filename string `json:"filename"`
	Voice    bool   `json:"voice"`
}

// wireStatus is one status of a message we sent.
type wireStatus struct {
	ID              string      `json:"id"` // wamid of our message
	Status          string      `json:"status"`
	Timestamp       string      `json:"timestamp"`
	RecipientID     string      `json:"recipient_id"`      // wa_id, when Meta shares it
	RecipientUserID string      `json:"recipient_user_id"` // BSUID
	RecipientType   string      `json:"recipient_type"`    // "group" for group messages
	BizOpaque       string      `json:"biz_opaque_callback_data"`
	Errors          []wireError `json:"errors"`
}

// wireError is an error in a webhook (statuses[].errors, value.errors).
type wireError struct {
	Code    int    `json:"code"`
	Title   string `json:"title"`
	Message string `json:"message"`
}

// sendRequest is the body of POST /{phone-number-id}/messages.
type sendRequest struct {
	MessagingProduct string        `json:"messaging_product"` // "whatsapp"
	RecipientType    string        `json:"recipient_type"`    // "individual"
	To               string        `json:"to,omitempty"`      // wa_id
	Recipient        string        `json:"recipient,omitempty"`
	Type             string        `json:"type"`
	Text             *sendText     `json:"text,omitempty"`
	Document         *sendDocument `json:"document,omitempty"`
	Image            *sendImage    `json:"image,omitempty"`
	Audio            *sendAudio    `json:"audio,omitempty"`
	Video            *sendImage    `json:"video,omitempty"`
	Template         *sendTemplate `json:"template,omitempty"`
	BizOpaque        string        `json:"biz_opaque_callback_data,omitempty"`
}

type sendText struct {
	Body       string `json:"body"`
	PreviewURL bool   `json:"preview_url"`
}

type sendDocument struct {
	ID       string `json:"id"`
	Filename string `json:"filename,omitempty"`
	Caption  string `json:"caption,omitempty"`
}

// sendImage is a photo or a video message.
type sendImage struct {
	ID      string `json:"id"`
	Caption string `json:"caption,omitempty"`
}

// sendAudio is an audio message: it takes no caption.
type sendAudio struct {
	ID string `json:"id"`
}

type sendTemplate struct {
	Name     string `json:"name"`
	Language struct {
		Code string `json:"code"`
	} `json:"language"`
	Components []sendComponent `json:"components,omitempty"`
}

// sendComponent fills a part of a template: "body" with its {{1}}, {{2}}…
type sendComponent struct {
	Type       string          `json:"type"`
	Parameters []sendParameter `json:"parameters"`
}

type sendParameter struct {
	Type string `json:"type"` // "text"
	Text string `json:"text"`
}

// sendResponse answers a send.
type sendResponse struct {
	Messages []struct {
		ID string `json:"id"`
	} `json:"messages"`
}

// uploadResponse answers POST /{phone-number-id}/media.
type uploadResponse struct {
	ID string `json:"id"`
}

// graphErrorBody is the body of a failed Graph call.
type graphErrorBody struct {
	Error struct {
		Message   string `json:"message"`
		Type      string `json:"type"`
		Code      int    `json:"code"`
		Subcode   int    `json:"error_subcode"`
		UserTitle string `json:"error_user_title"`
		FBTraceID string `json:"fbtrace_id"`
	} `json:"error"`
}
