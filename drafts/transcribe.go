package drafts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"
	openai "github.com/sashabaranov/go-openai"

	"github.com/switchboard/switchboard/bot"
)

// ErrRestricted is returned by Transcribe for a subject who objected to
// AI processing (/stop): nothing was sent. It is bot.ErrAIObjected.
var ErrRestricted = bot.ErrAIObjected

// ErrAudioType is returned by Transcribe for audio of a type the
// transcription endpoint does not take; nothing was sent.
var ErrAudioType = errors.New("audio type not transcribed")

// DefaultTranscribeModel is used when TranscriberOptions.Model is empty
// (and no Azure deployment is named).
const DefaultTranscribeModel = openai.Whisper1

// DefaultMaxAudioBytes is the largest audio sent: OpenAI's transcription
// endpoint takes files up to 25 MB.
const DefaultMaxAudioBytes = 25 << 20

// maxTranscript bounds the stored transcript, in bytes (about three hours
// of speech).
const maxTranscript = 256 << 10

// TranscriberOptions configures a Transcriber.
type TranscriberOptions struct {
	// Log receives subject ids, sizes, status codes, attempts and
	// durations only. If zero, logs are discarded.
	Log zerolog.Logger
	// APIKey is the bearer token (the api-key header with Azure); may be
	// empty for a local endpoint named by BaseURL.
	APIKey string
	// BaseURL is an OpenAI-compatible endpoint ending in /v1 (a self-hosted
	// Whisper server, say); requests go to BaseURL/audio/transcriptions.
	// If empty, api.openai.com.
	BaseURL string
	// Azure, if set, talks to an Azure OpenAI Whisper deployment (BaseURL
	// is then ignored).
	Azure *AzureOptions
	// Model is the transcription model. If empty, the Azure deployment or
	// DefaultTranscribeModel ("whisper-1").
	Model string
	// Language is an optional ISO-639-1 hint ("en"); it says nothing about
	// the person. If empty, the model detects the language.
	Language string
	// Timeout bounds each HTTP attempt. If 0, 2 minutes.
	Timeout time.Duration
	// Attempts is how many times a request is tried on 429, 5xx and
	// transport failures. If 0, 3.
	Attempts int
	// MaxConcurrent bounds transcriptions in flight. If 0, 2.
	MaxConcurrent int
	// MaxBytes is the largest audio sent. If 0, DefaultMaxAudioBytes.
	MaxBytes int64
	// MaxRetryWait caps a Retry-After or backoff wait. If 0, 30 seconds.
	MaxRetryWait time.Duration
	// HTTPClient sends the requests. If nil, a new http.Client.
	HTTPClient *http.Client
	// Now is the clock. If nil, time.Now.
	Now func() time.Time
	// Restricted is asked before anything is sent; true means the subject
	// objected to AI processing (/stop) and Transcribe returns
	// ErrRestricted. Required: a transcriber without this gate is refused.
	Restricted func(ctx context.Context, subject bot.SubjectID) (bool, error)
}

// TranscriberOptionsFrom derives transcriber options from a drafter's (the
// same endpoint, key, client and objection gate) with the given model.
func TranscriberOptionsFrom(o Options, model string) TranscriberOptions {
	return TranscriberOptions{Log: o.Log, APIKey: o.APIKey, BaseURL: o.BaseURL, Azure: o.Azure, Model: model,
		Attempts: o.Attempts, MaxRetryWait: o.MaxRetryWait, HTTPClient: o.HTTPClient, Now: o.Now, Restricted: o.Restricted}
}

// String describes the options without the key.
func (o TranscriberOptions) String() string {
	target := o.BaseURL
	if o.Azure != nil {
		target = "azure:" + o.Azure.Endpoint + "/" + o.Azure.Deployment
	}
	if target == "" {
		target = "api.openai.com"
	}
	key := "none"
	if o.APIKey != "" {
		key = "set"
	}
	return fmt.Sprintf("drafts.TranscriberOptions{target: %s, model: %s, key: %s}", target, o.Model, key)
}

