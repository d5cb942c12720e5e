package drafts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	openai "github.com/sashabaranov/go-openai"

	"github.com/switchboard/switchboard/bot"
)

// ErrModel is wrapped by errors from the model call after the last attempt.
// The messages hold status codes and attempt counts, never prompts, drafts or
// the provider's error bodies.
var ErrModel = errors.New("llm request failed")

// NoteObjected is the card note when the subject objected to AI drafting.
const NoteObjected = "AI off at the customer's request: please write the reply by hand."

// DefaultAzureAPIVersion is used when AzureOptions.APIVersion is empty.
const DefaultAzureAPIVersion = "2024-10-21"

// DefaultModel is used for api.openai.com when no model is named.
const DefaultModel = "gpt-4o-mini"

// maxCompletionTokens bounds the model's answer.
const maxCompletionTokens = 1200

// AzureOptions selects Azure OpenAI instead of an OpenAI-style endpoint.
type AzureOptions struct {
	Endpoint   string // "https://<resource>.openai.azure.com"
	Deployment string // the deployment name; requests go to /openai/deployments/<Deployment>/…
	APIVersion string // if empty, DefaultAzureAPIVersion
}

// Options configures a Drafter.
type Options struct {
	// Log receives status codes, attempts and durations only. If zero, logs
	// are discarded.
	Log zerolog.Logger
	// APIKey is the bearer token (the api-key header with Azure). It may be
	// empty for a local endpoint (Ollama) named by BaseURL.
	APIKey string
	// BaseURL is an OpenAI-compatible endpoint ending in /v1, such as
	// "http://localhost:11434/v1". If empty, api.openai.com.
	BaseURL string
	// Model is the model name. If empty: the Azure deployment, or
	// DefaultModel for api.openai.com; required with BaseURL.
	Model string
	// Azure, if set, talks to Azure OpenAI (BaseURL is then ignored).
	Azure *AzureOptions
	// AllowHTTPHost names hosts (comma separated) that BaseURL or the Azure
	// endpoint may reach over plain http besides this machine; see
	// CheckEndpoint. Empty: https only, except for loopback.
	AllowHTTPHost string
	// Profile is the business profile; required. SetProfile replaces it.
	Profile *Profile
	// Timeout bounds each HTTP attempt. If 0, 60 seconds.
	Timeout time.Duration
	// Attempts is how many times a request is tried on 429, 5xx and
	// transport failures. If 0, 3.
	Attempts int
	// MaxConcurrent bounds model calls in flight. If 0, 4.
	MaxConcurrent int
	// HistoryLimit is how many earlier messages go into the prompt. If 0, 10;
	// negative sends none.
	HistoryLimit int
	// MaxRetryWait caps a Retry-After or backoff wait. If 0, 30 seconds.
	MaxRetryWait time.Duration
	// HTTPClient sends the requests. If nil, a new http.Client.
	HTTPClient *http.Client
	// Now is the clock. If nil, time.Now.
	Now func() time.Time
	// Restricted, if set, is asked before any prompt is built; true means
	// the subject objected to AI processing (/stop) and nothing is sent. An
	// error fails the draft. The router checks this too; this is the
	// drafter's own gate.
	Restricted func(ctx context.Context, subject bot.SubjectID) (bool, error)
}

// String describes the options without the key.
func (o Options) String() string {
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
	return fmt.Sprintf("drafts.Options{target: %s, model: %s, key: %s}", target, o.Model, key)
}

// Drafter drafts replies through an OpenAI-compatible chat completions API.
// It is safe for concurrent use.
type Drafter struct {
	log          zerolog.Logger
	client       *openai.Client
	model        string
	profile      atomic.Pointer[Profile]
	sem          chan struct{}
	historyLimit int
	now          func() time.Time
	restricted   func(context.Context, bot.SubjectID) (bool, error)
	redactor     *redactor
	checks       *checks
	schema       json.RawMessage
	doer         *retryDoer
}

var _ bot.Drafter = (*Drafter)(nil)