// Transcriber turns voice notes into text through an OpenAI-compatible
// /audio/transcriptions endpoint (go-openai's CreateTranscription). The
// request carries the audio, the model and, if configured, a language
// hint: no prompt, no name, no number, and a generic file name
// ("voice.ogg"). It is safe for concurrent use.
type Transcriber struct {
	log        zerolog.Logger
	client     *openai.Client
	model      string
	language   string
	maxBytes   int64
	sem        chan struct{}
	restricted func(context.Context, bot.SubjectID) (bool, error)
}

// NewTranscriber validates opts and builds a Transcriber. It does no I/O.
func NewTranscriber(opts TranscriberOptions) (*Transcriber, error) {
	if opts.Restricted == nil {
		return nil, errors.New("drafts: a transcriber needs the objection gate (Restricted)")
	}
	if opts.Timeout < 0 || opts.Attempts < 0 || opts.Attempts > 10 || opts.MaxConcurrent < 0 || opts.MaxConcurrent > 64 ||
		opts.MaxBytes < 0 || opts.MaxRetryWait < 0 {
		return nil, errors.New("drafts: transcriber Timeout, Attempts (≤10), MaxConcurrent (≤64), MaxBytes or MaxRetryWait out of range")
	}
	if l := opts.Language; l != "" && (len(l) < 2 || len(l) > 3 || strings.ToLower(l) != l || strings.ContainsFunc(l, func(r rune) bool { return r < 'a' || r > 'z' })) {
		return nil, errors.New("drafts: transcriber Language must be an ISO-639-1 code such as \"en\"")
	}
	t := &Transcriber{log: opts.Log, language: opts.Language, maxBytes: opts.MaxBytes, restricted: opts.Restricted}
	if t.maxBytes == 0 {
		t.maxBytes = DefaultMaxAudioBytes
	}
	timeout, attempts, conc, maxWait := opts.Timeout, opts.Attempts, opts.MaxConcurrent, opts.MaxRetryWait
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	if attempts == 0 {
		attempts = 3
	}
	if conc == 0 {
		conc = 2
	}
	if maxWait == 0 {
		maxWait = 30 * time.Second
	}
	t.sem = make(chan struct{}, conc)
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	var base openai.HTTPDoer = opts.HTTPClient
	if opts.HTTPClient == nil {
		base = &http.Client{}
	}
	doer := &retryDoer{base: base, attempts: attempts, timeout: timeout, baseDelay: 500 * time.Millisecond,
		maxWait: maxWait, now: now, sleep: sleepCtx, maxBody: t.maxBytes + 64<<10}

	var cfg openai.ClientConfig
	if az := opts.Azure; az != nil {
		if err := checkURL(az.Endpoint); err != nil {
			return nil, fmt.Errorf("drafts: transcriber azure endpoint: %w", err)
		}
		if az.Deployment == "" || strings.ContainsAny(az.Deployment, "/?#% ") {
			return nil, errors.New("drafts: transcriber azure deployment is required and is a plain name")
		}
		if opts.APIKey == "" {
			return nil, errors.New("drafts: azure needs an API key")
		}
		cfg = openai.DefaultAzureConfig(opts.APIKey, az.Endpoint)
		cfg.APIVersion = az.APIVersion
		if cfg.APIVersion == "" {
			cfg.APIVersion = DefaultAzureAPIVersion
		}
		dep := az.Deployment
		cfg.AzureModelMapperFunc = func(string) string { return dep }
		t.model = opts.Model
		if t.model == "" {
			t.model = dep
		}
	} else {
		cfg = openai.DefaultConfig(opts.APIKey)
		if opts.BaseURL != "" {
			if err := checkURL(opts.BaseURL); err != nil {
				return nil, fmt.Errorf("drafts: transcriber base URL: %w", err)
			}
			cfg.BaseURL = strings.TrimRight(opts.BaseURL, "/")
		} else if opts.APIKey == "" {
			return nil, errors.New("drafts: an API key is required for api.openai.com")
		}
		t.model = opts.Model
		if t.model == "" {
			t.model = DefaultTranscribeModel
		}
	}
	cfg.HTTPClient = doer
	t.client = openai.NewClientWithConfig(cfg)
	return t, nil
}