// New validates opts and builds a Drafter. It does no I/O.
func New(opts Options) (*Drafter, error) {
	if opts.Profile == nil {
		return nil, errors.New("drafts: a business profile is required")
	}
	if err := opts.Profile.Validate(); err != nil {
		return nil, fmt.Errorf("drafts: %w", err)
	}
	if opts.Timeout < 0 || opts.Attempts < 0 || opts.Attempts > 10 || opts.MaxConcurrent < 0 || opts.MaxConcurrent > 256 ||
		opts.HistoryLimit > 100 || opts.MaxRetryWait < 0 {
		return nil, errors.New("drafts: Timeout, Attempts (≤10), MaxConcurrent (≤256), HistoryLimit (≤100) or MaxRetryWait out of range")
	}
	d := &Drafter{
		log:          opts.Log,
		historyLimit: opts.HistoryLimit,
		now:          opts.Now,
		restricted:   opts.Restricted,
		redactor:     newRedactor(),
		checks:       newChecks(),
		schema:       responseSchema(),
	}
	if d.now == nil {
		d.now = time.Now
	}
	switch {
	case d.historyLimit == 0:
		d.historyLimit = 10
	case d.historyLimit < 0:
		d.historyLimit = 0
	}
	timeout, attempts, conc, maxWait := opts.Timeout, opts.Attempts, opts.MaxConcurrent, opts.MaxRetryWait
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	if attempts == 0 {
		attempts = 3
	}
	if conc == 0 {
		conc = 4
	}
	if maxWait == 0 {
		maxWait = 30 * time.Second
	}
	d.sem = make(chan struct{}, conc)
	var base openai.HTTPDoer = opts.HTTPClient
	if opts.HTTPClient == nil {
		base = &http.Client{}
	}
	d.doer = &retryDoer{base: base, attempts: attempts, timeout: timeout, baseDelay: 500 * time.Millisecond,
		maxWait: maxWait, now: d.now, sleep: sleepCtx, storeFalse: true}

	var cfg openai.ClientConfig
	if az := opts.Azure; az != nil {
		if err := CheckEndpoint(az.Endpoint, opts.AllowHTTPHost); err != nil {
			return nil, fmt.Errorf("drafts: azure endpoint: %w", err)
		}
		if az.Deployment == "" || strings.ContainsAny(az.Deployment, "/?#% ") {
			return nil, errors.New("drafts: azure deployment is required and is a plain name")
		}
		if opts.APIKey == "" {
			return nil, errors.New("drafts: azure needs an API key")
		}
		cfg = openai.DefaultAzureConfig(opts.APIKey, az.Endpoint)
		cfg.APIVersion = az.APIVersion
		if cfg.APIVersion == "" {
			cfg.APIVersion = DefaultAzureAPIVersion
		}
		// store:false only where the API version defines the field; older
		// versions refuse unknown fields, and store nothing without it.
		d.doer.storeFalse = azureHasStore(cfg.APIVersion)
		dep := az.Deployment
		cfg.AzureModelMapperFunc = func(string) string { return dep }
		d.model = opts.Model
		if d.model == "" {
			d.model = dep
		}
	} else {
		cfg = openai.DefaultConfig(opts.APIKey)
		d.model = opts.Model
		if opts.BaseURL != "" {
			if err := CheckEndpoint(opts.BaseURL, opts.AllowHTTPHost); err != nil {
				return nil, fmt.Errorf("drafts: base URL: %w", err)
			}
			cfg.BaseURL = strings.TrimRight(opts.BaseURL, "/")
			if d.model == "" {
				return nil, errors.New("drafts: a model name is required with a base URL")
			}
		} else {
			if opts.APIKey == "" {
				return nil, errors.New("drafts: an API key is required for api.openai.com")
			}
			if d.model == "" {
				d.model = DefaultModel
			}
		}
	}
	cfg.HTTPClient = d.doer
	d.client = openai.NewClientWithConfig(cfg)
	p := opts.Profile.clone()
	d.profile.Store(&p)
	return d, nil
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errors.New("want an http or https URL")
	}
	return nil
}

// SetProfile replaces the business profile for later drafts.
func (d *Drafter) SetProfile(p Profile) error {
	if err := p.Validate(); err != nil {
		return fmt.Errorf("set profile: %w", err)
	}
	p = p.clone()
	d.profile.Store(&p)
	return nil
}

// Profile returns a copy of the current business profile.
func (d *Drafter) Profile() Profile { return d.profile.Load().clone() }

// Draft asks the model for a reply to req.Message. It returns an error only
// when drafting failed after its retries (the router marks the draft
// failed); a subject who objected gets a Manual result and nothing is sent.
func (d *Drafter) Draft(ctx context.Context, req bot.DraftRequest) (bot.DraftResult, error) {
	log := d.log.With().Str("subject", string(req.Subject)).Int64("message", req.Message.ID).Logger()
	if d.restricted != nil {
		objected, err := d.restricted(ctx, req.Subject)
		if err != nil {
			return bot.DraftResult{}, fmt.Errorf("draft: check objection: %w", err)
		}
		if objected {
			log.Info().Msg("draft skipped: the subject objected to AI")
			return bot.DraftResult{Manual: true, Note: NoteObjected}, nil
		}
	}
	p := d.profile.Load()
	pr := d.buildPrompt(p, req, d.now())

	waitStart := time.Now()
	select {
	case d.sem <- struct{}{}:
	case <-ctx.Done():
		return bot.DraftResult{}, fmt.Errorf("draft: wait for a model slot: %w", ctx.Err())
	}
	defer func() { <-d.sem }()
	start := time.Now()

	var lastErr error
	for call := 1; call <= 2; call++ {
		content, err := d.complete(ctx, pr, log, call)
		if err == nil {
			var out modelOutput
			if out, err = parseOutput(content); err == nil {
				res := d.judgeOutput(out, p, pr)
				log.Info().Str("intent", res.Intent).Int("flags", len(res.Flags)).Bool("quote", res.Quote != nil).
					Bool("needs_human", res.HumanReason != "").Int("call", call).
					Dur("queued", start.Sub(waitStart)).Dur("took", time.Since(start)).Msg("draft made")
				return res, nil
			}
		}
		lastErr = err
		// Only a malformed answer is worth a second call; the HTTP layer
		// already retried transient failures.
		if !errors.Is(err, ErrMalformedOutput) || ctx.Err() != nil {
			break
		}
		log.Warn().Int("call", call).Msg("llm answer malformed")
	}
	log.Warn().Dur("took", time.Since(start)).Msg("draft failed")
	return bot.DraftResult{}, fmt.Errorf("draft: %w", lastErr)
}

// complete makes one chat completion call (with the doer's retries) and
// returns the first choice's content.
func (d *Drafter) complete(ctx context.Context, pr *prompt, log zerolog.Logger, call int) (string, error) {
	msgs := make([]openai.ChatCompletionMessage, 0, 3)
	msgs = append(msgs, openai.ChatCompletionMessage{Role: openai.ChatMessageRoleSystem, Content: pr.system})
	if pr.staff != "" {
		msgs = append(msgs, openai.ChatCompletionMessage{Role: openai.ChatMessageRoleSystem, Content: pr.staff})
	}
	msgs = append(msgs, openai.ChatCompletionMessage{Role: openai.ChatMessageRoleUser, Content: pr.user})
	creq := openai.ChatCompletionRequest{
		Model:               d.model,
		Messages:            msgs,
		MaxCompletionTokens: maxCompletionTokens,
		ResponseFormat: &openai.ChatCompletionResponseFormat{
			Type: openai.ChatCompletionResponseFormatTypeJSONSchema,
			JSONSchema: &openai.ChatCompletionResponseFormatJSONSchema{
				Name: "draft_reply", Schema: d.schema, Strict: true,
			},
		},
		// No Tools, no User, no SafetyIdentifier, no Metadata: nothing that
		// identifies the customer. store:false is added by the doer.
	}
	ci := &callInfo{log: log.With().Int("call", call).Logger()}
	resp, err := d.client.CreateChatCompletion(withCallInfo(ctx, ci), creq)
	if err != nil {
		return "", safeError(err, ci.attempts)
	}
	if len(resp.Choices) == 0 {
		return "", fmt.Errorf("%w: no choice", ErrMalformedOutput)
	}
	ch := resp.Choices[0]
	switch {
	case ch.FinishReason == openai.FinishReasonContentFilter:
		return "", refused(fmt.Errorf("%w: stopped by the provider's content filter", ErrMalformedOutput))
	case ch.Message.Refusal != "":
		return "", refused(fmt.Errorf("%w: the model refused", ErrMalformedOutput))
	case ch.FinishReason == openai.FinishReasonLength:
		return "", fmt.Errorf("%w: answer cut at the token limit", ErrMalformedOutput)
	case len(ch.Message.ToolCalls) > 0:
		return "", fmt.Errorf("%w: tool call without tools", ErrMalformedOutput)
	}
	return ch.Message.Content, nil
}

// refused marks a model's refusal for the card (bot.FailRefused).
func refused(err error) error { return &bot.DraftError{Failure: bot.FailRefused, Err: err} }

// statusFailure is the card's category for an HTTP status from the endpoint.
func statusFailure(status int) bot.DraftFailure {
	switch {
	case status == 401 || status == 403 || status == 404:
		return bot.FailNotConfigured // key, deployment or model name
	case status == 408 || status == 504:
		return bot.FailTimeout
	case status == 429 || status >= 500:
		return bot.FailUnreachable
	}
	return bot.FailOther
}