// audioExts are the audio types the endpoint takes, with the extension of
// the generic file name each is sent under (the endpoint reads the format
// from it).
var audioExts = map[string]string{
	"audio/ogg": "ogg", "application/ogg": "ogg", "audio/opus": "ogg",
	"audio/mpeg": "mp3", "audio/mp3": "mp3",
	"audio/mp4": "m4a", "audio/m4a": "m4a", "audio/x-m4a": "m4a", "video/mp4": "mp4",
	"audio/wave": "wav", "audio/wav": "wav", "audio/x-wav": "wav",
	"audio/webm": "webm", "video/webm": "webm", "audio/flac": "flac", "audio/x-flac": "flac",
}

// Transcribe returns the text spoken in audio, a voice note or audio file
// of subject, whose checked content type is mimeType. It asks the
// objection gate first: a subject who said /stop gets ErrRestricted and
// nothing is sent. Audio over the size cap is bot.ErrTooLarge, a type the
// endpoint does not take ErrAudioType, both without a request. Errors of
// the call wrap ErrModel (or ErrMalformedOutput) and hold status codes and
// attempt counts, never the endpoint's error text. Silence gives "".
func (t *Transcriber) Transcribe(ctx context.Context, subject bot.SubjectID, mimeType string, audio []byte) (string, error) {
	log := t.log.With().Str("subject", string(subject)).Int("bytes", len(audio)).Logger()
	objected, err := t.restricted(ctx, subject)
	if err != nil {
		return "", fmt.Errorf("transcribe: check objection: %w", err)
	}
	if objected {
		log.Info().Msg("transcription skipped: the subject objected to AI")
		return "", ErrRestricted
	}
	switch {
	case len(audio) == 0:
		return "", errors.New("transcribe: no audio")
	case int64(len(audio)) > t.maxBytes:
		return "", fmt.Errorf("transcribe: %d bytes over the %d-byte cap: %w", len(audio), t.maxBytes, bot.ErrTooLarge)
	}
	mt, _, err := mime.ParseMediaType(mimeType)
	if err != nil {
		mt = mimeType
	}
	ext, ok := audioExts[strings.ToLower(mt)]
	if !ok {
		return "", fmt.Errorf("transcribe: %s: %w", mt, ErrAudioType)
	}
	select {
	case t.sem <- struct{}{}:
	case <-ctx.Done():
		return "", fmt.Errorf("transcribe: wait for a slot: %w", ctx.Err())
	}
	defer func() { <-t.sem }()
	start := time.Now()
	ci := &callInfo{log: log}
	resp, err := t.client.CreateTranscription(withCallInfo(ctx, ci), openai.AudioRequest{
		Model:    t.model,
		FilePath: "voice." + ext, // the form's file name: generic, never the sender's
		Reader:   bytes.NewReader(audio),
		Language: t.language,
		Format:   openai.AudioResponseFormatJSON,
		// No Prompt: a prompt would be the place a name or a previous
		// message could leak to the provider.
	})
	if err != nil {
		log.Warn().Dur("took", time.Since(start)).Msg("transcription failed")
		return "", fmt.Errorf("transcribe: %w", safeError(err, ci.attempts))
	}
	text := strings.TrimSpace(resp.Text)
	if len(text) > maxTranscript {
		text = strings.ToValidUTF8(text[:maxTranscript], "")
	}
	if !utf8.ValidString(text) {
		text = strings.ToValidUTF8(text, "")
	}
	log.Info().Int("chars", utf8.RuneCountInString(text)).Dur("took", time.Since(start)).Msg("voice note transcribed")
	return text, nil
}