// safeError turns a go-openai error into one that holds no body text:
// APIError.Message and RequestError.Body can echo the prompt. It names the
// failure's category for the card (bot.DraftError).
func safeError(err error, attempts int) error {
	var apiErr *openai.APIError
	if errors.As(err, &apiErr) {
		return &bot.DraftError{Failure: statusFailure(apiErr.HTTPStatusCode),
			Err: fmt.Errorf("%w: http status %d after %d attempts", ErrModel, apiErr.HTTPStatusCode, attempts)}
	}
	var reqErr *openai.RequestError
	if errors.As(err, &reqErr) {
		return &bot.DraftError{Failure: statusFailure(reqErr.HTTPStatusCode),
			Err: fmt.Errorf("%w: http status %d after %d attempts", ErrModel, reqErr.HTTPStatusCode, attempts)}
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	if errors.As(err, &syn) || errors.As(err, &typ) {
		return fmt.Errorf("%w: the response is not chat completion JSON", ErrMalformedOutput)
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w: %w after %d attempts", ErrModel, context.DeadlineExceeded, attempts)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%w: %w", ErrModel, context.Canceled)
	case errors.Is(err, openai.ErrChatCompletionInvalidModel):
		return &bot.DraftError{Failure: bot.FailNotConfigured, Err: fmt.Errorf("%w: the model is not a chat model", ErrModel)}
	}
	kind := errKind(err)
	f := bot.FailUnreachable
	if kind == "timeout" {
		f = bot.FailTimeout
	}
	return &bot.DraftError{Failure: f, Err: fmt.Errorf("%w: %s failure after %d attempts", ErrModel, kind, attempts)}
}

// Configured reports whether the environment names an LLM endpoint. When it
// is false the bot uses bot.ManualDrafter and never shows an invented draft.
func Configured(getenv func(string) string) bool {
	for _, k := range []string{"OPENAI_API_KEY", "OPENAI_API_KEY_FILE", "OPENAI_BASE_URL", "AZURE_OPENAI_ENDPOINT"} {
		if strings.TrimSpace(getenv(k)) != "" {
			return true
		}
	}
	return false
}

// OptionsFromEnv reads OPENAI_API_KEY (or OPENAI_API_KEY_FILE),
// OPENAI_BASE_URL, OPENAI_MODEL, SWITCHBOARD_LLM_HTTP_HOST and, for Azure,
// AZURE_OPENAI_ENDPOINT, AZURE_OPENAI_DEPLOYMENT, AZURE_OPENAI_API_VERSION
// (AZURE_OPENAI_API_KEY is accepted as the key). The caller sets Log and
// Profile. Errors never hold the key. A plain-http endpoint on another
// machine is refused by New (and by cmd/switchboard's config check), not here.
func OptionsFromEnv(getenv func(string) string) (Options, error) {
	env := func(k string) string { return strings.TrimSpace(getenv(k)) }
	var o Options
	o.APIKey = env("OPENAI_API_KEY")
	if f := env("OPENAI_API_KEY_FILE"); f != "" {
		if o.APIKey != "" {
			return Options{}, errors.New("llm env: set OPENAI_API_KEY or OPENAI_API_KEY_FILE, not both")
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return Options{}, fmt.Errorf("llm env: read OPENAI_API_KEY_FILE: %w", err)
		}
		o.APIKey = strings.TrimSpace(string(b))
		if o.APIKey == "" {
			return Options{}, errors.New("llm env: OPENAI_API_KEY_FILE is empty")
		}
	}
	o.BaseURL = env("OPENAI_BASE_URL")
	o.Model = env("OPENAI_MODEL")
	o.AllowHTTPHost = env(EnvHTTPHost)
	if ep := env("AZURE_OPENAI_ENDPOINT"); ep != "" {
		o.Azure = &AzureOptions{Endpoint: ep, Deployment: env("AZURE_OPENAI_DEPLOYMENT"), APIVersion: env("AZURE_OPENAI_API_VERSION")}
		if o.Azure.Deployment == "" {
			return Options{}, errors.New("llm env: AZURE_OPENAI_DEPLOYMENT is required with AZURE_OPENAI_ENDPOINT")
		}
		if o.APIKey == "" {
			o.APIKey = env("AZURE_OPENAI_API_KEY")
		}
		if o.APIKey == "" {
			return Options{}, errors.New("llm env: Azure OpenAI needs OPENAI_API_KEY, OPENAI_API_KEY_FILE or AZURE_OPENAI_API_KEY")
		}
		if err := checkURL(ep); err != nil {
			return Options{}, fmt.Errorf("llm env: AZURE_OPENAI_ENDPOINT: %w", err)
		}
		return o, nil
	}
	if o.BaseURL != "" {
		if err := checkURL(o.BaseURL); err != nil {
			return Options{}, fmt.Errorf("llm env: OPENAI_BASE_URL: %w", err)
		}
		if o.Model == "" {
			return Options{}, errors.New("llm env: OPENAI_MODEL is required with OPENAI_BASE_URL")
		}
		return o, nil
	}
	if o.APIKey == "" {
		return Options{}, errors.New("llm env: no LLM configured (OPENAI_API_KEY, OPENAI_BASE_URL or AZURE_OPENAI_ENDPOINT)")
	}
	if o.Model == "" {
		o.Model = DefaultModel
	}
	return o, nil
}
